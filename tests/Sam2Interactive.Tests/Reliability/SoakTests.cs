using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// Bounded load and soak on loopback: N simulated annotators clicking their own cached images (one click per
/// <see cref="s_thinkTime"/> each, as people do) for T seconds while M tasks are imported through the webhook and encoded.
/// Zero failed clicks, p50/p99 printed and sanity-bounded, RSS sampled and steady, embedding buffers back to the store's
/// count at the end and to the baseline after dispose. CI runs the short form; <c>SAM2I_SOAK=full</c> runs 16 annotators
/// for 3 minutes with 200 imported tasks (docs/reliability.md).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SoakTests : EmbeddingLeakCheck
{
    private static readonly TimeSpan s_thinkTime = TimeSpan.FromMilliseconds(100);

    private sealed record Profile(string Name, int Annotators, TimeSpan Duration, int Tasks);

    private static Profile Current => string.Equals(Environment.GetEnvironmentVariable("SAM2I_SOAK"), "full", StringComparison.OrdinalIgnoreCase)
        ? new Profile("full", 16, TimeSpan.FromMinutes(3), 200)
        : new Profile("short", 8, TimeSpan.FromSeconds(20), 50);

    [Test]
    public async Task Predict_AnnotatorsClickWhileTasksImport_NoFailedClickSteadyMemoryNoLeak()
    {
        var profile = Current;
        await using var ls = await LabelStudioStandIn.StartAsync();
        var own = Enumerable.Range(0, profile.Annotators).Select(i => Traffic.AddImage(ls, "3", i, 160, 120)).ToList();
        var imports = Enumerable.Range(0, profile.Tasks).Select(i => Traffic.AddImage(ls, "4", i)).ToList();
        // Room for every annotator's image plus eight imports: imports cycle through the rest, annotators' images stay hot.
        var cacheMb = (profile.Annotators + 8) * 16;
        await using var server = await TestServer.StartAsync(ls, new Dictionary<string, string?> { ["CACHE_MEMORY_MB"] = cacheMb.ToString(CultureInfo.InvariantCulture) });
        var prefetch = server.App.Services.GetRequiredService<PrefetchQueue>();

        var (warm, _) = await server.PostAsync("/prefetch", JsonSerializer.Serialize(new { uris = own.Select(o => o.Path) }));
        Assert.That((int)warm, Is.EqualTo(202));
        await Traffic.WaitForAsync(() => Task.FromResult(own.All(o => server.HasEmbedding(o.Path))), TimeSpan.FromSeconds(60), "the annotators' images to be cached");
        var completedBefore = prefetch.Completed;

        using var process = Process.GetCurrentProcess();
        var rss = new List<(TimeSpan At, long Bytes)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                process.Refresh();
                lock (rss) rss.Add((clock.Elapsed, process.WorkingSet64));
                await Task.Delay(250);
            }
        });

        // The import arrives at the start, in webhook batches of 25 as Label Studio sends a large import.
        var importer = Task.Run(async () =>
        {
            foreach (var batch in imports.Select((img, i) => (Id: 1000L + i, img.Path)).Chunk(25))
            {
                var (status, _) = await server.PostAsync("/webhook", LabelStudioBodies.Webhook(batch.Select(b => (b.Id, b.Path)).ToArray()));
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
            }
        });
        var latencies = new List<double>();
        var afterImport = new List<double>();
        var failures = new List<string>();
        var annotators = own.Select(o => Task.Run(async () =>
        {
            while (clock.Elapsed < profile.Duration)
            {
                var importing = prefetch.Completed + prefetch.Failed < completedBefore + profile.Tasks;
                var (status, json, elapsed) = await Traffic.ClickAsync(server, o.Path, o.Scene);
                using (json)
                {
                    var ok = status == HttpStatusCode.OK && json.RootElement.GetProperty("results")[0].GetProperty("result").GetArrayLength() == 1;
                    lock (latencies)
                    {
                        if (!ok) failures.Add($"{(int)status}: {json.RootElement}");
                        else latencies.Add(elapsed.TotalMilliseconds);
                        if (ok && !importing) afterImport.Add(elapsed.TotalMilliseconds);
                    }
                }
                await Task.Delay(s_thinkTime);
            }
        })).ToList();
        await Task.WhenAll(annotators);
        await importer;
        await Traffic.WaitForAsync(() => Task.FromResult(prefetch.Depth == 0 && prefetch.Completed + prefetch.Failed >= completedBefore + profile.Tasks && server.Store.EncodesQueued == 0),
            TimeSpan.FromMinutes(2), "the import to be encoded");
        await stop.CancelAsync();
        await sampler;

        latencies.Sort();
        afterImport.Sort();
        double p50 = Stats.Percentile(latencies, 50), p99 = Stats.Percentile(latencies, 99);
        var third = profile.Duration / 3;
        var firstMax = rss.Where(s => s.At < third).Max(s => s.Bytes);
        var lastMax = rss.Where(s => s.At >= profile.Duration - third).Max(s => s.Bytes);
        TestContext.Out.WriteLine(
            $"soak {profile.Name}: {profile.Annotators} annotators x {profile.Duration.TotalSeconds:0} s, {profile.Tasks} tasks imported; " +
            $"{latencies.Count} clicks ({latencies.Count / profile.Duration.TotalSeconds:F1}/s), {failures.Count} failed; " +
            $"p50 {p50:F1} ms, p99 {p99:F1} ms, max {latencies[^1]:F1} ms; with no import running: {afterImport.Count} clicks, " +
            $"p50 {Stats.Percentile(afterImport, 50):F1} ms, p99 {Stats.Percentile(afterImport, 99):F1} ms; encoder runs {server.EncoderRuns}, prefetch failed {prefetch.Failed}; " +
            $"RSS max first third {firstMax >> 20} MiB, last third {lastMax >> 20} MiB ({rss.Count} samples)");

        Assert.That(failures, Is.Empty, "no click failed");
        Assert.That(prefetch.Failed, Is.Zero, "every imported task was encoded");
        Assert.That(latencies, Has.Count.GreaterThan(profile.Annotators * 10));
        // The benchmark's bound is p99 ≤ 4 × p50 on real models. Stand-in clicks take a few ms, and while the import encodes,
        // ONNX Runtime's encoder threads take both cores of a small runner, so a click waits up to one encode (~150 ms
        // here): a generous sanity bound, not a latency target.
        Assert.That(p99, Is.LessThanOrEqualTo(4 * p50 + 500), "p99 within 4 × p50 (+500 ms for stand-ins sharing cores with the encoder)");
        Assert.That(lastMax, Is.LessThanOrEqualTo(firstMax * 1.5 + (50L << 20)), "RSS steady: the last third's max within 1.5 × the first third's + 50 MB");
        var settled = EmbeddingLeakCheck.WaitForLiveCount(LiveAtStart + server.Store.Count, TimeSpan.FromSeconds(5));
        Assert.That(settled - LiveAtStart, Is.EqualTo(server.Store.Count), "only the store's embeddings are live once the load ends");
    }
}
