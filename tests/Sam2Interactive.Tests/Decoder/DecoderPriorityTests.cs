using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>Clicks before automatic work: background leases wait for clicks and are preempted by them.</summary>
[TestFixture]
[Category("Fast")]
public sealed class DecoderPriorityTests
{
    private static readonly TimeSpan s_safety = TimeSpan.FromSeconds(30);

    [Test]
    public async Task EnterBackgroundAsync_NoClick_GrantedAtOnceUpToTheSlots()
    {
        using var priority = new DecoderPriority(2);
        using var a = await priority.EnterBackgroundAsync(CancellationToken.None);
        using var b = await priority.EnterBackgroundAsync(CancellationToken.None);
        var third = priority.EnterBackgroundAsync(CancellationToken.None).AsTask();
        Assert.That(third.IsCompleted, Is.False, "both slots are taken");
        b.Dispose();
        (await third.WaitAsync(s_safety)).Dispose();
        Assert.That(a.Token.IsCancellationRequested, Is.False);
    }

    [Test]
    public async Task EnterInteractive_WhileBackgroundRuns_PreemptsItsToken()
    {
        using var priority = new DecoderPriority(2);
        using var background = await priority.EnterBackgroundAsync(CancellationToken.None);
        using (priority.EnterInteractive())
        {
            Assert.That(background.Token.IsCancellationRequested, Is.True);
            Assert.That(priority.Preemptions, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task EnterBackgroundAsync_DuringClick_WaitsUntilTheLastNestedSectionCloses()
    {
        using var priority = new DecoderPriority(2);
        var outer = priority.EnterInteractive();
        var inner = priority.EnterInteractive();
        var waiting = priority.EnterBackgroundAsync(CancellationToken.None).AsTask();
        var idle = priority.WhenInteractiveIdleAsync(CancellationToken.None);
        inner.Dispose();
        Assert.That(waiting.IsCompleted || idle.IsCompleted, Is.False, "one section still open");
        outer.Dispose();
        using var lease = await waiting.WaitAsync(s_safety);
        await idle.WaitAsync(s_safety);
        Assert.That(lease.Token.IsCancellationRequested, Is.False, "a lease granted after the click is not preempted");
    }

    [Test]
    public async Task EnterBackgroundAsync_Cancelled_ReleasesItsSlot()
    {
        using var priority = new DecoderPriority(1);
        using var cancel = new CancellationTokenSource();
        var click = priority.EnterInteractive();
        var waiting = priority.EnterBackgroundAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
        click.Dispose();
        (await priority.EnterBackgroundAsync(CancellationToken.None).AsTask().WaitAsync(s_safety)).Dispose();
    }
}
