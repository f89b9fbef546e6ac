using NUnit.Framework;
using Sam2Interactive.Encoder;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class EmbeddingPoolTests : EmbeddingLeakCheck
{
    [Test]
    public void Dispose_MoreEmbeddingsThanTheBound_KeepsOnlyUpToTheBound()
    {
        var pool = new EmbeddingPool(3);
        var embeddings = Enumerable.Range(0, 7).Select(_ => new ImageEmbedding(8, 8, pool)).ToList();
        Assert.That((pool.Rented, pool.Kept, pool.Allocated), Is.EqualTo((7, 0, 7L)));

        foreach (var e in embeddings) e.Dispose();

        Assert.That((pool.Rented, pool.Kept), Is.EqualTo((0, 3)), "four of the seven arrays went to the GC");
    }

    [Test]
    public void Rent_AfterAReturn_ReusesTheArrayInsteadOfAllocating()
    {
        var pool = new EmbeddingPool(2);
        using (var first = new ImageEmbedding(8, 8, pool)) first.ImageEmbed.Span[0] = 42f;

        using var second = new ImageEmbedding(8, 8, pool);

        Assert.That((pool.Allocated, pool.Rented, pool.Kept), Is.EqualTo((1L, 1, 0)));
        Assert.That(second.ImageEmbed.Span[0], Is.EqualTo(42f), "the same array (buffers are not cleared: the encoder overwrites every element)");
    }

    [Test]
    public void Dispose_ReturnWhileOthersInUseFillTheBound_ArrayDropped()
    {
        var pool = new EmbeddingPool(2);
        var a = new ImageEmbedding(8, 8, pool);
        var b = new ImageEmbedding(8, 8, pool);
        var c = new ImageEmbedding(8, 8, pool);

        a.Dispose(); // b and c in use: 2 + 0 is not below 2
        Assert.That(pool.Kept, Is.Zero);
        b.Dispose(); // c in use: 1 + 0 < 2
        c.Dispose(); // 0 + 1 < 2

        Assert.That((pool.Rented, pool.Kept), Is.EqualTo((0, 2)));
    }

    [Test]
    public void Tensors_OneArray_BackToBackWithoutOverlap()
    {
        using var e = new ImageEmbedding(8, 8, new EmbeddingPool(1));
        e.ImageEmbed.Span.Fill(1f);
        e.HighResFeats0.Span.Fill(2f);
        e.HighResFeats1.Span.Fill(3f);

        Assert.That((e.ImageEmbed.Length, e.HighResFeats0.Length, e.HighResFeats1.Length),
            Is.EqualTo((ImageEmbedding.ImageEmbedLength, ImageEmbedding.HighResFeats0Length, ImageEmbedding.HighResFeats1Length)));
        Assert.That((e.ImageEmbed.Span[^1], e.HighResFeats0.Span[0], e.HighResFeats0.Span[^1], e.HighResFeats1.Span[0]), Is.EqualTo((1f, 2f, 2f, 3f)));
    }

    [TestCase(0, 1, 2)] // below one embedding: the cache still keeps the newest
    [TestCase(384, 1, 25)]
    [TestCase(1024, 1, 65)]
    [TestCase(1024, 2, 66)]
    public void ArraysFor_CacheMegabytesAndConcurrency_EntriesPlusRunsInFlight(int cacheMb, int concurrency, int expected) =>
        Assert.That(EmbeddingPool.ArraysFor(cacheMb * (1L << 20), concurrency), Is.EqualTo(expected));
}
