using System.Buffers;
using NetTopologySuite.Geometries;
using NetTopologySuite.Operation.Valid;
using NetTopologySuite.Simplify;

namespace Sam2Interactive.Decoder;

/// <summary>How a mask becomes polygons (<c>POLYGON_MIN_AREA</c>, <c>POLYGON_TOLERANCE</c>, <c>POLYGON_MAX_POINTS</c>).</summary>
public sealed record PolygonOptions
{
    /// <value>Components whose hole-filled area is below this many pixels give no polygon. Default 64.</value>
    public int MinArea { get; init; } = 64;

    /// <value>Simplification tolerance in pixels (largest distance of a dropped corner from its replacement). Default 1.0;
    /// 0 keeps every corner of the pixel-edge boundary (within <see cref="MaxPoints"/>).</value>
    public double Tolerance { get; init; } = 1.0;

    /// <value>Most vertices per polygon; the tolerance is raised by half each step until the polygon fits. Default 1000.</value>
    public int MaxPoints { get; init; } = 1000;
}

/// <summary>One polygon of a mask, in pixels.</summary>
/// <param name="Points">Vertices in pixel-edge coordinates (see <see cref="PolygonPoint"/>), clockwise on screen, not closed.</param>
/// <param name="Area">Pixels of the component it outlines, holes filled.</param>
/// <param name="Tolerance">The tolerance it was simplified with (the configured one, raised to meet the vertex limit or
/// lowered to keep a thin component's area).</param>
public sealed record MaskPolygon(PolygonPoint[] Points, long Area, double Tolerance);

/// <summary>
/// Mask → polygons, one per connected component (8-connectivity), largest first. Each polygon is the component's outer
/// boundary along pixel edges (<see cref="MaskContours"/>), so drawing it back (even-odd, at pixel centres) covers exactly
/// the component's pixels with its holes filled (a Label Studio polygon cannot have holes), then simplified with
/// Douglas–Peucker within the tolerance and the vertex limit. A polygon is never self-intersecting: a simplification
/// that would be is redone with NetTopologySuite's topology-preserving simplifier. docs/polygons.md has the measurements
/// behind these choices.
/// </summary>
public static class MaskPolygons
{
    /// <summary>A simplified polygon whose area differs from its component's by more than this fraction is simplified
    /// again with half the tolerance: Douglas–Peucker collapses parts thinner than the tolerance (a 1-pixel line).</summary>
    public const double MaxAreaError = 0.01;

    // Below this the tolerance is taken as 0 (the exact pixel-edge boundary).
    private const double MinTolerance = 1.0 / 64;

    private static readonly GeometryFactory s_geometry = new();

    /// <summary>The polygons of a mask, largest first; empty when no component reaches <see cref="PolygonOptions.MinArea"/>.</summary>
    /// <param name="mask">W×H bytes, row-major (<see cref="MaskPrediction.Pixels"/>); any non-zero byte is foreground.</param>
    public static IReadOnlyList<MaskPolygon> Trace(ReadOnlySpan<byte> mask, int width, int height, PolygonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinArea, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Tolerance);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxPoints, 4);
        var rings = MaskContours.OuterRings(mask, width, height, options.MinArea);
        var polygons = new MaskPolygon[rings.Count];
        for (var i = 0; i < rings.Count; i++)
        {
            polygons[i] = Simplify(rings[i], options);
        }

        return polygons;
    }

    /// <summary>Simplifies one pixel-edge ring within the tolerance, the vertex limit and the area check; never self-intersecting.</summary>
    internal static MaskPolygon Simplify(PixelRing ring, PolygonOptions options)
    {
        var tolerance = options.Tolerance < MinTolerance ? 0 : options.Tolerance;
        var points = DouglasPeucker(ring.Points, tolerance);
        // The vertex limit first: raise the tolerance step by step.
        while (points.Length > options.MaxPoints)
        {
            tolerance = Math.Max(tolerance, MinTolerance) * 1.5;
            points = DouglasPeucker(ring.Points, tolerance);
        }

        // Then keep thin parts: lower the tolerance while the area is off and the vertex limit still holds.
        while (tolerance > 0 && AreaError(points, ring.Area) > MaxAreaError)
        {
            var lower = tolerance / 2 < MinTolerance ? 0 : tolerance / 2;
            var candidate = lower == 0 ? ring.Points : DouglasPeucker(ring.Points, lower);
            if (candidate.Length > options.MaxPoints)
                break;
            (tolerance, points) = (lower, candidate);
        }

        if (tolerance > 0 && !IsSimple(points))
            (points, tolerance) = TopologyPreserving(ring.Points, tolerance, options.MaxPoints);
        return new MaskPolygon(points, ring.Area, tolerance);
    }

    /// <summary>
    /// Douglas–Peucker on a closed ring: split at the first point and the point farthest from it, keep a point when it
    /// is farther than <paramref name="tolerance"/> from the chord of its span. The input ring itself when nothing goes.
    /// </summary>
    internal static PolygonPoint[] DouglasPeucker(PolygonPoint[] ring, double tolerance)
    {
        var n = ring.Length;
        if (tolerance <= 0 || n <= 3)
            return ring;
        var far = 0;
        var farDistance = -1.0;
        for (var i = 1; i < n; i++)
        {
            var d = Square(ring[i].X - ring[0].X) + Square(ring[i].Y - ring[0].Y);
            if (d > farDistance)
                (far, farDistance) = (i, d);
        }

        // Scratch from the pool: the kept flags and the stack of spans still to split (at most one per kept point).
        var keep = ArrayPool<bool>.Shared.Rent(n);
        var stack = ArrayPool<(int From, int To)>.Shared.Rent(n + 2);
        try
        {
            keep.AsSpan(0, n).Clear();
            keep[0] = keep[far] = true;
            var top = 0;
            stack[top++] = (0, far);
            stack[top++] = (far, n);   // index n is point 0 again
            var squaredTolerance = tolerance * tolerance;
            var count = 2;
            while (top > 0)
            {
                var (from, to) = stack[--top];
                if (to - from < 2)
                    continue;
                var a = ring[from];
                var b = ring[to % n];
                double dx = b.X - a.X, dy = b.Y - a.Y;
                var length2 = dx * dx + dy * dy;
                var worst = -1;
                var worstDistance = squaredTolerance;
                for (var i = from + 1; i < to; i++)
                {
                    var p = ring[i];
                    // Squared distance to the segment a-b (to the point a when a = b).
                    double d;
                    if (length2 == 0)
                    {
                        d = Square(p.X - a.X) + Square(p.Y - a.Y);
                    }
                    else
                    {
                        var t = Math.Clamp(((p.X - a.X) * dx + (p.Y - a.Y) * dy) / length2, 0, 1);
                        d = Square(p.X - a.X - t * dx) + Square(p.Y - a.Y - t * dy);
                    }

                    if (d > worstDistance)
                        (worst, worstDistance) = (i, d);
                }

                if (worst < 0)
                    continue;
                keep[worst] = true;
                count++;
                stack[top++] = (from, worst);
                stack[top++] = (worst, to);
            }

            var result = new PolygonPoint[count];
            for (int i = 0, j = 0; i < n; i++)
            {
                if (keep[i])
                    result[j++] = ring[i];
            }

            return result;
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(keep);
            ArrayPool<(int From, int To)>.Shared.Return(stack);
        }
    }

    /// <summary>|area(polygon) − area| / area (shoelace; 1 for fewer than three points).</summary>
    internal static double AreaError(ReadOnlySpan<PolygonPoint> polygon, long area)
    {
        if (polygon.Length < 3 || area <= 0)
            return 1;
        return Math.Abs(Math.Abs(SignedArea(polygon)) - area) / area;
    }

    internal static double SignedArea(ReadOnlySpan<PolygonPoint> polygon)
    {
        var twice = 0.0;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
            twice += polygon[j].X * polygon[i].Y - polygon[i].X * polygon[j].Y;
        return twice / 2;
    }

    /// <summary>Whether the closed ring has no self-intersection (NetTopologySuite's validity rules for a polygon shell).</summary>
    internal static bool IsSimple(PolygonPoint[] ring) =>
        ring.Length >= 3 && new IsValidOp(ToPolygon(ring)).IsValid;

    /// <summary>NetTopologySuite's topology-preserving simplifier, raising the tolerance to meet the vertex limit. It keeps
    /// at least a triangle per ring, so the limit (≥ 4) is always met; the tolerance grows by half per step.</summary>
    private static (PolygonPoint[] Points, double Tolerance) TopologyPreserving(PolygonPoint[] ring, double tolerance, int maxPoints)
    {
        var polygon = ToPolygon(ring);
        while (true)
        {
            // The shell is closed: its last coordinate repeats the first.
            var shell = ((Polygon)TopologyPreservingSimplifier.Simplify(polygon, tolerance)).Shell.Coordinates;
            if (shell.Length - 1 <= maxPoints || shell.Length <= 4)
                return ([.. shell.Take(shell.Length - 1).Select(c => new PolygonPoint(c.X, c.Y))], tolerance);
            tolerance *= 1.5;
        }
    }

    private static Polygon ToPolygon(PolygonPoint[] ring)
    {
        var coordinates = new Coordinate[ring.Length + 1];
        for (var i = 0; i < ring.Length; i++)
            coordinates[i] = new Coordinate(ring[i].X, ring[i].Y);
        coordinates[^1] = coordinates[0];
        return s_geometry.CreatePolygon(coordinates);
    }

    private static double Square(double v) => v * v;
}
