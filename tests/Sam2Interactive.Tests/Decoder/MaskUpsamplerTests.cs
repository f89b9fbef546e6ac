using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>
/// The row-streaming upsampler against the per-pixel float32 evaluation it replaces (every pixel, same bits), and its runs
/// against the byte mask, for every band split including bands of one row.
/// </summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskUpsamplerTests
{
    private const int N = MaskPostprocessor.LowResSize;

    /// <summary>Logit fields by name: smooth objects, noise (every cell mixed), constants and IEEE special values.</summary>
    internal static float[] Logits(string field)
    {
        var logits = new float[N * N];
        var random = new Random(field.Length * 7919 + field[0]);
        for (var y = 0; y < N; y++)
        {
            for (var x = 0; x < N; x++)
            {
                logits[y * N + x] = field switch
                {
                    "disc" => 70f - MathF.Sqrt((x - 100f) * (x - 100f) + (y - 120f) * (y - 120f)),
                    "waves" => (float)(8 * Math.Sin(x / 9.0) * Math.Cos(y / 13.0) + random.NextDouble() - 0.5),
                    "noise" => (float)(random.NextDouble() - 0.5),
                    "full" => 5f,
                    "empty" => -5f,
                    "zero" => 0f,
                    "vertical-bar" => x is >= 100 and < 140 ? 3f : -3f,
                    "checker" => ((x + y) & 1) == 0 ? 1f : -1f,
                    "special" => ((x * 31 + y * 17) % 11) switch
                    {
                        0 => float.NaN,
                        1 => float.PositiveInfinity,
                        2 => float.NegativeInfinity,
                        3 => float.Epsilon,            // smallest denormal: its products underflow to 0
                        4 => -0f,
                        5 => 1e-31f,                   // just below PositiveMin
                        6 => 1e31f,                    // above PositiveMax
                        7 => float.MaxValue,
                        _ => (float)(random.NextDouble() * 4 - 1),
                    },
                    _ => throw new ArgumentException(field),
                };
            }
        }
        return logits;
    }

    /// <summary>
    /// The per-pixel evaluation as <c>F.interpolate(mode="bilinear", align_corners=False)</c> does it in float32 and as this
    /// server always did: src = scale·(dst + 0.5) − 0.5 clamped at 0, h = w0·L[i0] + w1·L[i1] per source row, then
    /// h(y0)·hy0 + h(y1)·hy1, strict &gt; 0. Written out independently of the production tables.
    /// </summary>
    internal static byte[] Reference(float[] logits, int width, int height)
    {
        static (int, int, float, float) Index(float scale, int dst)
        {
            var src = scale * (dst + 0.5f) - 0.5f;
            if (src < 0f) src = 0f;
            var i0 = (int)src;
            var i1 = i0 < N - 1 ? i0 + 1 : i0;
            var l1 = Math.Clamp(src - i0, 0f, 1f);
            return (i0, i1, 1f - l1, l1);
        }

        var mask = new byte[width * height];
        float sx = (float)N / width, sy = (float)N / height;
        for (var y = 0; y < height; y++)
        {
            var (y0, y1, h0, h1) = Index(sy, y);
            for (var x = 0; x < width; x++)
            {
                var (x0, x1, w0, w1) = Index(sx, x);
                var r0 = w0 * logits[y0 * N + x0] + w1 * logits[y0 * N + x1];
                var r1 = w0 * logits[y1 * N + x0] + w1 * logits[y1 * N + x1];
                var v = r0 * h0 + r1 * h1;
                mask[y * width + x] = v > 0f ? (byte)255 : (byte)0;
            }
        }
        return mask;
    }

    private static readonly object[] s_fieldsAndSizes =
    [
        new object[] { "disc", 4000, 3000 },     // the size the click path is measured at
        new object[] { "disc", 1024, 1024 },
        new object[] { "waves", 640, 480 },
        new object[] { "waves", 333, 777 },      // odd sizes
        new object[] { "waves", 256, 256 },      // identity
        new object[] { "waves", 100, 37 },       // downscale: several low-res columns per pixel
        new object[] { "noise", 1000, 700 },     // every cell mixed
        new object[] { "checker", 513, 255 },
        new object[] { "special", 777, 555 },    // NaN, ±inf, denormals, −0, values beside the proof's bounds
        new object[] { "special", 256, 256 },
        new object[] { "full", 300, 200 },
        new object[] { "empty", 300, 200 },
        new object[] { "zero", 64, 64 },         // threshold is strict
        new object[] { "waves", 1, 1 },
        new object[] { "waves", 1, 999 },        // one column
        new object[] { "waves", 999, 1 },        // one row
    ];

    [TestCaseSource(nameof(s_fieldsAndSizes))]
    public void WriteRows_Field_EqualsPerPixelFloat32Evaluation(string field, int width, int height)
    {
        var logits = Logits(field);
        var expected = Reference(logits, width, height);
        var actual = new byte[width * height];

        using (var upsampler = new MaskUpsampler(logits, width, height))
        {
            var scratch = new MaskUpsampler.RowScratch(upsampler);
            upsampler.WriteRows(ref scratch, 0, height, actual);
            scratch.Dispose();
        }

        Assert.That(FirstDifference(actual, expected), Is.EqualTo(-1), "first differing pixel index");
    }

    [TestCaseSource(nameof(s_fieldsAndSizes))]
    public void UpsampleAndThreshold_Field_EqualsPerPixelFloat32Evaluation(string field, int width, int height)
    {
        var logits = Logits(field);
        var actual = new byte[width * height];

        MaskPostprocessor.UpsampleAndThreshold(logits, width, height, actual);

        Assert.That(FirstDifference(actual, Reference(logits, width, height)), Is.EqualTo(-1), "first differing pixel index");
    }

    [TestCase("waves", 640, 480, 1, 479)]
    [TestCase("waves", 640, 480, 0, 1)]
    [TestCase("disc", 1000, 3000, 1234, 2345)]
    [TestCase("noise", 300, 900, 450, 450)] // empty range
    public void WriteRows_RowRange_EqualsThoseRowsOfTheWholeMask(string field, int width, int height, int y0, int y1)
    {
        var logits = Logits(field);
        var whole = Reference(logits, width, height);
        var rows = new byte[(y1 - y0) * width];

        using (var upsampler = new MaskUpsampler(logits, width, height))
        {
            var scratch = new MaskUpsampler.RowScratch(upsampler);
            upsampler.WriteRows(ref scratch, y0, y1, rows);
            scratch.Dispose();
        }

        Assert.That(rows, Is.EqualTo(whole.AsSpan(y0 * width, (y1 - y0) * width).ToArray()));
    }

    [TestCase("disc", 4000, 3000, 1)]
    [TestCase("disc", 4000, 3000, 2)]
    [TestCase("disc", 4000, 3000, 7)]
    [TestCase("vertical-bar", 500, 400, 3)]    // the object crosses every band boundary
    [TestCase("vertical-bar", 500, 400, 400)]  // every row its own band
    [TestCase("full", 700, 600, 5)]            // one run over all bands: chunks of 65536 values across boundaries
    [TestCase("empty", 700, 600, 5)]
    [TestCase("waves", 1, 999, 999)]           // one column, one pixel per band
    [TestCase("waves", 999, 1, 1)]             // one row
    [TestCase("noise", 1000, 700, 4)]
    [TestCase("special", 777, 555, 6)]
    public void CollectRuns_Bands_EncodeToTheBytesOfTheWholeMask(string field, int width, int height, int bands)
    {
        var logits = Logits(field);
        var expected = BrushRle.Encode(Reference(logits, width, height));
        using var upsampler = new MaskUpsampler(logits, width, height);
        var runs = new MaskRuns[bands];
        try
        {
            upsampler.CollectRuns(runs, bands);

            var actual = new byte[BrushRle.GetEncodedLength(runs)];
            var written = BrushRle.Encode(runs, actual);

            Assert.That(written, Is.EqualTo(actual.Length));
            Assert.That(actual, Is.EqualTo(expected));
        }
        finally
        {
            foreach (var r in runs) r.Dispose();
        }
    }

    [TestCase(5)]
    [TestCase(64)]
    public void CollectRuns_BoundaryAtARunChange_RunsStayApart(int bands)
    {
        // Rows 0..299 foreground, 300..599 background: with an even band split the boundary lands on the change.
        var logits = new float[N * N];
        for (var i = 0; i < logits.Length; i++) logits[i] = i < logits.Length / 2 ? 4f : -4f;
        var pixels = Reference(logits, 512, 600);
        using var upsampler = new MaskUpsampler(logits, 512, 600);
        var runs = new MaskRuns[bands];
        try
        {
            upsampler.CollectRuns(runs, bands);

            var actual = new byte[BrushRle.GetEncodedLength(runs)];
            BrushRle.Encode(runs, actual);

            Assert.That(actual, Is.EqualTo(BrushRle.Encode(pixels)));
        }
        finally
        {
            foreach (var r in runs) r.Dispose();
        }
    }

    [Test]
    public void MixedPixels_Disc_IsASmallShareOfTheImage()
    {
        using var upsampler = new MaskUpsampler(Logits("disc"), 4000, 3000);

        var mixed = upsampler.MixedPixels();

        // The disc's boundary crosses about 2π·70 cells of ≈ 15.6×11.7 pixels: a few hundred thousand of 12 M.
        Assert.That(mixed, Is.InRange(50_000, 600_000));
        Assert.That(upsampler.ChooseBands(), Is.EqualTo(1), "an object mask is one thread's work");
    }

    [Test]
    public void ChooseBands_NoiseAt4000x3000_SplitsAcrossCoresWhenThereAreSeveral()
    {
        using var upsampler = new MaskUpsampler(Logits("noise"), 4000, 3000);

        Assert.That(upsampler.MixedPixels(), Is.GreaterThan(MaskUpsampler.ParallelMixedPixels));
        Assert.That(upsampler.ChooseBands(), Is.EqualTo(Math.Min(Environment.ProcessorCount, 3000 / MaskUpsampler.MinBandRows)));
    }

    [Test]
    public void Band_AnySplit_CoversEveryRowOnce()
    {
        foreach (var (height, bands) in new[] { (1, 1), (7, 7), (3000, 2), (3000, 7), (65, 64) })
        {
            var next = 0;
            for (var i = 0; i < bands; i++)
            {
                var (start, end) = MaskUpsampler.Band(height, bands, i);
                Assert.That(start, Is.EqualTo(next));
                Assert.That(end, Is.GreaterThan(start));
                next = end;
            }
            Assert.That(next, Is.EqualTo(height));
        }
    }

    private static int FirstDifference(byte[] actual, byte[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        var i = actual.AsSpan().IndexOfAnyExcept((byte)0, (byte)255);
        Assert.That(i, Is.EqualTo(-1), "mask bytes are 0 or 255");
        for (var k = 0; k < actual.Length; k++)
        {
            if (actual[k] != expected[k]) return k;
        }
        return -1;
    }
}
