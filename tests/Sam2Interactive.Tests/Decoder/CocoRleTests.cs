using NUnit.Framework;
using Sam2Interactive.Decoder;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>COCO compressed RLE, checked against vectors worked by hand from cocoapi's maskApi.c and by an independent reader.</summary>
[TestFixture]
[Category("Fast")]
public sealed class CocoRleTests
{
    private static byte[] Mask(int w, int h, Func<int, int, bool> set)
    {
        var mask = new byte[w * h];
        for (var y = 0; y < h; y++) for (var x = 0; x < w; x++) mask[y * w + x] = set(x, y) ? (byte)255 : (byte)0;
        return mask;
    }

    // Counts worked by hand (column-major runs, zeros first; deltas from the fourth count; 5-bit groups + 48).
    [TestCase(2, 2, "....", "4")]          // empty: one count, h·w
    [TestCase(2, 2, "####", "04")]         // full: a zero run of 0, then 4
    [TestCase(3, 2, "#.....", "015")]      // pixel (0,0) only: [0, 1, 5]
    [TestCase(3, 2, ".#....", "213")]      // (1,0) is column-major index 1·h + 0 = 2: [2, 1, 3]
    [TestCase(2, 2, ".#.#", "22")]         // the right column: [2, 2]
    public void Encode_SmallMasks_CountsAsPycocotoolsWritesThem(int w, int h, string rows, string expected)
    {
        // rows: w·h characters, row-major, '#' = foreground.
        var mask = rows.Select(c => c == '#' ? (byte)255 : (byte)0).ToArray();

        Assert.That(CocoRle.Encode(mask, w, h), Is.EqualTo(expected));
    }

    [Test]
    public void Encode_NegativeDelta_WritesTheSignBitInTheLastGroup()
    {
        // One column of 20: runs [5, 10, 3, 2]; the 4th count is written as 2 − 10 = −8: group 0b11000 ('H').
        var mask = Enumerable.Range(0, 20).Select(i => i is >= 5 and < 15 or >= 18 ? (byte)1 : (byte)0).ToArray();

        var counts = CocoRle.Encode(mask, 1, 20);

        Assert.That(counts, Is.EqualTo("5:3H"));
        Assert.That(CocoRleReader.Counts(counts), Is.EqualTo(new long[] { 5, 10, 3, 2 }));
    }

    [TestCase(1, 1)]
    [TestCase(7, 3)]
    [TestCase(640, 480)]
    [TestCase(1999, 1001)]   // long runs: several 5-bit groups, large deltas of both signs
    public void Encode_EllipseAndNoise_IndependentReaderGivesTheMaskBack(int w, int h)
    {
        var random = new Random(w * 31 + h);
        var noise = Mask(w, h, (_, _) => random.Next(4) == 0);
        var ellipse = Mask(w, h, (x, y) => Math.Pow((x - 0.4 * w) / (0.3 * w + 1), 2) + Math.Pow((y - 0.6 * h) / (0.2 * h + 1), 2) <= 1);

        foreach (var mask in new[] { noise, ellipse })
        {
            var decoded = CocoRleReader.Decode(CocoRle.Encode(mask, w, h), h, w);
            Assert.That(decoded.Select(v => v != 0), Is.EqualTo(mask.Select(v => v != 0)));
        }
    }

    [Test]
    public void Encode_AnyNonZeroIsForeground()
    {
        byte[] mask = [0, 1, 2, 255];

        Assert.That(CocoRle.Encode(mask, 2, 2), Is.EqualTo(CocoRle.Encode([0, 255, 255, 255], 2, 2)));
    }
}
