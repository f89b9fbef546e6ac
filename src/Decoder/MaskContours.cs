using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>A point of a polygon in pixel-edge coordinates: (0, 0) is the top-left corner of the image, (W, H) the
/// bottom-right one, so pixel (x, y) spans [x, x+1]×[y, y+1] and its centre is (x+0.5, y+0.5).</summary>
public readonly record struct PolygonPoint(double X, double Y);

/// <summary>
/// The outer boundary of one 8-connected foreground component, along pixel edges ("crack" boundary): the region it
/// encloses (even-odd, at pixel centres) is exactly the component with its holes filled.
/// </summary>
/// <param name="Points">Corners only (no two consecutive edges are collinear), clockwise on screen (y down), not closed
/// (the last point connects back to the first). Where the component touches itself diagonally at one corner ("pinch"),
/// that corner is visited twice; each visit is moved <see cref="MaskContours.PinchOffset"/> px along both axes into the
/// background pixel it bends around, so the ring never touches itself.</param>
/// <param name="Area">Pixels enclosed: the component's pixel count plus its holes.</param>
/// <param name="Bounds">The ring's bounding box in pixel-edge coordinates (left, top, right, bottom).</param>
internal sealed record PixelRing(PolygonPoint[] Points, long Area, (int Left, int Top, int Right, int Bottom) Bounds = default);

/// <summary>
/// Finds the 8-connected components of a mask and traces their outer boundaries along pixel edges. One vectorised pass
/// over the mask finds its runs; union-find over runs labels the components (memory ∝ runs, not pixels); each
/// boundary is then followed edge by edge, reading only the pixels next to it.
/// </summary>
internal static class MaskContours
{
    /// <summary>How far (px, along x and along y) a pinch corner is moved into the background it bends around.</summary>
    public const double PinchOffset = 1.0 / 16;

    // Directions in turn-right order on screen (y down): east, south, west, north.
    private static ReadOnlySpan<int> Dx => [1, 0, -1, 0];

    private static ReadOnlySpan<int> Dy => [0, 1, 0, -1];

    // Relative to a corner v = (vx, vy) reached while moving in direction d: the pixel ahead on the right and ahead on the
    // left (pixel (x, y) has its top-left corner at (x, y)).
    private static ReadOnlySpan<int> AheadRightX => [0, -1, -1, 0];

    private static ReadOnlySpan<int> AheadRightY => [0, 0, -1, -1];

    private static ReadOnlySpan<int> AheadLeftX => [0, 0, -1, -1];

    private static ReadOnlySpan<int> AheadLeftY => [-1, 0, 0, -1];

    // The pixel behind on the left (background by construction), toward which a pinch corner is moved: its centre minus v.
    private static ReadOnlySpan<double> BehindLeftX => [-0.5, 0.5, 0.5, -0.5];

    private static ReadOnlySpan<double> BehindLeftY => [-0.5, -0.5, 0.5, 0.5];

    /// <summary>
    /// The outer rings of every component whose hole-filled area is at least <paramref name="minArea"/> and that does not
    /// lie inside another such component's ring (an island in a hole is covered once the hole is filled); largest first.
    /// </summary>
    /// <param name="mask">W×H bytes, row-major; any non-zero byte is foreground.</param>
    public static List<PixelRing> OuterRings(ReadOnlySpan<byte> mask, int width, int height, long minArea)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (mask.Length < (long)width * height)
            throw new ArgumentException($"The mask has {mask.Length} bytes, fewer than {width}×{height}.", nameof(mask));
        mask = mask[..(width * height)];

        var runs = new RunTable();
        try
        {
            runs.Label(mask, width, height);
            var rings = new List<PixelRing>();
            for (var i = 0; i < runs.Count; i++)
            {
                // A root is the first run of its component in scan order: its left end is the topmost-leftmost pixel.
                if (runs.Parent[i] != i || runs.BoxArea(i) < minArea)
                    continue;
                var ring = Trace(mask, width, height, runs.Start[i], runs.Row[i]);
                if (ring.Area >= minArea)
                    rings.Add(ring);
            }

            rings.Sort(static (a, b) => b.Area.CompareTo(a.Area));
            // Drop rings inside a larger kept ring (islands in holes). Rings never cross, so one point decides: the centre of
            // the ring's first pixel, tested only against rings whose box holds it.
            var kept = new List<PixelRing>(rings.Count);
            foreach (var ring in rings)
            {
                var probe = ring.Points[0];
                var inside = false;
                foreach (var outer in kept)
                {
                    var b = outer.Bounds;
                    if (probe.X >= b.Left && probe.X < b.Right && probe.Y >= b.Top && probe.Y < b.Bottom && Contains(outer.Points, probe.X + 0.5, probe.Y + 0.5))
                    {
                        inside = true;
                        break;
                    }
                }

                if (!inside)
                    kept.Add(ring);
            }

            return kept;
        }
        finally
        {
            runs.Dispose();
        }
    }

    /// <summary>Even-odd test of a point against a closed ring.</summary>
    public static bool Contains(ReadOnlySpan<PolygonPoint> ring, double x, double y)
    {
        var inside = false;
        for (int i = 0, j = ring.Length - 1; i < ring.Length; j = i++)
        {
            var (xi, yi, xj, yj) = (ring[i].X, ring[i].Y, ring[j].X, ring[j].Y);
            if ((yi > y) != (yj > y) && x < xj + (y - yj) * (xi - xj) / (yi - yj))
                inside = !inside;
        }

        return inside;
    }

    /// <summary>
    /// Follows the outer boundary from the top-left corner of pixel (<paramref name="x0"/>, <paramref name="y0"/>), the
    /// topmost-leftmost pixel of its component, keeping the foreground on the right. At each corner: turn left if the
    /// pixel ahead-left is foreground (this joins diagonal neighbours: 8-connectivity), else go straight if the pixel
    /// ahead-right is, else turn right.
    /// </summary>
    private static PixelRing Trace(ReadOnlySpan<byte> mask, int width, int height, int x0, int y0)
    {
        // Corners go into a pooled scratch buffer; only the exactly sized result is allocated.
        var points = ArrayPool<PolygonPoint>.Shared.Rent(256);
        var count = 0;
        try
        {
            long twiceArea = 0;
            int vx = x0 + 1, vy = y0, d = 0;
            // Corners with integer coordinates, for the exact area; the previous corner is (px, py).
            int px = x0, py = y0;
            points[count++] = new PolygonPoint(x0, y0);
            while (vx != x0 || vy != y0)
            {
                var left = (d + 3) & 3;
                var right = (d + 1) & 3;
                int next;
                var aheadLeft = IsSet(mask, width, height, vx + AheadLeftX[d], vy + AheadLeftY[d]);
                var aheadRight = IsSet(mask, width, height, vx + AheadRightX[d], vy + AheadRightY[d]);
                if (aheadLeft)
                    next = left;
                else if (aheadRight)
                    next = d;
                else
                    next = right;

                if (next != d)
                {
                    twiceArea += (long)px * vy - (long)vx * py;
                    (px, py) = (vx, vy);
                    if (count == points.Length)
                    {
                        var bigger = ArrayPool<PolygonPoint>.Shared.Rent(points.Length * 2);
                        points.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<PolygonPoint>.Shared.Return(points);
                        points = bigger;
                    }

                    // Pinch: ahead-left set but ahead-right clear, so the 2×2 block around v is diagonal and the boundary
                    // comes through v twice.
                    points[count++] = aheadLeft && !aheadRight
                        ? new PolygonPoint(vx + 2 * PinchOffset * BehindLeftX[d], vy + 2 * PinchOffset * BehindLeftY[d])
                        : new PolygonPoint(vx, vy);
                    d = next;
                }

                vx += Dx[d];
                vy += Dy[d];
            }

            twiceArea += (long)px * y0 - (long)x0 * py;
            int minX = x0, maxX = x0, maxY = y0;
            foreach (var p in points.AsSpan(0, count))
            {
                minX = Math.Min(minX, (int)p.X);
                maxX = Math.Max(maxX, (int)Math.Ceiling(p.X));
                maxY = Math.Max(maxY, (int)Math.Ceiling(p.Y));
            }

            // Clockwise on screen (y down) is a positive shoelace sum. The start is the topmost corner.
            return new PixelRing(points.AsSpan(0, count).ToArray(), twiceArea / 2, (minX, y0, maxX, maxY));
        }
        finally
        {
            ArrayPool<PolygonPoint>.Shared.Return(points);
        }
    }

    private static bool IsSet(ReadOnlySpan<byte> mask, int width, int height, int x, int y) =>
        (uint)x < (uint)width && (uint)y < (uint)height && mask[y * width + x] != 0;

    /// <summary>Runs of foreground per row, labelled into 8-connected components with union-find. Pooled arrays.</summary>
    private struct RunTable : IDisposable
    {
        public int[] Start;
        public int[] End;   // exclusive
        public int[] Row;
        public int[] Parent;
        public int Count;
        private int[] _minX;
        private int[] _maxX;
        private int[] _maxY;

        public RunTable()
        {
            Start = ArrayPool<int>.Shared.Rent(256);
            End = ArrayPool<int>.Shared.Rent(256);
            Row = ArrayPool<int>.Shared.Rent(256);
            Parent = ArrayPool<int>.Shared.Rent(256);
            _minX = [];
            _maxX = [];
            _maxY = [];
        }

        /// <summary>Bounding-box area of the component whose root is <paramref name="root"/>: an upper bound of its filled area.</summary>
        public readonly long BoxArea(int root) => (long)(_maxX[root] - _minX[root]) * (_maxY[root] - Row[root] + 1);

        public void Label(ReadOnlySpan<byte> mask, int width, int height)
        {
            var previousFirst = 0;
            var previousEnd = 0;
            for (var y = 0; y < height; y++)
            {
                var row = mask.Slice(y * width, width);
                var first = Count;
                var x = 0;
                while (x < width)
                {
                    var s = row[x..].IndexOfAnyExcept((byte)0);
                    if (s < 0)
                        break;
                    s += x;
                    var e = row[s..].IndexOf((byte)0);
                    e = e < 0 ? width : s + e;
                    Add(s, e, y);
                    x = e;
                }

                // Merge with the previous row's runs: 8-adjacent when [s-1, e+1) overlaps [s', e').
                var j = previousFirst;
                for (var i = first; i < Count; i++)
                {
                    while (j < previousEnd && End[j] < Start[i])
                        j++;
                    for (var k = j; k < previousEnd && Start[k] <= End[i]; k++)
                        Union(i, k);
                }

                previousFirst = first;
                previousEnd = Count;
            }

            _minX = ArrayPool<int>.Shared.Rent(Math.Max(Count, 1));
            _maxX = ArrayPool<int>.Shared.Rent(Math.Max(Count, 1));
            _maxY = ArrayPool<int>.Shared.Rent(Math.Max(Count, 1));
            for (var i = 0; i < Count; i++)
            {
                var r = Find(i);
                Parent[i] = r;
                if (r == i)
                {
                    (_minX[i], _maxX[i], _maxY[i]) = (Start[i], End[i], Row[i]);
                    continue;
                }

                _minX[r] = Math.Min(_minX[r], Start[i]);
                _maxX[r] = Math.Max(_maxX[r], End[i]);
                _maxY[r] = Row[i];
            }
        }

        private void Add(int start, int end, int row)
        {
            if (Count == Start.Length)
            {
                Grow(ref Start, Count);
                Grow(ref End, Count);
                Grow(ref Row, Count);
                Grow(ref Parent, Count);
            }

            Start[Count] = start;
            End[Count] = end;
            Row[Count] = row;
            Parent[Count] = Count;
            Count++;
        }

        private static void Grow(ref int[] array, int count)
        {
            var bigger = ArrayPool<int>.Shared.Rent(array.Length * 2);
            array.AsSpan(0, count).CopyTo(bigger);
            ArrayPool<int>.Shared.Return(array);
            array = bigger;
        }

        // The smaller index becomes the root, so a root is always its component's first run in scan order.
        private readonly void Union(int a, int b)
        {
            var ra = Find(a);
            var rb = Find(b);
            if (ra == rb)
                return;
            if (ra < rb)
                Parent[rb] = ra;
            else
                Parent[ra] = rb;
        }

        private readonly int Find(int i)
        {
            var root = i;
            while (Parent[root] != root)
                root = Parent[root];
            while (Parent[i] != root)
                (Parent[i], i) = (root, Parent[i]);
            return root;
        }

        public void Dispose()
        {
            foreach (var a in (int[][])[Start, End, Row, Parent, _minX, _maxX, _maxY])
            {
                if (a.Length > 0)
                    ArrayPool<int>.Shared.Return(a);
            }

            this = default;
        }
    }
}
