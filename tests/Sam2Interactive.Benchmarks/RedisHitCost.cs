using System.Diagnostics;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using MessagePack;
using Microsoft.Extensions.Logging.Abstractions;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;
using StackExchange.Redis;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>redis-hit [--decoder-runs N]</c>: where a Redis hit's time goes, stage by stage, for one float16 embedding in a local
/// redis-server: the read through StackExchange.Redis (the tier's 1 MiB hash parts, and beside it the same bytes as one
/// string, the layout before 2026-12), the envelope's MessagePack read, the checksum, float16 → float32, and the whole
/// <c>RedisEmbeddingTier.TryGetAsync</c>. Each stage is timed in rounds, side by side, median of N (21).
/// </summary>
internal static class RedisHitCost
{
    public static async Task<int> RunAsync(BenchArguments args)
    {
        var runs = Math.Max(5, args.DecoderRuns);
        using var redis = RedisServerProcess.Start(executable: args.RedisServer ?? RedisServerProcess.FindExecutable());
        var options = new RedisCacheOptions { Redis = ConfigurationOptions.Parse(redis.Endpoint), DType = CacheDType.Float16 };
        var pool = new EmbeddingPool(4);
        using var tier = new RedisEmbeddingTier(options, "0123456789abcdef", NullLogger.Instance, pool: pool);
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var db = mux.GetDatabase();
        var hash = new string('a', 64);
        using (var embedding = new ImageEmbedding(1024, 1024, pool))
        {
            var random = new Random(7);
            foreach (var tensor in new[] { embedding.ImageEmbed, embedding.HighResFeats0, embedding.HighResFeats1 })
            {
                var span = tensor.Span;
                for (var i = 0; i < span.Length; i++) span[i] = (float)(random.NextDouble() * 2 - 1);
            }
            await tier.PutAsync(hash, embedding, CancellationToken.None);
        }
        var key = (RedisKey)tier.EmbeddingKey(hash);
        byte[] value;
        using (var stored = await RedisEmbeddingTier.ReadValueAsync(db, key)) value = stored!.WrittenMemory.ToArray();
        // The layout before 2026-12: the same envelope as one string, read with one GET.
        var stringKey = (RedisKey)"bench:one-string";
        await db.StringSetAsync(stringKey, value);
        var halves = MemoryMarshal.Cast<byte, Half>(value.AsSpan(value.Length - ImageEmbedding.TotalLength * 2)).ToArray();
        var floats = new float[ImageEmbedding.TotalLength];

        var stages = new (string Name, Func<Task> Run)[]
        {
            ("one 8 MiB string, GET (lease)", async () => { using var lease = await db.StringGetLeaseAsync(stringKey); }),
            ("1 MiB hash parts, HGET leases in MULTI", async () => { using var read = await RedisEmbeddingTier.ReadValueAsync(db, key); }),
            ("MessagePack envelope read", () => { MessagePackSerializer.Deserialize<EmbeddingEnvelope>(value.AsMemory(), EmbeddingEnvelope.SerializerOptions); return Task.CompletedTask; }),
            ("XxHash64 of the tensor bytes", () => { XxHash64.HashToUInt64(MemoryMarshal.AsBytes(halves.AsSpan())); return Task.CompletedTask; }),
            ("float16 → float32 (TensorPrimitives)", () => { System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(halves, floats); return Task.CompletedTask; }),
            ("TryDecode (envelope, checksum, convert)", () => { EmbeddingEnvelope.TryDecode(value, "0123456789abcdef", out _, pool)!.Dispose(); return Task.CompletedTask; }),
            ("RedisEmbeddingTier.TryGetAsync (all)", async () => { (await tier.TryGetAsync(hash, CancellationToken.None))!.Dispose(); }),
        };
        var times = stages.Select(_ => new List<double>()).ToList();
        Console.WriteLine($"redis-hit: {value.Length:N0} B float16 envelope, {runs} rounds after one untimed; load average {StandInCost.LoadAverage()}");
        for (var round = 0; round <= runs; round++)
        {
            for (var i = 0; i < stages.Length; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await stages[i].Run();
                if (round > 0) times[i].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        for (var i = 0; i < stages.Length; i++)
        {
            var sorted = times[i].Order().ToList();
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{stages[i].Name,-42} median {Stats.Median(times[i]),7:F2} ms   min {sorted[0],7:F2}   max {sorted[^1],7:F2}"));
        }
        Console.WriteLine($"load average at end {StandInCost.LoadAverage()}");
        return 0;
    }
}
