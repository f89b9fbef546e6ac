using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

[TestFixture]
[Category("Fast")]
public sealed class MaskPostprocessorTests
{
    private const int N = MaskPostprocessor.LowResSize;

    // Reference: torch.nn.functional.interpolate(mode="bilinear", align_corners=False) written out per pixel in double.
    private static double Reference(float[] logits, int width, int height, int x, int y)
    {
        static (int, int, double) Src(int dst, int outSize)
        {
            var src = Math.Max(0.0, (double)N / outSize * (dst + 0.5) - 0.5);
            var i0 = (int)Math.Floor(src);
            var i1 = Math.Min(i0 + 1, N - 1);
            return (i0, i1, src - i0);
        }
        var (x0, x1, lx) = Src(x, width);
        var (y0, y1, ly) = Src(y, height);
        double At(int r, int c) => logits[r * N + c];
        return (1 - ly) * ((1 - lx) * At(y0, x0) + lx * At(y0, x1)) + ly * ((1 - lx) * At(y1, x0) + lx * At(y1, x1));
    }

    private static float[] RandomLogits(int seed)
    {
        var random = new Random(seed);
        var logits = new float[N * N];
        // Smooth field with real zero crossings, like decoder logits.
        for (var y = 0; y < N; y++)
        {
            for (var x = 0; x < N; x++)
            {
                logits[y * N + x] = (float)(8 * Math.Sin(x / 9.0 + seed) * Math.Cos(y / 13.0) + random.NextDouble() - 0.5);
            }
        }
        return logits;
    }

    [TestCase(640, 480)]   // landscape, upscale
    [TestCase(480, 640)]   // portrait
    [TestCase(333, 777)]   // odd sizes
    [TestCase(256, 256)]   // identity
    [TestCase(100, 37)]    // downscale (no antialias, as upstream)
    [TestCase(2000, 1200)]
    public void UpsampleAndThreshold_RandomLogits_MatchesBilinearHalfPixelReference(int width, int height)
    {
        var logits = RandomLogits(width ^ height);
        var mask = new byte[width * height];
        MaskPostprocessor.UpsampleAndThreshold(logits, width, height, mask);

        var mismatches = 0;
        var foreground = 0;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var expected = Reference(logits, width, height, x, y);
                var actual = mask[y * width + x];
                Assert.That(actual, Is.EqualTo(0).Or.EqualTo(255));
                if (actual == 255) foreground++;
                // Float32 vs double rounding can only flip a pixel whose value is within rounding of 0.
                if ((actual == 255) != (expected > 0) && Math.Abs(expected) > 1e-4) mismatches++;
            }
        }
        Assert.That(mismatches, Is.Zero);
        Assert.That(foreground, Is.InRange(width * height / 10, width * height * 9 / 10));
    }

    [Test]
    public void UpsampleAndThreshold_HalfPixelEdge_UsesQuarterWeights()
    {
        // Output 512 wide: pixel 1 samples src 0.25 → 0.75·L[0] + 0.25·L[1]. With L[0] = −1, L[1] = 3.5 the value is +0.125
        // (foreground); align_corners=True would give a different weight and a negative value.
        var logits = new float[N * N];
        for (var y = 0; y < N; y++)
        {
            logits[y * N] = -1f;
            logits[y * N + 1] = 3.5f;
            for (var x = 2; x < N; x++) logits[y * N + x] = -5f;
        }
        var mask = new byte[512 * 4];
        MaskPostprocessor.UpsampleAndThreshold(logits, 512, 4, mask);
        Assert.That(mask[0], Is.Zero, "pixel 0 clamps to src 0 → −1");
        Assert.That(mask[1], Is.EqualTo(255), "pixel 1 → 0.75·(−1) + 0.25·3.5 = 0.125");
        Assert.That(mask[2], Is.EqualTo(255), "pixel 2 → 0.25·(−1) + 0.75·3.5");
    }

    [Test]
    public void UpsampleAndThreshold_ZeroLogit_IsBackground()
    {
        var logits = new float[N * N];
        var mask = new byte[64 * 64];
        MaskPostprocessor.UpsampleAndThreshold(logits, 64, 64, mask);
        Assert.That(mask, Is.All.EqualTo(0), "threshold is strict: logit > 0");
    }

    [Test]
    public void FillHolesAndSprinkles_SmallHoleAndSprinkle_FilledAndRemoved()
    {
        var logits = new float[N * N];
        Array.Fill(logits, -5f);
        // A 40×40 foreground square with a 3×3 hole, and an isolated 2-pixel diagonal sprinkle (8-connected: one component).
        for (var y = 100; y < 140; y++) for (var x = 100; x < 140; x++) logits[y * N + x] = 5f;
        for (var y = 110; y < 113; y++) for (var x = 110; x < 113; x++) logits[y * N + x] = -5f;
        logits[20 * N + 20] = 4f;
        logits[21 * N + 21] = 4f;

        MaskPostprocessor.FillHolesAndSprinkles(logits, maxHoleArea: 9, maxSprinkleArea: 2);

        Assert.That(logits[111 * N + 111], Is.EqualTo(10f), "hole of 9 pixels filled to threshold + 10");
        Assert.That(logits[20 * N + 20], Is.EqualTo(-10f), "diagonal pair is one 8-connected sprinkle of 2");
        Assert.That(logits[21 * N + 21], Is.EqualTo(-10f));
        Assert.That(logits[120 * N + 130], Is.EqualTo(5f), "the object itself is untouched");
        Assert.That(logits[0], Is.EqualTo(-5f), "the large background stays");
    }

    [Test]
    public void FillHolesAndSprinkles_AreasAboveLimits_Unchanged()
    {
        var logits = new float[N * N];
        Array.Fill(logits, -5f);
        for (var y = 100; y < 140; y++) for (var x = 100; x < 140; x++) logits[y * N + x] = 5f;
        for (var y = 110; y < 113; y++) for (var x = 110; x < 113; x++) logits[y * N + x] = -5f;
        var before = (float[])logits.Clone();

        MaskPostprocessor.FillHolesAndSprinkles(logits, maxHoleArea: 8, maxSprinkleArea: 0);

        Assert.That(logits, Is.EqualTo(before));
    }
}
