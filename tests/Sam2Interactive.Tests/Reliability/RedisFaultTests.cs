using System.Net;
using NUnit.Framework;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// Redis absent when the server starts (REDIS_URL points at a free port): clicks work from tier 1, /health says the shared
/// tier is degraded, and once redis-server starts on that port the tier reconnects and is used. Killed, paused and garbage
/// Redis are covered in RedisEmbeddingTierTests and ClusterTests.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RedisFaultTests() : LabelStudioPerTest("8")
{
    [Test]
    public async Task Predict_RedisAbsentAtStart_ClicksWorkDegradedThenConnectedWhenRedisStarts()
    {
        var port = RedisServerProcess.FreePort();
        await using var server = await TestServer.StartAsync(Ls, new Dictionary<string, string?> { ["REDIS_URL"] = $"redis://127.0.0.1:{port}/0" });

        var (status, _) = await Traffic.HealthFieldAsync(server.Http, "cache_state");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), "Redis being absent does not make the server unhealthy");
        for (var i = 0; i < 3; i++)
        {
            var (path, scene) = NewImage();
            var elapsed = await Traffic.ClickAndCheckAsync(server, path, scene);
            Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "a click does not sit out Redis connect timeouts");
        }
        Assert.That((await Traffic.HealthFieldAsync(server.Http, "cache_state")).Value, Is.EqualTo("degraded"));

        using var redis = RedisServerProcess.Start(port);
        await Traffic.WaitForAsync(async () =>
        {
            var (path, scene) = NewImage();
            await Traffic.ClickAndCheckAsync(server, path, scene);
            return (await Traffic.HealthFieldAsync(server.Http, "cache_state")).Value == "connected";
        }, TimeSpan.FromSeconds(20), "cache_state to become connected after redis-server started");

        var (last, lastScene) = NewImage();
        await Traffic.ClickAndCheckAsync(server, last, lastScene);
        await Traffic.WaitForAsync(() => Task.FromResult(redis.Command("KEYS", "*:parts") != "*0"), TimeSpan.FromSeconds(5), "an embedding written to Redis");
    }
}
