using System.Diagnostics;
using System.Net;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// SIGTERM while annotators click and an import is being prefetched, as the host handles it: <c>StopAsync</c> on the
/// running app (the console lifetime calls it on SIGTERM). In-flight clicks complete with their masks, the stop ends
/// within SHUTDOWN_TIMEOUT, no encode lock is left in Redis and no pooled embedding buffer is left outstanding.
/// Not covered: a real signal to a separate process (the lifetime's signal handler itself).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ShutdownTests : EmbeddingLeakCheck
{
    private const int ShutdownTimeoutSeconds = 10;
    private const int Clicks = 6;
    private const int Imports = 30;

    [Test]
    public async Task StopAsync_DuringClicksAndPrefetch_ClicksCompleteLocksReleasedNoLeak()
    {
        using var redis = RedisServerProcess.Start();
        await using var ls = await LabelStudioStandIn.StartAsync();
        var images = Enumerable.Range(0, Clicks + Imports).Select(i => Traffic.AddImage(ls, "6", i)).ToList();
        var server = await TestServer.StartAsync(ls, new Dictionary<string, string?>
        {
            ["REDIS_URL"] = $"redis://{redis.Endpoint}/0",
            ["SHUTDOWN_TIMEOUT"] = ShutdownTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        try
        {
            var warmupRuns = server.EncoderRuns;
            // The last click's image download is held until the stop begins, so at least that click is in flight then
            // however fast the encodes are (polling for "the first encode" alone let a fast machine finish every click).
            var held = ls.Hold(images[Clicks - 1].Path);
            using var release = server.App.Lifetime.ApplicationStopping.Register(held.Release);
            var (status, _) = await server.PostAsync("/prefetch", JsonSerializer.Serialize(new { uris = images.Skip(Clicks).Select(i => i.Path) }));
            Assert.That((int)status, Is.EqualTo(202));
            var clicks = images.Take(Clicks).Select(i => Task.Run(() => Traffic.ClickAsync(server, i.Path, i.Scene))).ToList();
            // Stop once the first image is encoded and the held click is inside the server.
            await Traffic.WaitForAsync(() => Task.FromResult(server.EncoderRuns > warmupRuns), TimeSpan.FromSeconds(10), "the first encode");
            await held.Arrived.WaitAsync(TimeSpan.FromSeconds(10));

            var inFlight = clicks.Count(c => !c.IsCompleted);
            var clock = Stopwatch.StartNew();
            await server.App.StopAsync();
            var stopTime = clock.Elapsed;
            var answers = await Task.WhenAll(clicks);

            TestContext.Out.WriteLine($"{inFlight} clicks in flight at stop; stop took {stopTime.TotalMilliseconds:F0} ms; encoder runs {server.EncoderRuns}; " +
                $"clicks: {string.Join(", ", answers.Select(a => $"{(int)a.Status} in {a.Elapsed.TotalMilliseconds:F0} ms"))}");
            Assert.That(inFlight, Is.GreaterThanOrEqualTo(1), "clicks were in flight when the stop began");
            Assert.That(stopTime, Is.LessThan(TimeSpan.FromSeconds(ShutdownTimeoutSeconds)));
            for (var i = 0; i < Clicks; i++)
            {
                using var json = answers[i].Json;
                Assert.That(answers[i].Status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
                var region = LabelStudioResults.FirstRegion(json.RootElement);
                var scene = images[i].Scene;
                Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(region, scene.Width, scene.Height), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
            }
            Assert.That(redis.Command("KEYS", "*:lock"), Is.EqualTo("*0"), "no encode lock left in Redis after the stop");
        }
        finally
        {
            await server.DisposeAsync();
        }
        Assert.That(EmbeddingLeakCheck.WaitForLiveCount(LiveAtStart, Grace), Is.EqualTo(LiveAtStart), "every embedding buffer returned after dispose");
        Assert.That(redis.Command("KEYS", "*:lock"), Is.EqualTo("*0"), "no encode lock left in Redis after dispose");
    }

    [Test]
    public async Task DisposeAsync_RightAfterStopDuringPrefetch_NoLockLeftNoBufferLeak()
    {
        using var redis = RedisServerProcess.Start();
        await using var ls = await LabelStudioStandIn.StartAsync();
        var images = Enumerable.Range(0, Imports).Select(i => Traffic.AddImage(ls, "6", 100 + i)).ToList();
        var server = await TestServer.StartAsync(ls, new Dictionary<string, string?> { ["REDIS_URL"] = $"redis://{redis.Endpoint}/0" });
        var runsAtStop = 0L;
        try
        {
            var (status, _) = await server.PostAsync("/prefetch", JsonSerializer.Serialize(new { uris = images.Select(i => i.Path) }));
            Assert.That((int)status, Is.EqualTo(202));
            await Traffic.WaitForAsync(() => Task.FromResult(server.EncoderRuns >= 3), TimeSpan.FromSeconds(10), "the import to be encoding");
            await server.App.StopAsync();
            runsAtStop = server.EncoderRuns;
        }
        finally
        {
            // What the host does right after StopAsync on SIGTERM: dispose the services, with an encode possibly running.
            await server.DisposeAsync();
        }
        Assert.That(EmbeddingLeakCheck.WaitForLiveCount(LiveAtStart, Grace), Is.EqualTo(LiveAtStart), "every embedding buffer returned after dispose");
        Assert.That(redis.Command("KEYS", "*:lock"), Is.EqualTo("*0"), "no encode lock left in Redis after dispose");
        Assert.That(runsAtStop, Is.LessThan(Imports), "the import was interrupted, not run to its end");
    }
}
