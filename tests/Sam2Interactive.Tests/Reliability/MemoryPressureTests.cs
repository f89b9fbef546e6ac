using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// CACHE_MEMORY_MB=64 (four 16 MiB embeddings) and 500 distinct images prefetched and clicked through the real server:
/// tier 1 never holds more than its cap, pooled embedding buffers (<see cref="EmbeddingPool"/>: in use and kept) stay
/// bounded by the cap plus what is in flight, and at the end every live embedding is one the store holds.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MemoryPressureTests : EmbeddingLeakCheck
{
    private const int Images = 500;
    private const int Clickers = 4;
    private const long CapBytes = 64L << 20;
    private const int CapEmbeddings = (int)(CapBytes / (ImageEmbedding.TotalLength * sizeof(float)));

    [Test]
    public async Task PrefetchAndClick_FiveHundredImagesUnder64MiB_ByteCapHoldsAndBuffersReturn()
    {
        await using var ls = await LabelStudioStandIn.StartAsync();
        var images = Enumerable.Range(0, Images).Select(i => Traffic.AddImage(ls, "5", i)).ToList();
        await using var server = await TestServer.StartAsync(ls, new Dictionary<string, string?> { ["CACHE_MEMORY_MB"] = "64" });
        var prefetch = server.App.Services.GetRequiredService<PrefetchQueue>();
        var store = server.Store;
        var pool = server.App.Services.GetRequiredService<EmbeddingPool>();

        long maxBytes = 0, samples = 0;
        int maxCount = 0, maxLive = 0, maxPooled = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxBytes = Math.Max(maxBytes, store.Bytes);
                maxCount = Math.Max(maxCount, store.Count);
                maxLive = Math.Max(maxLive, ImageEmbedding.LiveCount - LiveAtStart);
                maxPooled = Math.Max(maxPooled, pool.Rented + pool.Kept);
                samples++;
                await Task.Delay(2);
            }
        });
        var clock = Stopwatch.StartNew();

        // 400 images as one import batch; the other 100 clicked by four annotators while the import runs.
        var uris = images.Take(400).Select(i => i.Path).ToList();
        var (status, _) = await server.PostAsync("/prefetch", JsonSerializer.Serialize(new { uris }));
        Assert.That((int)status, Is.EqualTo(202));
        var clicks = Enumerable.Range(0, Clickers).Select(c => Task.Run(async () =>
        {
            for (var i = 400 + c; i < Images; i += Clickers) await Traffic.ClickAndCheckAsync(server, images[i].Path, images[i].Scene);
        }));
        await Task.WhenAll(clicks);
        await Traffic.WaitForAsync(() => Task.FromResult(prefetch.Completed + prefetch.Failed >= 400 && prefetch.Depth == 0 && store.EncodesQueued == 0),
            TimeSpan.FromMinutes(5), "the import to drain");
        // Clicks on the first images again: all were evicted long ago, so each is fetched and encoded once more.
        for (var i = 0; i < 8; i++) await Traffic.ClickAndCheckAsync(server, images[i].Path, images[i].Scene);
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await sampler;

        TestContext.Out.WriteLine($"{Images} images + 8 re-clicks in {elapsed.TotalSeconds:F1} s; {samples} samples: max {maxBytes >> 20} MiB in tier 1 " +
            $"({maxCount} embeddings), max {maxLive} live embeddings; encoder runs {server.EncoderRuns}; prefetch failed {prefetch.Failed}");
        Assert.That(prefetch.Failed, Is.Zero);
        Assert.That(maxBytes, Is.LessThanOrEqualTo(CapBytes), "tier 1 never above CACHE_MEMORY_MB");
        Assert.That(maxCount, Is.EqualTo(CapEmbeddings), "the cap was reached");
        // In flight beyond the cap: one encoder run (ENCODER_CONCURRENCY=1), the prefetch worker's reference, one per clicker.
        Assert.That(maxLive, Is.LessThanOrEqualTo(CapEmbeddings + 1 + 1 + Clickers));
        Assert.That(pool.MaxArrays, Is.EqualTo(CapEmbeddings + 1), "the pool is sized by CACHE_MEMORY_MB and ENCODER_CONCURRENCY");
        Assert.That(maxPooled, Is.LessThanOrEqualTo(CapEmbeddings + 1 + 1 + Clickers), "arrays in use plus kept: never more than the live bound");
        Assert.That(server.EncoderRuns, Is.GreaterThanOrEqualTo(Images + 8), "every image encoded; evicted ones again");
        var settled = EmbeddingLeakCheck.WaitForLiveCount(LiveAtStart + store.Count, TimeSpan.FromSeconds(5));
        Assert.That(settled - LiveAtStart, Is.EqualTo(store.Count), "every live embedding is held by the store: no buffers outstanding");
        Assert.That(pool.Rented + pool.Kept, Is.LessThanOrEqualTo(pool.MaxArrays), "once nothing is in flight the pool holds at most the cache plus one run");
    }

    [Test]
    public async Task UploadAndSegment_TenImagesOneAtATimeUnder32MiB_PoolStaysWithinTheCacheAndReusesItsArrays()
    {
        await using var ls = await LabelStudioStandIn.StartAsync();
        await using var server = await TestServer.StartAsync(ls, new Dictionary<string, string?> { ["CACHE_MEMORY_MB"] = "32" });
        var pool = server.App.Services.GetRequiredService<EmbeddingPool>();
        var store = server.Store;
        Assert.That(pool.MaxArrays, Is.EqualTo(3), "two cached embeddings and one encoder run");

        for (var i = 0; i < 10; i++)
        {
            var scene = Scenes.Create(64 + i, 48);
            using var upload = new ByteArrayContent(scene.Encoded) { Headers = { ContentType = new("image/png") } };
            using var posted = await server.Http.PostAsync("/api/v1/images", upload);
            using var image = JsonDocument.Parse(await posted.Content.ReadAsStringAsync());
            Assert.That(posted.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK), image.RootElement.ToString());
            var blue = Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height));
            var (status, json) = await server.PostAsync($"/api/v1/images/{image.RootElement.GetProperty("image_id").GetString()}/segment",
                $$"""{"points":[[{{(int)blue.X}},{{(int)blue.Y}}]],"output":["coco_rle"]}""");
            json.Dispose();
            Assert.That(status, Is.EqualTo(System.Net.HttpStatusCode.OK));
            // The click releases its reference around the time its answer is sent: wait for that, then nothing is in flight.
            await Traffic.WaitForAsync(() => Task.FromResult(pool.Rented == store.Count), TimeSpan.FromSeconds(30), "the click to release its embedding");
            Assert.That(pool.Rented + pool.Kept, Is.LessThanOrEqualTo(pool.MaxArrays), $"image {i}");
        }

        Assert.That((server.EncoderRuns, store.Count), Is.EqualTo((10L, 2)));
        Assert.That(pool.Allocated, Is.LessThanOrEqualTo(pool.MaxArrays), "ten encodes and the warm-up reused the pool's arrays: no 16 MiB allocation per image");
    }
}
