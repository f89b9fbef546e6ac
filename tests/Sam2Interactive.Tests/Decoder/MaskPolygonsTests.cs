using NUnit.Framework;
using Sam2Interactive.Decoder;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Decoder;

/// <summary>
/// Round trips: masks drawn here → <see cref="MaskPolygons.Trace"/> → polygons drawn back (even-odd at pixel centres,
/// <see cref="PolygonRaster"/>) and compared with the mask whose holes are filled.
/// </summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskPolygonsTests
{
    private static readonly PolygonOptions s_defaults = new();

    private static byte[] Draw(int w, int h, Func<double, double, bool> inside)
    {
        var mask = new byte[w * h];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                if (inside(x + 0.5, y + 0.5))
                    mask[y * w + x] = 255;
            }
        }

        return mask;
    }

    private static bool Disc(double x, double y, double cx, double cy, double r) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;

    private static bool Star(double x, double y, double cx, double cy, double outer, double inner)
    {
        // A five-pointed star: the radius along each direction goes linearly from outer (tips) to inner (notches).
        var a = Math.Atan2(y - cy, x - cx) + Math.PI / 2;
        var sector = Math.Tau / 5;
        var t = Math.Abs(((a % sector) + sector) % sector / sector * 2 - 1); // 1 at tips, 0 at notches
        var r = inner + (outer - inner) * t;
        return Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) <= r;
    }

    public static IEnumerable<TestCaseData> RoundTripCases()
    {
        TestCaseData C(string name, int w, int h, Func<double, double, bool> shape, Func<double, double, bool> filled, int polygons) =>
            new TestCaseData(w, h, shape, filled, polygons).SetName("Trace_" + name + "_DrawnBackMatchesFilledMask");

        yield return C("DiscRadius300", 700, 700, (x, y) => Disc(x, y, 350, 350, 300), (x, y) => Disc(x, y, 350, 350, 300), 1);
        yield return C("ConcaveStar", 700, 700, (x, y) => Star(x, y, 350, 350, 320, 110), (x, y) => Star(x, y, 350, 350, 320, 110), 1);
        // A ring's hole is filled: the result is its outer disc.
        yield return C("RingVersusFilledDisc", 600, 600, (x, y) => Disc(x, y, 300, 300, 250) && !Disc(x, y, 300, 300, 120), (x, y) => Disc(x, y, 300, 300, 250), 1);
        yield return C("TwoBlobs", 800, 400, (x, y) => Disc(x, y, 200, 200, 150) || Disc(x, y, 620, 200, 90),
            (x, y) => Disc(x, y, 200, 200, 150) || Disc(x, y, 620, 200, 90), 2);
        // A plus sign reaching all four image borders.
        yield return C("TouchingAllFourBorders", 300, 200, (x, y) => Math.Abs(x - 150) < 40 || Math.Abs(y - 100) < 30,
            (x, y) => Math.Abs(x - 150) < 40 || Math.Abs(y - 100) < 30, 1);
        yield return C("FullImage", 64, 48, (_, _) => true, (_, _) => true, 1);
        // 1×1-pixel detail: an L of one-pixel-wide arms (79 pixels, above the minimum area).
        yield return C("OnePixelWideL", 60, 60, (x, y) => (x > 10 && x < 11 && y > 10 && y < 50) || (y > 49 && y < 50 && x > 10 && x < 50),
            (x, y) => (x > 10 && x < 11 && y > 10 && y < 50) || (y > 49 && y < 50 && x > 10 && x < 50), 1);
        // Two squares touching only at one corner: one 8-connected component, one polygon that does not touch itself.
        yield return C("DiagonalPinch", 40, 40, (x, y) => (x > 5 && x < 15 && y > 5 && y < 15) || (x > 15 && x < 25 && y > 15 && y < 25),
            (x, y) => (x > 5 && x < 15 && y > 5 && y < 15) || (x > 15 && x < 25 && y > 15 && y < 25), 1);
        // An island in a ring's hole is covered by the filled ring: still one polygon.
        yield return C("IslandInHole", 300, 300, (x, y) => (Disc(x, y, 150, 150, 140) && !Disc(x, y, 150, 150, 100)) || Disc(x, y, 150, 150, 40),
            (x, y) => Disc(x, y, 150, 150, 140), 1);
    }

    [TestCaseSource(nameof(RoundTripCases))]
    public void RoundTrip(int w, int h, Func<double, double, bool> shape, Func<double, double, bool> filled, int expectedPolygons)
    {
        var mask = Draw(w, h, shape);

        var polygons = MaskPolygons.Trace(mask, w, h, s_defaults);

        var back = PolygonRaster.Fill(polygons.Select(AsTuples), w, h);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(polygons, Has.Count.EqualTo(expectedPolygons));
            Assert.That(PolygonRaster.IoU(back, Draw(w, h, filled)), Is.GreaterThanOrEqualTo(0.98));
            Assert.That(polygons.Select(p => p.Points.Length), Is.All.InRange(3, s_defaults.MaxPoints));
            Assert.That(polygons.Select(p => PolygonRaster.SelfIntersects(AsTuples(p))), Is.All.False);
            Assert.That(polygons.Select(p => p.Points.All(q => q.X >= 0 && q.X <= w && q.Y >= 0 && q.Y <= h)), Is.All.True);
            Assert.That(polygons.Select(p => p.Area), Is.Ordered.Descending);
        }
    }

    [Test]
    public void Trace_OnePixelLineBelowMinimumArea_NoPolygon()
    {
        var mask = Draw(100, 20, (x, y) => y > 10 && y < 11 && x > 10 && x < 60); // 50 pixels

        Assert.That(MaskPolygons.Trace(mask, 100, 20, s_defaults), Is.Empty);
    }

    [Test]
    public void Trace_EmptyMask_NoPolygon()
    {
        Assert.That(MaskPolygons.Trace(new byte[100 * 80], 100, 80, s_defaults), Is.Empty);
    }

    [Test]
    public void Trace_FullImage_IsTheImageRectangle()
    {
        var mask = Draw(64, 48, (_, _) => true);

        var polygon = MaskPolygons.Trace(mask, 64, 48, s_defaults).Single();

        Assert.That(polygon.Points, Is.EqualTo(new PolygonPoint[] { new(0, 0), new(64, 0), new(64, 48), new(0, 48) }));
        Assert.That(polygon.Area, Is.EqualTo(64 * 48));
    }

    [Test]
    public void Trace_ToleranceZero_ExactPixelEdgesOfEveryPixel()
    {
        var mask = Draw(200, 200, (x, y) => Star(x, y, 100, 100, 90, 35));

        var polygon = MaskPolygons.Trace(mask, 200, 200, s_defaults with { Tolerance = 0, MaxPoints = 100_000 }).Single();

        Assert.That(PolygonRaster.Fill([AsTuples(polygon)], 200, 200), Is.EqualTo(mask));
        Assert.That(polygon.Points.All(p => p.X == Math.Floor(p.X) && p.Y == Math.Floor(p.Y)), Is.True, "corners lie on pixel corners");
    }

    [Test]
    public void Trace_ManyCornersAboveLimit_RaisesToleranceUntilWithinLimit()
    {
        // A disc with a ragged edge: thousands of pixel corners.
        var mask = Draw(900, 900, (x, y) => Disc(x, y, 450, 450, 380 + 6 * Math.Sin(Math.Atan2(y - 450, x - 450) * 90)));

        var polygon = MaskPolygons.Trace(mask, 900, 900, s_defaults with { MaxPoints = 60 }).Single();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(polygon.Points, Has.Length.LessThanOrEqualTo(60));
            Assert.That(polygon.Tolerance, Is.GreaterThan(s_defaults.Tolerance));
            Assert.That(PolygonRaster.SelfIntersects(AsTuples(polygon)), Is.False);
            Assert.That(PolygonRaster.IoU(PolygonRaster.Fill([AsTuples(polygon)], 900, 900), mask), Is.GreaterThanOrEqualTo(0.95));
        }
    }

    [Test]
    public void Trace_ComponentsOfManySizes_LargestFirstAndOnlyAboveMinimum()
    {
        var mask = Draw(400, 100, (x, y) => Disc(x, y, 50, 50, 10) || Disc(x, y, 150, 50, 40) || Disc(x, y, 300, 50, 25) || Disc(x, y, 380, 50, 3));

        var polygons = MaskPolygons.Trace(mask, 400, 100, s_defaults);

        // The r=3 disc (29 pixels) is below 64; the others come largest first.
        Assert.That(polygons.Select(p => (int)Math.Round(p.Points.Average(q => q.X))), Is.EqualTo(new[] { 150, 300, 50 }).Within(2));
    }

    [Test]
    public void Trace_CombOfThinTeeth_NeverSelfIntersectingAtAnyTolerance()
    {
        // Teeth one pixel apart: Douglas–Peucker alone would cut across the gaps; the result must stay simple.
        var mask = Draw(200, 100, (x, y) => y > 80 || ((int)x % 3 != 2 && y > 20 + 30 * Math.Sin(x / 9)));

        foreach (var tolerance in new[] { 0.5, 1.0, 2.0, 4.0, 8.0 })
        {
            var polygons = MaskPolygons.Trace(mask, 200, 100, s_defaults with { Tolerance = tolerance });
            Assert.That(polygons.Select(p => PolygonRaster.SelfIntersects(AsTuples(p))), Is.All.False, $"tolerance {tolerance}");
        }
    }

    [Test]
    public void Simplify_DouglasPeuckerWouldCross_FallsBackToTopologyPreserving()
    {
        // The top edge bulges up by 0.9 px at x = 50, where a 1-px notch from the bottom reaches y = -0.5: dropping the
        // bulge corner (within tolerance) makes the top edge cut through the notch, with only 0.2 % area change.
        PolygonPoint[] ring = [new(0, 0), new(50, -0.9), new(100, 0), new(100, 200), new(51, 200), new(50.5, -0.5), new(50, 200), new(0, 200)];
        var area = (long)Math.Round(Math.Abs(MaskPolygons.SignedArea(ring)));
        Assert.That(PolygonRaster.SelfIntersects(AsTuples(MaskPolygons.DouglasPeucker(ring, 1.0))), Is.True, "the case exercises the fallback");

        var polygon = MaskPolygons.Simplify(new PixelRing(ring, area), s_defaults);

        Assert.That(PolygonRaster.SelfIntersects(AsTuples(polygon.Points)), Is.False);
    }

    [Test]
    public void Trace_MaskShorterThanSize_Throws()
    {
        Assert.That(() => MaskPolygons.Trace(new byte[10], 4, 4, s_defaults), Throws.ArgumentException);
    }

    private static IReadOnlyList<(double X, double Y)> AsTuples(MaskPolygon polygon) => AsTuples(polygon.Points);

    private static IReadOnlyList<(double X, double Y)> AsTuples(PolygonPoint[] points) => [.. points.Select(p => (p.X, p.Y))];
}
