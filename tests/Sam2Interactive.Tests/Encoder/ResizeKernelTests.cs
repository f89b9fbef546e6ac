using NUnit.Framework;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class ResizeKernelTests
{
    [Test]
    public void Create_2048To1024_InteriorTapsAreOneEighthThreeEighths()
    {
        var kernel = ResizeKernel.Create(2048, 1024);

        for (var i = 1; i < 1023; i++)
        {
            Assert.That(kernel.Start(i), Is.EqualTo(2 * i - 1));
            Assert.That(kernel.Weights(i).ToArray(), Is.EqualTo(new[] { 0.125f, 0.375f, 0.375f, 0.125f }));
        }
    }

    [Test]
    public void Create_2048To1024_EdgeWindowsClippedAndRenormalised()
    {
        var kernel = ResizeKernel.Create(2048, 1024);

        // i=0: centre 1, window [0,3): raw triangle weights .75,.75,.25 → /1.75. i=1023: mirror image.
        Assert.Multiple(() =>
        {
            Assert.That(kernel.Start(0), Is.EqualTo(0));
            Assert.That(kernel.Weights(0).ToArray(), Is.EqualTo(new[] { 3f / 7, 3f / 7, 1f / 7 }).Within(1e-7));
            Assert.That(kernel.Start(1023), Is.EqualTo(2045));
            Assert.That(kernel.Weights(1023).ToArray(), Is.EqualTo(new[] { 1f / 7, 3f / 7, 3f / 7 }).Within(1e-7));
        });
    }

    [Test]
    public void Create_SameSize_SingleUnitTap()
    {
        var kernel = ResizeKernel.Create(1024, 1024);

        for (var i = 0; i < 1024; i++)
        {
            Assert.That((kernel.Start(i), kernel.Weights(i).ToArray()), Is.EqualTo((i, new[] { 1f })));
        }
    }

    [TestCase(37, 1024)]
    [TestCase(480, 1024)]
    public void Create_Upscale_IsHalfPixelBilinearWithEdgeClamp(int inSize, int outSize)
    {
        var kernel = ResizeKernel.Create(inSize, outSize);

        for (var i = 0; i < outSize; i++)
        {
            var src = (i + 0.5) * inSize / outSize - 0.5;
            var expected = new double[inSize];
            var clamped = Math.Clamp(src, 0, inSize - 1);
            var j0 = (int)Math.Floor(clamped);
            var frac = clamped - j0;
            expected[j0] += 1 - frac;
            if (frac > 0)
            {
                expected[j0 + 1] += frac;
            }

            var actual = new double[inSize];
            var weights = kernel.Weights(i);
            for (var k = 0; k < weights.Length; k++)
            {
                actual[kernel.Start(i) + k] = weights[k];
            }

            Assert.That(actual, Is.EqualTo(expected).Within(1e-6), $"output {i}");
        }
    }

    [TestCase(640, 1024)]
    [TestCase(1200, 1024)]
    [TestCase(4000, 1024)]
    [TestCase(100_000, 1024)]
    public void Create_AnySize_WindowsInsideInputAndWeightsSumToOne(int inSize, int outSize)
    {
        var kernel = ResizeKernel.Create(inSize, outSize);

        for (var i = 0; i < outSize; i++)
        {
            var weights = kernel.Weights(i);
            Assert.That(kernel.Start(i), Is.GreaterThanOrEqualTo(0));
            Assert.That(kernel.Start(i) + kernel.Count(i), Is.LessThanOrEqualTo(inSize));
            Assert.That(weights.Length, Is.EqualTo(kernel.Count(i)).And.LessThanOrEqualTo(kernel.Stride));
            var sum = 0.0;
            foreach (var w in weights)
            {
                sum += w;
            }

            Assert.That(sum, Is.EqualTo(1.0).Within(1e-5));
        }
    }

    [Test]
    public void Get_SamePair_ReturnsCachedInstance()
    {
        var first = ResizeKernel.Get(777, 1024);
        var second = ResizeKernel.Get(777, 1024);

        Assert.That(second, Is.SameAs(first));
    }
}
