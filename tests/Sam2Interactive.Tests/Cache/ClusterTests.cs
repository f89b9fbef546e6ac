using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using StackExchange.Redis;

namespace Sam2Interactive.Tests.Cache;

/// <summary>
/// Two server instances (replicas A and B) on loopback sharing a real redis-server and one Label Studio stand-in; every
/// claim is read from each instance's own /metrics.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ClusterTests
{
    private const int W = 320, H = 240;
    private RedisServerProcess _redis = null!;
    private LabelStudioStandIn _ls = null!;
    private TestServer _a = null!;
    private TestServer _b = null!;
    private int _nextImage;

    [OneTimeSetUp]
    public async Task Start()
    {
        _redis = RedisServerProcess.Start();
        _ls = await LabelStudioStandIn.StartAsync();
        _a = await TestServer.StartAsync(_ls, Settings());
        _b = await TestServer.StartAsync(_ls, Settings());
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["REDIS_URL"] = $"redis://{_redis.Endpoint}/0",
        ["LOCK_TTL"] = "1s",
        ["LOCK_WAIT"] = "30",
    };

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _ls.DisposeAsync();
        _redis.Dispose();
    }

    /// <summary>A new image (distinct bytes) in Label Studio; returns its path and scene.</summary>
    private (string Path, Scene Scene) NewImage() => Traffic.AddImage(_ls, "cluster", Interlocked.Increment(ref _nextImage), 320, 240);

    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(10);

    private static Task<double> Encodes(TestServer s) => s.MetricAsync("sam2_encoder_runs_total");

    private static Task<double> RedisHits(TestServer s) => s.MetricAsync("sam2_cache_lookups_total{tier=\"redis\",result=\"hit\"}");

    [Test]
    public async Task Webhook_PrefetchOnA_ClickOnBServedFromRedisWithoutEncoding()
    {
        var (path, scene) = NewImage();
        var encodesA = await Encodes(_a);
        var encodesB = await Encodes(_b);
        var hitsB = await RedisHits(_b);

        var (status, _) = await _a.PostAsync("/webhook", LabelStudioBodies.Webhook((41, path)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        await Traffic.WaitForAsync(async () => await Encodes(_a) == encodesA + 1, s_patience, "A's prefetch encode");
        await Traffic.WaitForAsync(() => Task.FromResult(_a.HasEmbedding(path)), s_patience, "A's tier 1");

        await Traffic.ClickAndCheckAsync(_b, path, scene);

        Assert.That(await Encodes(_b), Is.EqualTo(encodesB), "B did not run its encoder");
        Assert.That(await RedisHits(_b), Is.EqualTo(hitsB + 1), "B's click was served from Redis");
    }

    [Test]
    public async Task Predict_EightConcurrentFirstClicksOnTwoReplicas_OneEncoderRunInTheCluster()
    {
        var (path, scene) = NewImage();
        var before = await Encodes(_a) + await Encodes(_b);
        var waitsBefore = await _a.MetricAsync("sam2_singleflight_waits_total") + await _b.MetricAsync("sam2_singleflight_waits_total");
        var hitsBefore = await RedisHits(_a) + await RedisHits(_b);

        var clicks = Enumerable.Range(0, 8).Select(i => Task.Run(() => Traffic.ClickAndCheckAsync(i % 2 == 0 ? _a : _b, path, scene)));
        await Task.WhenAll(clicks);

        Assert.That(await Encodes(_a) + await Encodes(_b) - before, Is.EqualTo(1), "exactly one encoder run in the whole cluster");
        var waits = await _a.MetricAsync("sam2_singleflight_waits_total") + await _b.MetricAsync("sam2_singleflight_waits_total") - waitsBefore;
        var redisHits = await RedisHits(_a) + await RedisHits(_b) - hitsBefore;
        Assert.That(waits + redisHits, Is.GreaterThanOrEqualTo(1), "the replica that did not encode waited for or read the one run");
    }

    [Test]
    public async Task Predict_LockOwnerDiesWhileEncoding_WaitingClickOnBStillGetsItsMask()
    {
        var (path, scene) = NewImage();
        var modelId = ModelIdentity.Compute(StandInModelSet.Options(StandInFormat.SamExporter).EncoderPath!);
        var hash = Convert.ToHexStringLower(SHA256.HashData(scene.Encoded));
        // A third replica takes the encode lock and dies: its tier is disposed without releasing (no renewal either).
        var options = Sam2Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(Settings()).Build()).Cache.Redis;
        var dead = new RedisEmbeddingTier(options, modelId, NullLogger.Instance);
        var (outcome, _) = await dead.TryAcquireEncodeLockAsync(hash, CancellationToken.None);
        Assert.That(outcome, Is.EqualTo(LockOutcome.Acquired));
        var encodesB = await Encodes(_b);
        var waitsB = await _b.MetricAsync("sam2_singleflight_waits_total");

        // The owner dies only once B waits on its lock (its lease renews until then): dying at once let the one-second
        // lock expire before a slow click (download, hash, Redis lookups) reached it, and B then never waited.
        var click = Task.Run(() => Traffic.ClickAndCheckAsync(_b, path, scene));
        await Traffic.WaitForAsync(async () => click.IsCompleted || await _b.MetricAsync("sam2_singleflight_waits_total") > waitsB,
            s_patience, "B to wait for the lock");
        dead.Dispose();
        await click;

        Assert.That(await _b.MetricAsync("sam2_singleflight_waits_total"), Is.GreaterThan(waitsB), "B waited for the lock first");
        Assert.That(await Encodes(_b), Is.EqualTo(encodesB + 1), "then took over when the lock expired");
    }

    [Test]
    public async Task Predict_RedisStoppedAndStartedDuringClicks_NoFailedClickAndBreakerRecovers()
    {
        var images = Enumerable.Range(0, 6).Select(_ => NewImage()).ToList();
        for (var i = 0; i < images.Count; i++)
        {
            if (i == 2) _redis.Kill();
            if (i == 4) _redis.Restart();
            await Traffic.ClickAndCheckAsync(i % 2 == 0 ? _a : _b, images[i].Path, images[i].Scene);
        }
        // The breaker half-opens after its break and closes on the first success. Both replicas: a test that runs next
        // must not meet B's breaker still open (it would download and encode what Redis holds; issue 15).
        foreach (var replica in new[] { _a, _b })
        {
            await Traffic.WaitForAsync(async () =>
            {
                if ((await Traffic.HealthFieldAsync(replica.Http, "cache_state")).Value == "connected") return true;
                var (p, s) = NewImage();
                await Traffic.ClickAndCheckAsync(replica, p, s);
                return false;
            }, s_patience, "the Redis tier to report connected again");
        }
    }

    [Test]
    public async Task Webhook_RedisWritesPausedPastLockTtlWhileAWrites_ClickOnBReadsAsValueWithoutEncoding()
    {
        // CLIENT PAUSE WRITE holds every write (A's lock renewals, A's 8 MiB SET, B's SET NX) while reads go on: A's
        // one-second lock lapses behind the pause, so B can win the lock before A's value is readable. The server must
        // still encode once in the cluster (it reads again after winning the lock) and download once.
        RedisServerProcess.RequireRedisServer("CLIENT PAUSE WRITE, CLIENT LIST's buffers and keyspace notifications");
        var modelId = ModelIdentity.Compute(StandInModelSet.Options(StandInFormat.SamExporter).EncoderPath!);
        using var admin = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var db = admin.GetDatabase();
        // The pause must fall between A taking the lock and A's SET being executed. The lock's keyspace event starts the
        // pause without polling; an attempt whose SET was executed first (a fast encode) is repeated with a new image,
        // so the test depends on the order of events, never on how long an encode takes.
        await server.ExecuteAsync("CONFIG", "SET", "notify-keyspace-events", "K$");
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var (path, scene) = NewImage();
                var hash = Convert.ToHexStringLower(SHA256.HashData(scene.Encoded));
                var lockKey = $"sam2:{{{modelId}:{hash}}}:lock";
                var valueKey = $"sam2:{{{modelId}:{hash}}}:parts";
                var locked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var channel = RedisChannel.Literal($"__keyspace@0__:{lockKey}");
                await admin.GetSubscriber().SubscribeAsync(channel, (_, _) => locked.TrySetResult());
                var encodesA = await Encodes(_a);
                var encodesB = await Encodes(_b);
                var missesB = await _b.MetricAsync("sam2_cache_lookups_total{tier=\"redis\",result=\"miss\"}");

                var (status, _) = await _a.PostAsync("/webhook", LabelStudioBodies.Webhook((42, path)));
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
                await locked.Task.WaitAsync(s_patience);
                // Bounded (60 s) in case the test dies before it lifts the pause; lifted below on events, not on time.
                await server.ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
                await admin.GetSubscriber().UnsubscribeAsync(channel);
                try
                {
                    await Traffic.WaitForAsync(async () => await Encodes(_a) == encodesA + 1, s_patience, "A's encode");
                    if (await db.KeyExistsAsync(valueKey))
                    {
                        Assert.That(attempt, Is.LessThan(20), "A's SET ran before the pause in 20 attempts");
                        continue;
                    }
                    TestContext.Out.WriteLine($"the pause fell between A's lock and A's SET on attempt {attempt}");
                    // A's SET has reached Redis: its 8 MiB are read into A's query buffer (or argv), and held.
                    await Traffic.WaitForAsync(async () => await LargestClientInput(server) >= 8L << 20, s_patience, "A's value write to arrive");
                    var click = Task.Run(() => Traffic.ClickAndCheckAsync(_b, path, scene));
                    await Traffic.WaitForAsync(async () => await _b.MetricAsync("sam2_cache_lookups_total{tier=\"redis\",result=\"miss\"}") > missesB,
                        s_patience, "B's read to miss");
                    Assert.That((string?)await server.ExecuteAsync("CLIENT", "UNPAUSE"), Is.EqualTo("OK"));
                    await click;
                }
                finally
                {
                    _redis.Command("CLIENT", "UNPAUSE");
                }

                Assert.That(await Encodes(_a), Is.EqualTo(encodesA + 1), "A encoded once");
                Assert.That(await Encodes(_b), Is.EqualTo(encodesB), "B did not run its encoder");
                Assert.That(_ls.LsRequests.Count(r => r.Path.StartsWith(path, StringComparison.Ordinal)), Is.EqualTo(1),
                    "B found the URI in Redis: one download in the cluster");
                return;
            }
        }
        finally
        {
            await server.ExecuteAsync("CONFIG", "SET", "notify-keyspace-events", "");
        }
    }

    /// <summary>The largest pending input any client holds in redis-server: query buffer plus parsed arguments, bytes.</summary>
    private static async Task<long> LargestClientInput(IServer server)
    {
        long largest = 0;
        foreach (var client in await server.ClientListAsync())
        {
            var fields = (client.Raw ?? "").Split(' ').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
            var input = long.Parse(fields["qbuf"], System.Globalization.CultureInfo.InvariantCulture)
                + long.Parse(fields["argv-mem"], System.Globalization.CultureInfo.InvariantCulture);
            largest = Math.Max(largest, input);
        }
        return largest;
    }

    [TestCase("garbage")]
    [TestCase("foreign-model")]
    public async Task Predict_BadValueInRedis_RecomputedAndRightMask(string kind)
    {
        var (path, scene) = NewImage();
        var modelId = ModelIdentity.Compute(StandInModelSet.Options(StandInFormat.SamExporter).EncoderPath!);
        var hash = Convert.ToHexStringLower(SHA256.HashData(scene.Encoded));
        var options = Sam2Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(Settings()).Build()).Cache.Redis;
        using var tier = new RedisEmbeddingTier(options, modelId, NullLogger.Instance);
        using var mux = await ConnectionMultiplexer.ConnectAsync(_redis.Endpoint);
        byte[] value;
        if (kind == "garbage")
        {
            value = "\x93not a msgpack envelope at all"u8.ToArray();
        }
        else
        {
            // A well-formed envelope from another encoder (all-zero tensors: a wrong mask if it were used).
            using var foreign = new ImageEmbedding(scene.Width, scene.Height);
            foreign.ImageEmbed.Span.Clear();
            foreign.HighResFeats0.Span.Clear();
            foreign.HighResFeats1.Span.Clear();
            using var bytes = EmbeddingEnvelope.Serialize(foreign, "0123456789abcdef", CacheDType.Float16);
            value = bytes.WrittenMemory.ToArray();
        }
        await RedisEmbeddingTier.WriteValueAsync(mux.GetDatabase(), tier.EmbeddingKey(hash), value, TimeSpan.FromHours(1));
        var encodes = await Encodes(_a);

        await Traffic.ClickAndCheckAsync(_a, path, scene);

        Assert.That(await Encodes(_a), Is.EqualTo(encodes + 1), "the bad value was not used: the image was encoded");
        using var stored = await RedisEmbeddingTier.ReadValueAsync(mux.GetDatabase(), tier.EmbeddingKey(hash));
        Assert.That(stored, Is.Not.Null);
        Assert.That(stored!.WrittenMemory.Span.SequenceEqual(value), Is.False, "replaced by a good value");
    }

    [Test]
    public async Task Predict_SecondClickOnSameTask_NoSecondDownload()
    {
        var (path, scene) = NewImage();
        int Downloads() => _ls.LsRequests.Count(r => r.Path.StartsWith(path, StringComparison.Ordinal));

        await Traffic.ClickAndCheckAsync(_a, path, scene);
        Assert.That(Downloads(), Is.EqualTo(1));
        await Traffic.ClickAndCheckAsync(_a, path, scene);
        await Traffic.ClickAndCheckAsync(_b, path, scene); // B knows the URI from Redis's URI map
        Assert.That(Downloads(), Is.EqualTo(1), "neither replica downloaded the image again");
    }

    [Test]
    public async Task ImageApi_PostedToA_SegmentOnBReadsRedisWithoutEncoding()
    {
        var (_, scene) = NewImage();
        var encodesB = await Encodes(_b);
        var hitsB = await RedisHits(_b);
        using var form = new MultipartFormDataContent { { new ByteArrayContent(scene.Encoded), "image", "scene.png" } };
        using var posted = await _a.Http.PostAsync("/api/v1/images", form);
        Assert.That(posted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var id = Convert.ToHexStringLower(SHA256.HashData(scene.Encoded));

        using var located = System.Text.Json.JsonDocument.Parse(await _b.Http.GetStringAsync($"/api/v1/images/{id}"));
        Assert.That(located.RootElement.GetProperty("held").GetString(), Is.EqualTo("redis"), "B sees the entry A wrote, without reading it");
        Assert.That(located.RootElement.GetProperty("bytes").GetInt64(), Is.GreaterThan(8L << 20), "a float16 envelope");
        var blue = Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height));
        var (status, answer) = await _b.PostAsync($"/api/v1/images/{id}/segment",
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"points":[[{{blue.X}},{{blue.Y}}]],"output":["png"]}"""));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), answer.RootElement.ToString());
        Assert.That(await Encodes(_b), Is.EqualTo(encodesB), "B did not run its encoder");
        Assert.That(await RedisHits(_b), Is.EqualTo(hitsB + 1), "B's segment was served from Redis");
        using var heldNow = System.Text.Json.JsonDocument.Parse(await _b.Http.GetStringAsync($"/api/v1/images/{id}"));
        Assert.That(heldNow.RootElement.GetProperty("held").GetString(), Is.EqualTo("memory"));
    }
}
