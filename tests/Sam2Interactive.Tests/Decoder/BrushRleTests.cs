using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Tests.Decoder;

[TestFixture]
[Category("Fast")]
public sealed class BrushRleTests
{
    private static readonly string s_vectorDirectory = Path.Combine(AppContext.BaseDirectory, "RleVectors");

    /// <summary>Names of the vendored mask2rle reference vectors, from their index.</summary>
    private static string[] VectorNames()
    {
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(s_vectorDirectory, "index.json")));
        return index.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToArray();
    }

    [Test]
    public void VectorNames_Index_Lists42ExistingFiles()
    {
        var names = VectorNames().ToArray();
        Assert.That(names, Has.Length.EqualTo(42));
        Assert.That(names.Select(n => File.Exists(Path.Combine(s_vectorDirectory, n + ".json"))), Is.All.True);
    }

    [TestCaseSource(nameof(VectorNames))]
    public void Encode_ReferenceVector_EqualsMask2RleBytes(string name)
    {
        var vector = ReferenceVector.Load(name);

        var rle = BrushRle.Encode(vector.Pixels);

        Assert.That(rle, Has.Length.EqualTo(vector.Rle.Length));
        Assert.That(rle, Is.EqualTo(vector.Rle));
    }

    [TestCaseSource(nameof(VectorNames))]
    public void EncodeSpan_ReferenceVector_EqualsArrayVariantAndExactLength(string name)
    {
        var vector = ReferenceVector.Load(name);
        var destination = new byte[BrushRle.GetMaxEncodedLength(vector.Pixels.Length)];

        var written = BrushRle.Encode(vector.Pixels, destination);

        Assert.That(BrushRle.GetEncodedLength(vector.Pixels), Is.EqualTo(vector.Rle.Length));
        Assert.That(written, Is.EqualTo(vector.Rle.Length));
        Assert.That(destination.AsSpan(0, written).ToArray(), Is.EqualTo(BrushRle.Encode(vector.Pixels)));
    }

    [TestCaseSource(nameof(VectorNames))]
    public void Decode_ReferenceVector_ReturnsPixelsRepeatedAsRgba(string name)
    {
        var vector = ReferenceVector.Load(name);

        var rgba = BrushRle.Decode(vector.Rle);

        Assert.That(rgba, Is.EqualTo(ToRgba(vector.Pixels)));
    }

    [TestCaseSource(nameof(VectorNames))]
    public void EncodeRuns_ReferenceVectorSplitIntoBands_EqualsMask2RleBytes(string name)
    {
        var vector = ReferenceVector.Load(name);
        var pixels = vector.Pixels;
        // Band boundaries anywhere (runs do not know rows): 1 band, 3 uneven bands, and every pixel its own band when small.
        foreach (var bandCount in new[] { 1, 3, pixels.Length <= 4096 ? pixels.Length : 97 })
        {
            var bands = new MaskRuns[Math.Min(bandCount, pixels.Length)];
            try
            {
                for (var i = 0; i < bands.Length; i++)
                {
                    long start = (long)pixels.Length * i / bands.Length, end = (long)pixels.Length * (i + 1) / bands.Length;
                    bands[i].AddPixels(pixels.AsSpan((int)start, (int)(end - start)));
                }

                var rle = new byte[BrushRle.GetEncodedLength(bands)];
                var written = BrushRle.Encode(bands, rle);

                Assert.That(written, Is.EqualTo(vector.Rle.Length), $"{bands.Length} bands");
                Assert.That(rle, Is.EqualTo(vector.Rle), $"{bands.Length} bands");
            }
            finally
            {
                foreach (var b in bands) b.Dispose();
            }
        }
    }

    [TestCase("disc", 4000, 3000)]    // one thread
    [TestCase("noise", 4000, 3000)]   // every cell mixed: split across cores when there are several
    [TestCase("special", 777, 555)]
    [TestCase("waves", 1, 1)]
    [TestCase("full", 300, 4000)]     // one run of 4.8 M values, chunked
    public void EncodeMask_Field_EqualsEncodeOfItsPixels(string field, int width, int height)
    {
        var logits = MaskUpsamplerTests.Logits(field);
        var expected = BrushRle.Encode(MaskUpsamplerTests.Reference(logits, width, height));
        using var mask = MaskPrediction.FromLogits(logits, width, height);

        var rle = BrushRle.Encode(mask);
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        var written = BrushRle.Encode(mask, writer);

        Assert.That(rle, Is.EqualTo(expected));
        Assert.That(written, Is.EqualTo(expected.Length));
        Assert.That(writer.WrittenSpan.ToArray(), Is.EqualTo(expected));
        Assert.That(mask.HasPixels, Is.False, "the W×H mask was never produced");
    }

    [Test]
    public void EncodeMask_FullSizePixels_EqualsEncodeOfThem()
    {
        using var mask = new MaskPrediction(37, 53, 1f, 0, hasLowResLogits: false);
        var pixels = mask.RentPixels();
        pixels.Clear();
        pixels[100..900].Fill(255);

        Assert.That(BrushRle.Encode(mask), Is.EqualTo(BrushRle.Encode(pixels)));
    }

    [TestCase(1, 0)]
    [TestCase(2, 1)]
    [TestCase(3, 2)]
    [TestCase(70_000, 3)]
    [TestCase(200_003, 4)]
    public void DecodeEncode_RandomRunsOfAnyByteValue_RoundTrips(int pixelCount, int seed)
    {
        // Run lengths cross every tier boundary (1,2 | 3,4 | 5..64 | 65..) and the 16384-pixel chunk size.
        var random = new Random(seed);
        var pixels = new byte[pixelCount];
        int[] lengths = [1, 2, 3, 4, 5, 64, 65, 16_383, 16_384, 16_385, 40_000];
        for (var i = 0; i < pixels.Length;)
        {
            var length = Math.Min(lengths[random.Next(lengths.Length)], pixels.Length - i);
            pixels.AsSpan(i, length).Fill((byte)random.Next(256));
            i += length;
        }

        var rgba = BrushRle.Decode(BrushRle.Encode(pixels));

        Assert.That(rgba, Is.EqualTo(ToRgba(pixels)));
    }

    [Test]
    public void Encode_TwoEllipses4000x3000_DecodesBackToMask()
    {
        const int Width = 4000, Height = 3000;
        var pixels = new byte[Width * Height];
        FillEllipse(pixels, Width, cx: 1200, cy: 1000, rx: 700, ry: 450);
        FillEllipse(pixels, Width, cx: 2900, cy: 2100, rx: 500, ry: 800);
        var destination = new byte[BrushRle.GetEncodedLength(pixels)];

        var written = BrushRle.Encode(pixels, destination);
        var rgba = BrushRle.Decode(destination);

        Assert.That(written, Is.EqualTo(destination.Length));
        Assert.That(rgba, Has.Length.EqualTo(4 * Width * Height));
        Assert.That(rgba, Is.EqualTo(ToRgba(pixels)));
    }

    [Test]
    public void Encode_DestinationOneByteShort_ThrowsArgumentException()
    {
        var pixels = new byte[64];
        pixels.AsSpan(10, 7).Fill(255);
        var destination = new byte[BrushRle.GetEncodedLength(pixels) - 1];

        Assert.That(() => BrushRle.Encode(pixels, destination), Throws.ArgumentException);
    }

    [Test]
    public void Encode_EmptyMask_ThrowsArgumentException()
    {
        Assert.That(() => BrushRle.Encode(ReadOnlySpan<byte>.Empty), Throws.ArgumentException);
    }

    [Test]
    public void GetMaxEncodedLength_AlternatingPixels_BoundsExactLength()
    {
        var pixels = new byte[1001];
        for (var i = 0; i < pixels.Length; i += 2)
        {
            pixels[i] = 255;
        }

        // One-pixel runs are the worst case the bound is derived from: 53 + 14·1001 bits + 1..8 pad bits.
        Assert.That(BrushRle.GetEncodedLength(pixels), Is.EqualTo((53 + (14 * 1001)) / 8 + 1));
        Assert.That(BrushRle.GetMaxEncodedLength(pixels.Length), Is.GreaterThanOrEqualTo(BrushRle.GetEncodedLength(pixels)));
    }

    [Test]
    public void Decode_LiteralAndRunRecords_ReturnsValues()
    {
        // N=5, wordsize 8, tiers 3,4,8,16; literal record (flag 0, tier 0, count 2) of 10,20,30; run record of 2× 7.
        var rle = Bits(
            "00000000000000000000000000000101", "00111", "0010", "0011", "0111", "1111",
            "0", "00", "010", "00001010", "00010100", "00011110",
            "1", "00", "001", "00000111");

        Assert.That(BrushRle.Decode(rle), Is.EqualTo(new byte[] { 10, 20, 30, 7, 7 }));
    }

    [Test]
    public void Decode_SmallerWordSizeAndTierWidths_ReturnsValues()
    {
        // N=6, wordsize 2, tiers 2,2,2,2: a run of 4× value 3 (tier 1, count 3), then a run of 2× value 1 (tier 0, count 1).
        var rle = Bits(
            "00000000000000000000000000000110", "00001", "0001", "0001", "0001", "0001",
            "1", "01", "11", "11",
            "1", "00", "01", "01");

        Assert.That(BrushRle.Decode(rle), Is.EqualTo(new byte[] { 3, 3, 3, 3, 1, 1 }));
    }

    [Test]
    public void Decode_TruncatedStream_ThrowsInvalidDataException()
    {
        var rle = BrushRle.Encode(new byte[] { 0, 0, 255, 255, 0 });

        Assert.That(() => BrushRle.Decode(rle.AsSpan(0, 8)), Throws.InstanceOf<InvalidDataException>());
    }

    [Test]
    public void Decode_RecordLongerThanCount_ThrowsInvalidDataException()
    {
        // N=4 but the run record covers 8 values.
        var rle = Bits("00000000000000000000000000000100", "00111", "0010", "0011", "0111", "1111", "1", "00", "111", "11111111");

        Assert.That(() => BrushRle.Decode(rle), Throws.InstanceOf<InvalidDataException>());
    }

    private static byte[] ToRgba(ReadOnlySpan<byte> pixels)
    {
        var rgba = new byte[4 * pixels.Length];
        for (var i = 0; i < pixels.Length; i++)
        {
            rgba.AsSpan(4 * i, 4).Fill(pixels[i]);
        }

        return rgba;
    }

    private static void FillEllipse(byte[] pixels, int width, int cx, int cy, int rx, int ry)
    {
        for (var y = cy - ry; y <= cy + ry; y++)
        {
            var dy = (double)(y - cy) / ry;
            var half = (int)(rx * Math.Sqrt(1 - (dy * dy)));
            pixels.AsSpan((y * width) + cx - half, (2 * half) + 1).Fill(255);
        }
    }

    /// <summary>Packs '0'/'1' strings MSB-first into bytes, zero-padding the last byte.</summary>
    private static byte[] Bits(params string[] fields)
    {
        var bits = string.Concat(fields);
        var bytes = new byte[(bits.Length + 7) / 8];
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i] == '1')
            {
                bytes[i / 8] |= (byte)(0x80 >> (i % 8));
            }
        }

        return bytes;
    }

    /// <summary>One vendored vector: the mask as pixel bytes (mask × foreground_value) and mask2rle's output.</summary>
    private sealed record ReferenceVector(byte[] Pixels, byte[] Rle)
    {
        public static ReferenceVector Load(string name)
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(s_vectorDirectory, name + ".json")));
            var root = json.RootElement;
            var width = root.GetProperty("width").GetInt32();
            var height = root.GetProperty("height").GetInt32();
            var foreground = checked((byte)root.GetProperty("foreground_value").GetInt32());
            var pixels = new byte[width * height];

            var rows = root.GetProperty("mask_rows");
            if (rows.ValueKind == JsonValueKind.Array)
            {
                var y = 0;
                foreach (var row in rows.EnumerateArray())
                {
                    var text = Encoding.ASCII.GetBytes(row.GetString()!);
                    Assert.That(text, Has.Length.EqualTo(width));
                    for (var x = 0; x < width; x++)
                    {
                        pixels[(y * width) + x] = text[x] == (byte)'1' ? foreground : (byte)0;
                    }

                    y++;
                }

                Assert.That(y, Is.EqualTo(height));
            }
            else
            {
                // np.packbits, MSB first: bit k is (byte[k >> 3] >> (7 - (k & 7))) & 1.
                var packed = Convert.FromBase64String(root.GetProperty("mask_packbits_b64").GetString()!);
                for (var k = 0; k < pixels.Length; k++)
                {
                    pixels[k] = ((packed[k >> 3] >> (7 - (k & 7))) & 1) != 0 ? foreground : (byte)0;
                }
            }

            Assert.That(pixels.Count(p => p != 0), Is.EqualTo(root.GetProperty("foreground_pixels").GetInt32()));
            var rle = root.GetProperty("rle").EnumerateArray().Select(e => checked((byte)e.GetInt32())).ToArray();
            return new ReferenceVector(pixels, rle);
        }
    }
}
