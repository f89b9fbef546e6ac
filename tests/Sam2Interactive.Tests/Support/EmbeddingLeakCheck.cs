using NUnit.Framework;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// Base of fixtures whose tests own every embedding they create (no server or store kept across tests): each test must
/// leave <see cref="ImageEmbedding.LiveCount"/> (embeddings whose pooled buffers are outstanding) where it found it.
/// Runs after the derived fixture's own [TearDown], so servers disposed there are already gone.
/// </summary>
/// <remarks>Relies on the test project running fixtures one at a time (no assembly-level Parallelizable): the count is
/// process-wide. Work the test started but did not await (an encode finishing after the host stopped) gets
/// <see cref="Grace"/> to release its buffers before the check fails.</remarks>
public abstract class EmbeddingLeakCheck
{
    /// <summary>How long a late release may take after the test body and its teardown have finished.</summary>
    protected static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    private int _liveAtStart;

    /// <summary>Live embeddings when the test started.</summary>
    protected int LiveAtStart => _liveAtStart;

    [SetUp]
    public void RecordLiveEmbeddings() => _liveAtStart = ImageEmbedding.LiveCount;

    [TearDown]
    public void CheckNoEmbeddingLeaked()
    {
        // A failed test may leak by design of its failure; report only the first cause.
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed) return;
        var live = WaitForLiveCount(_liveAtStart, Grace);
        Assert.That(live, Is.EqualTo(_liveAtStart),
            $"ImageEmbedding.LiveCount is {live} after the test, {_liveAtStart} before: pooled embedding buffers leaked (or were released twice)");
    }

    /// <summary>Polls <see cref="ImageEmbedding.LiveCount"/> until it equals <paramref name="expected"/> or the time is up; returns the last value.</summary>
    public static int WaitForLiveCount(int expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        int live;
        while ((live = ImageEmbedding.LiveCount) != expected && DateTime.UtcNow < deadline) Thread.Sleep(20);
        return live;
    }
}
