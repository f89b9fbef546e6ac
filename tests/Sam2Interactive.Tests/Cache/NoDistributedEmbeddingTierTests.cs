using NUnit.Framework;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Tests.Cache;

[TestFixture]
[Category("Fast")]
public sealed class NoDistributedEmbeddingTierTests
{
    private const string Hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    [Test]
    public async Task Members_Disabled_MissAcquireAndNoWait()
    {
        var tier = NoDistributedEmbeddingTier.Instance;
        using var original = TestEmbeddings.Create(seed: 1);
        await tier.PutAsync(Hash, original, CancellationToken.None);
        await tier.SetContentHashAsync("u", Hash, CancellationToken.None);
        var (outcome, lease) = await tier.TryAcquireEncodeLockAsync(Hash, CancellationToken.None);
        Assert.Multiple(async () =>
        {
            Assert.That(await tier.TryGetAsync(Hash, CancellationToken.None), Is.Null);
            Assert.That(await tier.TryGetContentHashAsync("u", CancellationToken.None), Is.Null);
            Assert.That(outcome, Is.EqualTo(LockOutcome.Acquired));
            Assert.That(lease, Is.Not.Null);
            Assert.That(await tier.WaitForLockReleaseAsync(Hash, TimeSpan.FromMinutes(1), CancellationToken.None), Is.True);
            Assert.That(tier.State, Is.EqualTo(DistributedTierState.Disabled));
        });
        await lease!.DisposeAsync();
    }

    [Test]
    public void TryGetAsync_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(async () => await NoDistributedEmbeddingTier.Instance.TryGetAsync(Hash, cts.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }
}
