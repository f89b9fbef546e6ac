using System.Buffers;
using System.Collections.Concurrent;
using NUnit.Framework;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Cache;

/// <summary>Tier 1 and in-process single-flight, with the real stand-in encoder doing the encoding.</summary>
[TestFixture]
[Category("Fast")]
public sealed class EmbeddingStoreTests : EmbeddingLeakCheck
{
    private Sam2Encoder _encoder = null!;
    private readonly ConcurrentDictionary<string, byte[]> _images = new();
    private int _fetches;

    [OneTimeSetUp]
    public void LoadEncoder()
    {
        _encoder = StandInModelSet.CreateEncoder(StandInFormat.SamExporter);
        for (var i = 0; i < 6; i++) _images[$"img{i}"] = Scenes.Create(64 + i, 48).Encoded;
        _images["copy-of-img0"] = _images["img0"];
    }

    [OneTimeTearDown]
    public void DisposeEncoder() => _encoder.Dispose();

    private static EmbeddingStore NewStore(long memoryMb = 1024, int encoders = 1) =>
        new(new CacheOptions { MemoryBytes = memoryMb << 20, EncoderConcurrency = encoders }, new CacheMetrics(null),
            new Lazy<IDistributedEmbeddingTier>(() => NoDistributedEmbeddingTier.Instance));

    private async Task<IMemoryOwner<byte>> Fetch(string uri)
    {
        Interlocked.Increment(ref _fetches);
        await Task.Yield();
        return new OwnedBytes(_images[uri]);
    }

    private ImageEmbedding Encode(ReadOnlyMemory<byte> bytes) => _encoder.EncodeImage(bytes.Span);

    private static Task<IMemoryOwner<byte>> Bytes(byte[] bytes) => Task.FromResult<IMemoryOwner<byte>>(new OwnedBytes(bytes));

    private Task<ImageEmbedding> Get(EmbeddingStore store, string uri, EncodePriority priority = EncodePriority.Click, Func<ReadOnlyMemory<byte>, ImageEmbedding>? encode = null) =>
        store.GetOrCreateAsync(uri, _ => Fetch(uri), encode ?? Encode, priority, CancellationToken.None);

    [Test]
    public async Task GetOrCreateAsync_EightConcurrentFirstClicks_OneFetchOneEncode()
    {
        using var store = NewStore();
        var runs = _encoder.Runs;
        _fetches = 0;

        var embeddings = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Get(store, "img1"))));

        Assert.That(_encoder.Runs - runs, Is.EqualTo(1));
        Assert.That(_fetches, Is.EqualTo(1));
        Assert.That(embeddings.Distinct().Count(), Is.EqualTo(1), "every click got the same buffers, no copy");
        foreach (var e in embeddings) e.Dispose();
    }

    [Test]
    public async Task GetOrCreateAsync_KnownUri_NoFetchNoEncode()
    {
        using var store = NewStore();
        (await Get(store, "img2")).Dispose();
        var runs = _encoder.Runs;
        _fetches = 0;

        using var again = await Get(store, "img2");

        Assert.That((_encoder.Runs - runs, _fetches), Is.EqualTo((0L, 0)));
        Assert.That(store.Contains("img2"), Is.True);
    }

    [Test]
    public async Task GetOrCreateAsync_SameBytesUnderTwoUris_EncodedOnce()
    {
        using var store = NewStore();
        var runs = _encoder.Runs;

        using var a = await Get(store, "img0");
        using var b = await Get(store, "copy-of-img0");

        Assert.That(_encoder.Runs - runs, Is.EqualTo(1));
        Assert.That(b, Is.SameAs(a));
    }

    [Test]
    public async Task GetOrCreateAsync_FetchFails_AllWaitersFailAndNothingIsCached()
    {
        using var store = NewStore();
        var attempts = 0;
        // The fetch fails only once all four callers have joined it: a fixed delay here let a slow test thread start the
        // fourth caller after the failure, which then (rightly) fetched again.
        var storageAnswers = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<IMemoryOwner<byte>> Failing(CancellationToken _)
        {
            Interlocked.Increment(ref attempts);
            await storageAnswers.Task;
            throw new IOException("storage down");
        }

        var waiters = Enumerable.Range(0, 4).Select(_ => store.GetOrCreateAsync("broken", Failing, Encode, EncodePriority.Click, CancellationToken.None)).ToArray();
        storageAnswers.SetResult();
        foreach (var w in waiters) await Assert.ThrowsAsync<IOException>(async () => await w);
        Assert.That(attempts, Is.EqualTo(1));

        // The failure is not remembered: the next click tries again and succeeds once storage is back.
        using var ok = await store.GetOrCreateAsync("broken", _ => Bytes(_images["img3"]), Encode, EncodePriority.Click, CancellationToken.None);
        Assert.That(ok.OriginalWidth, Is.EqualTo(67));
    }

    [Test]
    public async Task WhenIdleAsync_CallerGaveUpWhileEncoding_WaitsForTheRunToInsert()
    {
        using var store = NewStore();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ImageEmbedding Gated(ReadOnlyMemory<byte> bytes)
        {
            gate.Task.Wait();
            return Encode(bytes);
        }
        using var cts = new CancellationTokenSource();
        var abandoned = store.GetOrCreateAsync("img2", _ => Fetch("img2"), Gated, EncodePriority.Prefetch, cts.Token);
        await cts.CancelAsync();
        Assert.That(async () => await abandoned, Throws.InstanceOf<OperationCanceledException>());

        var idle = store.WhenIdleAsync(CancellationToken.None);
        await Task.Delay(50);
        Assert.That(idle.IsCompleted, Is.False, "the shared run is still encoding");
        gate.SetResult();
        await idle.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(store.Contains("img2"), Is.True, "the run finished and inserted its embedding");
    }

    [Test]
    public async Task GetOrCreateAsync_Miss_EncodesTheFetchedBufferWithoutCopyAndDisposesItOnce()
    {
        using var store = NewStore();
        var fetched = new OwnedBytes(_images["img5"]);
        byte[]? seen = null;
        ImageEmbedding Spy(ReadOnlyMemory<byte> bytes)
        {
            seen = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment) ? segment.Array : null;
            return Encode(bytes);
        }

        using (await store.GetOrCreateAsync("owned", _ => Task.FromResult<IMemoryOwner<byte>>(fetched), Spy, EncodePriority.Click, CancellationToken.None))
        {
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(seen, Is.SameAs(fetched.Array), "the encoder read the fetched buffer itself, not a copy");
            Assert.That(fetched.Disposals, Is.EqualTo(1), "the store disposed what it fetched, once");
        }
    }

    [Test]
    public async Task GetOrCreateAsync_SameBytesUnderSecondUri_SecondFetchDisposedAndNotEncoded()
    {
        using var store = NewStore();
        var runs = _encoder.Runs;
        (await Get(store, "img0")).Dispose();
        var second = new OwnedBytes(_images["copy-of-img0"]);

        using (await store.GetOrCreateAsync("copy-of-img0", _ => Task.FromResult<IMemoryOwner<byte>>(second), Encode, EncodePriority.Click, CancellationToken.None))
        {
        }

        Assert.That((_encoder.Runs - runs, second.Disposals), Is.EqualTo((1L, 1)));
    }

    [Test]
    public async Task GetOrCreateAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var store = NewStore();
        (await Get(store, "img3")).Dispose();
        store.Dispose();

        Assert.That(() => Get(store, "img3"), Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public async Task GetOrCreateAsync_BadImageBytes_ThrowsAndDoesNotPoison()
    {
        using var store = NewStore();
        await Assert.ThrowsAsync<ImageDecodeException>(() => store.GetOrCreateAsync("html", _ => Bytes("<html>oops</html>"u8.ToArray()), Encode, EncodePriority.Click, CancellationToken.None));
        Assert.That(store.Count, Is.Zero);
        using var ok = await store.GetOrCreateAsync("html", _ => Bytes(_images["img4"]), Encode, EncodePriority.Click, CancellationToken.None);
        Assert.That(store.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task GetOrCreateAsync_ByteCapOfTwoEmbeddings_EvictsLeastRecentlyUsedAndReturnsBuffers()
    {
        var live = ImageEmbedding.LiveCount;
        using (var store = NewStore(memoryMb: 32))
        {
            for (var i = 0; i < 6; i++) (await Get(store, $"img{i % 6}")).Dispose();
            Assert.That(store.Count, Is.EqualTo(2));
            Assert.That(store.Bytes, Is.LessThanOrEqualTo(32L << 20));
            Assert.That(ImageEmbedding.LiveCount - live, Is.EqualTo(2), "evicted embeddings gave their buffers back");
            Assert.That(store.Contains("img5"), Is.True);
            Assert.That(store.Contains("img1"), Is.False);
        }
        Assert.That(ImageEmbedding.LiveCount, Is.EqualTo(live));
    }

    [Test]
    public async Task GetOrCreateAsync_EvictedWhileInUse_HolderKeepsValidBuffers()
    {
        using var store = NewStore(memoryMb: 16);
        using var held = await Get(store, "img1");
        (await Get(store, "img2")).Dispose(); // evicts img1 from the store
        Assert.That(store.Contains("img1"), Is.False);
        Assert.That(held.ImageEmbed.Length, Is.EqualTo(ImageEmbedding.ImageEmbedLength), "the click's reference keeps the buffers");
    }

    [Test]
    public async Task GetOrCreateAsync_ClickWhilePrefetchesQueued_ClickEncodesFirstAndPromotesItsImage()
    {
        using var store = NewStore(encoders: 1);
        var order = new ConcurrentQueue<int>();
        var gate = new TaskCompletionSource();
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ImageEmbedding Tracking(ReadOnlyMemory<byte> bytes)
        {
            var e = Encode(bytes);
            order.Enqueue(e.OriginalWidth - 64);
            return e;
        }
        ImageEmbedding Gated(ReadOnlyMemory<byte> bytes)
        {
            holding.TrySetResult();
            gate.Task.Wait();
            return Tracking(bytes);
        }

        var running = Get(store, "img0", EncodePriority.Prefetch, Gated);       // holds the only encoder slot
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(10));                 // img0 is inside the encoder
        var prefetch1 = Get(store, "img1", EncodePriority.Prefetch, Tracking);  // queued first
        var prefetch2 = Get(store, "img2", EncodePriority.Prefetch, Tracking);  // queued second
        await WaitUntil(() => store.EncodesQueued == 2);
        var click = Get(store, "img3", EncodePriority.Click, Tracking);          // a click on another image
        var promoted = Get(store, "img2", EncodePriority.Click, Tracking);       // a click joins the queued prefetch of img2
        await WaitUntil(() => store.EncodesQueued == 3);
        gate.SetResult();

        foreach (var e in await Task.WhenAll(running, prefetch1, prefetch2, click, promoted)) e.Dispose();

        // img0 was running; then the click on img3 and the promoted img2 (both clicks, in arrival order); img1 last.
        Assert.That(order, Is.EqualTo(new[] { 0, 2, 3, 1 }).Or.EqualTo(new[] { 0, 3, 2, 1 }));
        Assert.That(order.Last(), Is.EqualTo(1));
    }

    [Test]
    public async Task GetOrCreateByContentAsync_SameBytesTwice_EncodedOnceSecondCachedBothDisposed()
    {
        using var store = NewStore();
        var runs = _encoder.Runs;
        var first = new OwnedBytes(_images["img1"]);
        var second = new OwnedBytes(_images["img1"].ToArray());

        var a = await store.GetOrCreateByContentAsync(first, Encode, EncodePriority.Click, CancellationToken.None);
        var b = await store.GetOrCreateByContentAsync(second, Encode, EncodePriority.Click, CancellationToken.None);
        using var ea = a.Embedding;
        using var eb = b.Embedding;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(_encoder.Runs - runs, Is.EqualTo(1));
            Assert.That((a.Cached, b.Cached), Is.EqualTo((false, true)));
            Assert.That(a.ContentHash, Is.EqualTo(b.ContentHash).And.EqualTo(EmbeddingStore.ContentHash(_images["img1"])));
            Assert.That(a.ContentHash, Does.Match("^[0-9a-f]{64}$"));
            Assert.That(eb, Is.SameAs(ea));
            Assert.That((first.Disposals, second.Disposals), Is.EqualTo((1, 1)));
        }
    }

    [Test]
    public async Task GetOrCreateByContentAsync_BytesKnownUnderAUri_SharesTheUrisEmbedding()
    {
        using var store = NewStore();
        using var byUri = await Get(store, "img2");
        var runs = _encoder.Runs;

        var byContent = await store.GetOrCreateByContentAsync(new OwnedBytes(_images["img2"]), Encode, EncodePriority.Click, CancellationToken.None);
        using var e = byContent.Embedding;

        Assert.That((_encoder.Runs - runs, byContent.Cached), Is.EqualTo((0L, true)));
        Assert.That(e, Is.SameAs(byUri));
    }

    [Test]
    public async Task GetOrCreateByContentAsync_ConcurrentWithUriFetchOfSameBytes_OneEncode()
    {
        using var store = NewStore();
        var runs = _encoder.Runs;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ImageEmbedding Gated(ReadOnlyMemory<byte> bytes)
        {
            inside.TrySetResult();
            gate.Task.Wait();
            return Encode(bytes);
        }
        var posted = new OwnedBytes(_images["img3"]);

        var content = store.GetOrCreateByContentAsync(posted, Gated, EncodePriority.Prefetch, CancellationToken.None);
        await inside.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var uri = Get(store, "img3");   // fetches the same bytes, then joins the running encode of that content
        gate.SetResult();

        using var a = (await content).Embedding;
        using var b = await uri;
        Assert.That(_encoder.Runs - runs, Is.EqualTo(1));
        Assert.That(b, Is.SameAs(a));
        Assert.That(posted.Disposals, Is.EqualTo(1));
    }

    [Test]
    public async Task GetOrCreateByContentAsync_CallerGivesUp_RunKeepsTheBytesUntilItEndsThenDisposesOnce()
    {
        using var store = NewStore();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var posted = new OwnedBytes(_images["img4"]);
        var sawBytes = 0;
        ImageEmbedding Gated(ReadOnlyMemory<byte> bytes)
        {
            inside.TrySetResult();
            gate.Task.Wait();
            sawBytes = bytes.Length;
            return Encode(bytes);
        }
        using var cts = new CancellationTokenSource();

        var call = store.GetOrCreateByContentAsync(posted, Gated, EncodePriority.Click, cts.Token);
        await inside.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        Assert.That(async () => await call, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(posted.Disposals, Is.Zero, "the encode run still reads the bytes");
        gate.SetResult();
        await store.WhenIdleAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That((posted.Disposals, sawBytes), Is.EqualTo((1, _images["img4"].Length)));
        Assert.That((await store.LocateAsync(EmbeddingStore.ContentHash(_images["img4"]), CancellationToken.None)).Holder, Is.EqualTo(EmbeddingHolder.Memory));
    }

    [Test]
    public async Task GetOrCreateByContentAsync_BadImageBytes_ThrowsDisposesAndDoesNotPoison()
    {
        using var store = NewStore();
        var bad = new OwnedBytes("<html>oops</html>"u8.ToArray());

        Assert.That(async () => await store.GetOrCreateByContentAsync(bad, Encode, EncodePriority.Click, CancellationToken.None), Throws.InstanceOf<ImageDecodeException>());

        Assert.That((bad.Disposals, store.Count), Is.EqualTo((1, 0)));
        Assert.That(await store.TryGetAsync(EmbeddingStore.ContentHash("<html>oops</html>"u8), EncodePriority.Click, CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task TryGetAsync_UnknownThenHeld_NullThenTheEmbeddingWithoutEncoding()
    {
        using var store = NewStore();
        var hash = EmbeddingStore.ContentHash(_images["img5"]);
        Assert.That(await store.TryGetAsync(hash, EncodePriority.Click, CancellationToken.None), Is.Null);
        (await store.GetOrCreateByContentAsync(new OwnedBytes(_images["img5"]), Encode, EncodePriority.Click, CancellationToken.None)).Embedding.Dispose();
        var runs = _encoder.Runs;

        using var held = await store.TryGetAsync(hash, EncodePriority.Click, CancellationToken.None);

        Assert.That(held, Is.Not.Null);
        Assert.That((held!.OriginalWidth, _encoder.Runs - runs), Is.EqualTo((69, 0L)));
    }

    [Test]
    public async Task TryGetAsync_WhileEncoding_WaitsForTheRun()
    {
        using var store = NewStore();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ImageEmbedding Gated(ReadOnlyMemory<byte> bytes)
        {
            inside.TrySetResult();
            gate.Task.Wait();
            return Encode(bytes);
        }
        var hash = EmbeddingStore.ContentHash(_images["img0"]);
        var posting = store.GetOrCreateByContentAsync(new OwnedBytes(_images["img0"]), Gated, EncodePriority.Prefetch, CancellationToken.None);
        await inside.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var lookup = store.TryGetAsync(hash, EncodePriority.Click, CancellationToken.None);
        Assert.That((await store.LocateAsync(hash, CancellationToken.None)).Holder, Is.EqualTo(EmbeddingHolder.Encoding));
        gate.SetResult();

        using var found = await lookup;
        using var posted = (await posting).Embedding;
        Assert.That(found, Is.SameAs(posted));
    }

    [Test]
    public async Task LocateAsync_NotHeldThenHeld_NoneThenMemoryWithSize()
    {
        using var store = NewStore();
        var hash = EmbeddingStore.ContentHash(_images["img2"]);
        Assert.That(await store.LocateAsync(hash, CancellationToken.None), Is.EqualTo(new EmbeddingLocation(EmbeddingHolder.None, 0, 0, 0)));
        (await Get(store, "img2")).Dispose();

        var location = await store.LocateAsync(hash, CancellationToken.None);

        Assert.That(location, Is.EqualTo(new EmbeddingLocation(EmbeddingHolder.Memory, 16L << 20, 66, 48)));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++) await Task.Delay(10);
        Assert.That(condition(), Is.True, "condition not reached in 4 s");
    }
}
