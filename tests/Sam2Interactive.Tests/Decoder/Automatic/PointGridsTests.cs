using NUnit.Framework;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary><c>build_point_grid</c> and <c>build_all_layer_point_grids</c> (sam2/utils/amg.py), values worked out by hand.</summary>
[TestFixture]
[Category("Fast")]
public sealed class PointGridsTests
{
    [Test]
    public void Build_OnePerSide_IsTheCentre() => Assert.That(PointGrids.Build(1), Is.EqualTo(new[] { 0.5, 0.5 }));

    [Test]
    public void Build_TwoPerSide_QuartersInRowMajorOrderXFastest()
    {
        // offset 1/4; linspace(0.25, 0.75, 2) = [0.25, 0.75]; x tiles along rows, y along columns.
        Assert.That(PointGrids.Build(2), Is.EqualTo(new[] { 0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75 }));
    }

    [Test]
    public void Build_FourPerSide_EighthsOffsetByHalfACell()
    {
        var grid = PointGrids.Build(4);
        double[] side = [0.125, 0.375, 0.625, 0.875];
        Assert.That(grid, Has.Length.EqualTo(32));
        for (var k = 0; k < 16; k++)
        {
            Assert.That((grid[2 * k], grid[2 * k + 1]), Is.EqualTo((side[k % 4], side[k / 4])), $"point {k}");
        }
    }

    [Test]
    public void Build_DefaultThirtyTwo_StartsAndEndsHalfACellFromTheEdges()
    {
        var grid = PointGrids.Build(32);
        Assert.That(grid, Has.Length.EqualTo(2 * 1024));
        Assert.That((grid[0], grid[1]), Is.EqualTo((1.0 / 64, 1.0 / 64)));
        Assert.That((grid[2], grid[3]), Is.EqualTo((3.0 / 64, 1.0 / 64)));
        Assert.That((grid[^2], grid[^1]), Is.EqualTo((63.0 / 64, 63.0 / 64)));
    }

    [Test]
    public void Linspace_ThreeValues_MiddleIsStartPlusStepAndLastIsStopExactly()
    {
        var values = PointGrids.Linspace(1.0 / 6, 5.0 / 6, 3);
        var step = (5.0 / 6 - 1.0 / 6) / 2;
        Assert.That(values, Is.EqualTo(new[] { 1.0 / 6, 1 * step + 1.0 / 6, 5.0 / 6 }));
    }

    [TestCase(32, 2, 1, new[] { 32, 32, 32 })]  // factor 1: every layer the same
    [TestCase(32, 2, 2, new[] { 32, 16, 8 })]
    [TestCase(5, 2, 2, new[] { 5, 2, 1 })]     // int(5/2) = 2, int(5/4) = 1: truncation
    [TestCase(10, 1, 3, new[] { 10, 3 })]      // int(10/3) = 3
    public void BuildAllLayers_PointsPerSide_ScaleDownByTheFactorPerLayer(int n, int layers, int factor, int[] expected)
    {
        var grids = PointGrids.BuildAllLayers(n, layers, factor);
        Assert.That(grids.Select(g => (int)Math.Sqrt(g.Length / 2)), Is.EqualTo(expected));
    }

    [Test]
    public void BuildAllLayers_LayerWithoutPoints_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PointGrids.BuildAllLayers(3, 2, 2)); // int(3/4) = 0
}
