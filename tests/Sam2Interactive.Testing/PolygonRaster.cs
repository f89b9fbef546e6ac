namespace Sam2Interactive.Testing;

/// <summary>
/// Independent checks of polygons in pixel-edge coordinates (pixel (x, y) spans [x, x+1]×[y, y+1]): drawing them back
/// with even-odd fill at pixel centres, IoU of masks, and a brute-force self-intersection test.
/// </summary>
internal static class PolygonRaster
{
    /// <summary>W×H mask (255/0) of the pixels whose centre is inside an odd number of the polygons' edges crossings.</summary>
    public static byte[] Fill(IEnumerable<IReadOnlyList<(double X, double Y)>> polygons, int width, int height)
    {
        var mask = new byte[width * height];
        var all = polygons.ToList();
        var xs = new List<double>();
        for (var y = 0; y < height; y++)
        {
            var cy = y + 0.5;
            xs.Clear();
            foreach (var p in all)
            {
                for (int i = 0, j = p.Count - 1; i < p.Count; j = i++)
                {
                    if ((p[i].Y > cy) != (p[j].Y > cy))
                        xs.Add(p[j].X + (cy - p[j].Y) * (p[i].X - p[j].X) / (p[i].Y - p[j].Y));
                }
            }

            xs.Sort();
            for (var k = 0; k + 1 < xs.Count; k += 2)
            {
                // Pixel centres x + 0.5 strictly between the two crossings.
                for (var x = Math.Max(0, (int)Math.Ceiling(xs[k] - 0.5)); x < width && x + 0.5 < xs[k + 1]; x++)
                {
                    if (x + 0.5 > xs[k])
                        mask[y * width + x] ^= 255;
                }
            }
        }

        return mask;
    }

    public static double IoU(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        long inter = 0, union = 0;
        for (var i = 0; i < a.Length; i++)
        {
            bool x = a[i] != 0, y = b[i] != 0;
            if (x && y) inter++;
            if (x || y) union++;
        }

        return union == 0 ? 1 : (double)inter / union;
    }

    /// <summary>
    /// Whether any two edges of the closed polygon meet other than adjacent edges at their shared vertex (crossing,
    /// touching, overlapping or a repeated vertex all count). O(n²), exact for coordinates on a 1/256 grid.
    /// </summary>
    public static bool SelfIntersects(IReadOnlyList<(double X, double Y)> p)
    {
        var n = p.Count;
        for (var i = 0; i < n; i++)
        {
            var (a, b) = (p[i], p[(i + 1) % n]);
            for (var j = i + 1; j < n; j++)
            {
                var (c, d) = (p[j], p[(j + 1) % n]);
                var adjacent = j == i + 1 || (i == 0 && j == n - 1);
                if (adjacent)
                {
                    // Adjacent edges share one vertex; they may not fold back onto each other.
                    var shared = j == i + 1 ? b : a;
                    var (u, v) = j == i + 1 ? (a, d) : (b, c);
                    if (Cross(shared, u, v) == 0 && Dot(shared, u, v) > 0)
                        return true;
                    continue;
                }

                if (SegmentsMeet(a, b, c, d))
                    return true;
            }
        }

        return false;
    }

    private static double Cross((double X, double Y) o, (double X, double Y) a, (double X, double Y) b) =>
        (a.X - o.X) * (b.Y - o.Y) - (a.Y - o.Y) * (b.X - o.X);

    private static double Dot((double X, double Y) o, (double X, double Y) a, (double X, double Y) b) =>
        (a.X - o.X) * (b.X - o.X) + (a.Y - o.Y) * (b.Y - o.Y);

    private static bool SegmentsMeet((double X, double Y) a, (double X, double Y) b, (double X, double Y) c, (double X, double Y) d)
    {
        double d1 = Cross(c, d, a), d2 = Cross(c, d, b), d3 = Cross(a, b, c), d4 = Cross(a, b, d);
        if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
            return true;
        return (d1 == 0 && OnSegment(c, d, a)) || (d2 == 0 && OnSegment(c, d, b)) || (d3 == 0 && OnSegment(a, b, c)) || (d4 == 0 && OnSegment(a, b, d));
    }

    private static bool OnSegment((double X, double Y) p, (double X, double Y) q, (double X, double Y) r) =>
        r.X >= Math.Min(p.X, q.X) && r.X <= Math.Max(p.X, q.X) && r.Y >= Math.Min(p.Y, q.Y) && r.Y <= Math.Max(p.Y, q.Y);
}
