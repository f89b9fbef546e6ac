using NUnit.Framework;
using Sam2Interactive.Decoder;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary>
/// The row-streamed stability counts, box, area and runs equal what the full-size upsampled tensor gives (SAM2's way),
/// including the rows skipped without being computed.
/// </summary>
[TestFixture]
[Category("Fast")]
public sealed class LogitRowsTests
{
    private const int N = MaskPostprocessor.LowResSize;

    /// <summary>Every row of the upsampling, kept (the full tensor SAM2 would hold).</summary>
    private struct FullSink : IUpsampledRowSink
    {
        public float[] Values;
        public int Width;

        public readonly bool Wants(int y, int sourceRow0, int sourceRow1) => true;

        public readonly void Row(int y, ReadOnlySpan<float> values) => values.CopyTo(Values.AsSpan(y * Width, Width));
    }

    private static float[] Full(float[] logits, int width, int height)
    {
        var sink = new FullSink { Values = new float[width * height], Width = width };
        MaskPostprocessor.UpsampleRows(logits, width, height, ref sink);
        return sink.Values;
    }

    /// <summary>A blob (an object mask's logits: +12 inside, −20 outside, smooth edges) plus noise, or flat fields.</summary>
    private static float[] Logits(string kind, int seed)
    {
        var random = new Random(seed);
        var logits = new float[N * N];
        for (var y = 0; y < N; y++)
        {
            for (var x = 0; x < N; x++)
            {
                var d = Math.Sqrt((x - 100.0) * (x - 100.0) + (y - 140.0) * (y - 140.0));
                logits[y * N + x] = kind switch
                {
                    "blob" => (float)(Math.Clamp((40 - d) * 1.5, -20, 12) + 0.3 * (random.NextDouble() - 0.5)),
                    "ring" => (float)(Math.Clamp(8 - Math.Abs(d - 60) * 0.5, -32, 32)),
                    "above" => 5f,
                    "below" => -5f,
                    "edges" => x is 0 or N - 1 || y is 0 or N - 1 ? 3f : -3f,
                    _ => (float)(random.NextDouble() * 4 - 2),
                };
            }
        }
        return logits;
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var kind in new[] { "blob", "ring", "above", "below", "edges", "noise" })
        {
            foreach (var (w, h) in new[] { (640, 480), (37, 53), (1000, 7), (3, 900), (256, 256) })
            {
                yield return new TestCaseData(kind, w, h).SetArgDisplayNames(kind, $"{w}x{h}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void StabilityCounts_EqualCountsOverTheFullTensor(string kind, int width, int height)
    {
        var logits = Logits(kind, width + height);
        var full = Full(logits, width, height);
        foreach (var (threshold, offset) in new[] { (0.0, 1.0), (0.0, 0.0), (2.5, 4.0) })
        {
            var (high, low) = StabilityScore.Thresholds(threshold, offset);
            using var bounds = new LogitRows.Bounds(logits);
            var counts = LogitRows.StabilityCounts(logits, bounds, width, height, high, low);
            Assert.That(counts, Is.EqualTo((full.LongCount(v => v > high), full.LongCount(v => v > low))), $"threshold {threshold} offset {offset}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Binarize_RunsBoxAndAreaEqualTheThresholdedFullTensor(string kind, int width, int height)
    {
        var logits = Logits(kind, width * 3 + height);
        var full = Full(logits, width, height);
        var expected = full.Select(v => v > 0f ? (byte)255 : (byte)0).ToArray();

        using var bounds = new LogitRows.Bounds(logits);
        using var runs = LogitRows.Binarize(logits, bounds, width, height, 0f);
        var pixels = new byte[width * height];
        runs.WriteTo(pixels, width, 0, 0);

        Assert.That(pixels, Is.EqualTo(expected));
        Assert.That(runs.Area, Is.EqualTo(expected.LongCount(b => b != 0)));
        Assert.That(runs.Box, Is.EqualTo(MaskBoxes.FromMask(expected, width, height)));
        Assert.That(runs.Counts.ToArray().Sum(c => (long)c), Is.EqualTo((long)width * height));
    }

    [Test]
    public void UpsampleRows_ThresholdedAtZero_EqualsTheClickPathsUpsampleAndThreshold()
    {
        var logits = Logits("blob", 7);
        var full = Full(logits, 333, 777);
        var clickPath = new byte[333 * 777];
        MaskPostprocessor.UpsampleAndThreshold(logits, 333, 777, clickPath);
        Assert.That(full.Select(v => v > 0f ? (byte)255 : (byte)0), Is.EqualTo(clickPath));
    }

    [Test]
    public void WriteTo_Offset_PlacesTheMaskInsideALargerFrame()
    {
        using var bounds = new LogitRows.Bounds(Logits("above", 1));
        using var runs = LogitRows.Binarize(Logits("above", 1), bounds, 3, 2, 0f);
        var frame = new byte[5 * 4];
        runs.WriteTo(frame, 5, 1, 2);
        Assert.That(frame, Is.EqualTo(new byte[]
        {
            0, 0, 0, 0, 0,
            0, 0, 0, 0, 0,
            0, 255, 255, 255, 0,
            0, 255, 255, 255, 0,
        }));
        Assert.That(runs.Box, Is.EqualTo(new MaskBox(0, 0, 2, 1)));
    }
}
