using System.Buffers;
using NUnit.Framework;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;
using SkiaSharp;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class Sam2PreprocessorTests
{
    private const int Size = Sam2Preprocessor.InputSize;
    private static readonly double[] s_mean = [0.485, 0.456, 0.406];
    private static readonly double[] s_std = [0.229, 0.224, 0.225];

    [TestCase(640, 480)]   // upscale both axes
    [TestCase(333, 777)]   // upscale x, downscale y
    [TestCase(2000, 1200)] // downscale both axes (antialiased)
    [TestCase(1024, 1024)] // identity
    public void ToInputTensor_RandomImage_MatchesDoubleReference(int width, int height)
    {
        var rgb = TestImages.RandomRgb(width, height, seed: width * 31 + height);
        var actual = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, width, height, actual);

        var expected = ReferenceTensor(rgb, width, height);
        var maxDiff = MaxAbsDiff(actual, expected);
        TestContext.Out.WriteLine($"{width}x{height}: max |float - double reference| = {maxDiff:E2}");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void ToInputTensor_Identity_IsNormalisedInput()
    {
        var rgb = TestImages.RandomRgb(Size, Size, seed: 1);
        var actual = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, Size, Size, actual);

        var maxDiff = 0.0;
        for (var c = 0; c < 3; c++)
        {
            for (var p = 0; p < Size * Size; p++)
            {
                var expected = (rgb[p * 3 + c] / 255.0 - s_mean[c]) / s_std[c];
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[c * Size * Size + p] - expected));
            }
        }

        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-6));
    }

    [Test]
    public void ToInputTensor_2048Halved_UsesTapsOneEighthThreeEighths()
    {
        // R depends on x only, G on y only, B is constant, so each output is one hand-computable 4-tap sum.
        const int Side = 2048;
        var rgb = new byte[Side * Side * 3];
        for (var y = 0; y < Side; y++)
        {
            for (var x = 0; x < Side; x++)
            {
                var i = (y * Side + x) * 3;
                rgb[i] = (byte)(x * 37 % 256);
                rgb[i + 1] = (byte)(y * 11 % 256);
                rgb[i + 2] = 255;
            }
        }

        var tensor = new float[Sam2Preprocessor.TensorLength];
        Sam2Preprocessor.ToInputTensor(rgb, Side, Side, tensor);

        // Output column 100 reads input columns 199..202; output row 300 reads input rows 599..602.
        var red = (1.0 / 8 * (199 * 37 % 256) + 3.0 / 8 * (200 * 37 % 256) + 3.0 / 8 * (201 * 37 % 256) + 1.0 / 8 * (202 * 37 % 256)) / 255;
        var green = (1.0 / 8 * (599 * 11 % 256) + 3.0 / 8 * (600 * 11 % 256) + 3.0 / 8 * (601 * 11 % 256) + 1.0 / 8 * (602 * 11 % 256)) / 255;
        var p = 300 * Size + 100;
        Assert.Multiple(() =>
        {
            Assert.That(tensor[p], Is.EqualTo((red - 0.485) / 0.229).Within(1e-5));
            Assert.That(tensor[Size * Size + p], Is.EqualTo((green - 0.456) / 0.224).Within(1e-5));
            Assert.That(tensor[2 * Size * Size + p], Is.EqualTo((1.0 - 0.406) / 0.225).Within(1e-5));
        });
    }

    [TestCase("small")] // 37×53 upscaled
    [TestCase("large")] // 2000×1200 downscaled
    public void ToInputTensor_FixedPattern_MatchesPillowFloatBilinear(string pattern)
    {
        var (rgb, width, height) = PilResizeFixture.Pattern(pattern);
        var tensor = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, width, height, tensor);

        var samples = PilResizeFixture.Samples.Where(s => s.Pattern == pattern).ToArray();
        Assert.That(samples, Has.Length.GreaterThanOrEqualTo(50));
        var maxDiff = 0.0;
        foreach (var s in samples)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(tensor[(s.Channel * Size + s.Y) * Size + s.X] - s.Expected));
        }

        TestContext.Out.WriteLine($"{pattern}: max |ours - Pillow| over {samples.Length} samples = {maxDiff:E2}");
        Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void ToInputTensor_DecodedImage_SameAsRawPixels()
    {
        var rgb = TestImages.RandomRgb(300, 200, seed: 9);
        using var image = ImageDecoder.Decode(TestImages.Encode(rgb, 300, 200, SKEncodedImageFormat.Png));
        var fromImage = new float[Sam2Preprocessor.TensorLength];
        var fromRaw = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(image, fromImage);
        Sam2Preprocessor.ToInputTensor(rgb, 300, 200, fromRaw);

        Assert.That(fromImage, Is.EqualTo(fromRaw));
    }

    [Test]
    public void ToInputTensor_Repeated_AllocatesNoLargeBuffers()
    {
        var rgb = TestImages.RandomRgb(1500, 1125, seed: 2);
        var tensor = ArrayPool<float>.Shared.Rent(Sam2Preprocessor.TensorLength);
        try
        {
            Sam2Preprocessor.ToInputTensor(rgb, 1500, 1125, tensor); // warm-up: kernels cached, pool primed

            var before = GC.GetAllocatedBytesForCurrentThread();
            Sam2Preprocessor.ToInputTensor(rgb, 1500, 1125, tensor);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.That(allocated, Is.LessThan(64 * 1024));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tensor);
        }
    }

    [Test]
    public void ToInputTensor_ShortBuffers_Throw()
    {
        var rgb = new byte[10 * 10 * 3];
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Sam2Preprocessor.ToInputTensor(rgb, 10, 10, new float[Sam2Preprocessor.TensorLength - 1]));
            Assert.Throws<ArgumentOutOfRangeException>(() => Sam2Preprocessor.ToInputTensor(rgb, 10, 11, new float[Sam2Preprocessor.TensorLength]));
        });
    }

    [TestCase(640, 480, 2)]
    [TestCase(2000, 1200, 2)]
    [TestCase(1500, 1125, 7)]
    [TestCase(333, 777, 3)]
    public void ToInputTensor_Bands_BitIdenticalToOneThread(int width, int height, int bands)
    {
        var rgb = TestImages.RandomRgb(width, height, seed: width + bands);
        var one = new float[Sam2Preprocessor.TensorLength];
        var split = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, 3, width, height, one, bands: 1);
        Sam2Preprocessor.ToInputTensor(rgb, 3, width, height, split, bands);

        Assert.That(split, Is.EqualTo(one));
    }

    [TestCase(640, 480)]
    [TestCase(1500, 1125)]
    public void ToInputTensor_RgbaPixels_BitIdenticalToRgb(int width, int height)
    {
        var rgb = TestImages.RandomRgb(width, height, seed: 5);
        var rgba = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            rgb.AsSpan(3 * i, 3).CopyTo(rgba.AsSpan(4 * i));
            rgba[4 * i + 3] = (byte)(i * 7); // alpha is ignored
        }
        var fromRgb = new float[Sam2Preprocessor.TensorLength];
        var fromRgba = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, width, height, fromRgb);
        Sam2Preprocessor.ToInputTensor(rgba, 4, width, height, fromRgba);

        Assert.That(fromRgba, Is.EqualTo(fromRgb));
    }

    [TestCase(SKEncodedImageFormat.Jpeg)]
    [TestCase(SKEncodedImageFormat.Png)]
    public void ToInputTensor_DecodedAsRgba_SameAsDecodedAsRgb(SKEncodedImageFormat format)
    {
        var encoded = TestImages.Encode(TestImages.RandomRgb(1200, 1100, seed: 3), 1200, 1100, format);
        using var rgb = ImageDecoder.Decode(encoded);
        using var rgba = ImageDecoder.Decode(encoded, allowRgba: true);
        var fromRgb = new float[Sam2Preprocessor.TensorLength];
        var fromRgba = new float[Sam2Preprocessor.TensorLength];

        Sam2Preprocessor.ToInputTensor(rgb, fromRgb);
        Sam2Preprocessor.ToInputTensor(rgba, fromRgba);

        Assert.That((rgb.BytesPerPixel, rgba.BytesPerPixel), Is.EqualTo((3, 4)));
        Assert.That(fromRgba, Is.EqualTo(fromRgb));
    }

    /// <summary>The Appendix pseudo-code, literally, in double: per output pixel, a 2-D weighted sum of uint8/255.</summary>
    private static double[] ReferenceTensor(byte[] rgb, int width, int height)
    {
        var wx = ReferenceWeights(width, Size);
        var wy = ReferenceWeights(height, Size);
        var result = new double[3 * Size * Size];
        for (var c = 0; c < 3; c++)
        {
            for (var i = 0; i < Size; i++)
            {
                for (var j = 0; j < Size; j++)
                {
                    var sum = 0.0;
                    for (var a = 0; a < wy[i].Weights.Length; a++)
                    {
                        var y = wy[i].Lo + a;
                        for (var b = 0; b < wx[j].Weights.Length; b++)
                        {
                            var x = wx[j].Lo + b;
                            sum += wy[i].Weights[a] * wx[j].Weights[b] * (rgb[(y * width + x) * 3 + c] / 255.0);
                        }
                    }

                    result[(c * Size + i) * Size + j] = (sum - s_mean[c]) / s_std[c];
                }
            }
        }

        return result;
    }

    private static (int Lo, double[] Weights)[] ReferenceWeights(int inSize, int outSize)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1);
        var support = 1.0 * filterScale;
        var result = new (int, double[])[outSize];
        for (var i = 0; i < outSize; i++)
        {
            var center = (i + 0.5) * scale;
            var lo = Math.Max(0, (int)(center - support + 0.5));
            var hi = Math.Min(inSize, (int)(center + support + 0.5));
            var w = new double[hi - lo];
            for (var j = lo; j < hi; j++)
            {
                w[j - lo] = Math.Max(0, 1 - Math.Abs((j - center + 0.5) / filterScale));
            }

            var total = w.Sum();
            for (var k = 0; k < w.Length; k++)
            {
                w[k] /= total;
            }

            result[i] = (lo, w);
        }

        return result;
    }

    private static double MaxAbsDiff(float[] actual, double[] expected)
    {
        var max = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(actual[i] - expected[i]));
        }

        return max;
    }
}
