using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>
/// COCO's compressed RLE of a mask, as pycocotools writes it (<c>mask.encode</c> then the <c>counts</c> string): the
/// <c>{"size": [h, w], "counts": "..."}</c> object of COCO annotations, readable with <c>pycocotools.mask.decode</c>.
/// </summary>
/// <remarks>
/// The format, from cocoapi <c>common/maskApi.c</c> (<c>rleEncode</c>, <c>rleToString</c>):
/// <list type="number">
/// <item>The mask is read in column-major order (x outer, y inner: index x·h + y), as pycocotools takes a Fortran-order
/// array. Counts are the lengths of alternating runs, the first run being of zeros (so it is 0 when pixel (0, 0) is set);
/// the last run is always written, so an empty mask is one count, h·w.</item>
/// <item>Each count from the fourth on is replaced by its difference from the count two before it (same value, previous
/// run).</item>
/// <item>Each value is written as a little-endian sequence of 5-bit groups, one character per group: bit 0x20 says another
/// group follows, bit 0x10 of the last group is the sign (values are two's complement, the shift is arithmetic), and 48 is
/// added, so the characters are ASCII 48–111.</item>
/// </list>
/// </remarks>
public static class CocoRle
{
    /// <summary>The <c>counts</c> string of a mask.</summary>
    /// <param name="mask">W×H bytes, row-major (<see cref="MaskPrediction.Pixels"/>); any non-zero byte is foreground.</param>
    /// <returns>ASCII 48–111; for an empty mask, the encoding of the single count W·H.</returns>
    /// <remarks>
    /// The column-major runs are found without transposing the mask: inside a column, the value changes at (x, y) exactly
    /// where row y differs from row y − 1, which a vectorised comparison of the two rows finds (a mask differs between
    /// neighbouring rows only along its edges). Those changes, sorted by column (a stable counting sort keeps each
    /// column's rows in order), plus the changes between the bottom of one column and the top of the next, are the
    /// run boundaries. Cost: one pass of row comparisons plus work proportional to the edges; scratch is pooled.
    /// </remarks>
    public static string Encode(ReadOnlySpan<byte> mask, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var length = checked(width * height);
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, length, nameof(mask));

        var changes = new PooledInts(256);   // (x, y) pairs of in-column changes, in row order
        var counts = new PooledInts(256);
        int[]? columnStart = null;
        int[]? rows = null;
        try
        {
            for (var y = 1; y < height; y++)
            {
                var above = mask.Slice((y - 1) * width, width);
                var row = mask.Slice(y * width, width);
                for (var x = 0; ; x++)
                {
                    x += above[x..].CommonPrefixLength(row[x..]);
                    if (x >= width) break;
                    // Two different non-zero bytes are both foreground: not a change.
                    if ((above[x] == 0) != (row[x] == 0))
                    {
                        changes.Add(x);
                        changes.Add(y);
                    }
                }
            }

            // Counting sort of the changes by column; rows were appended in increasing y, and the sort is stable.
            var n = changes.Count / 2;
            columnStart = ArrayPool<int>.Shared.Rent(width + 1);
            rows = ArrayPool<int>.Shared.Rent(Math.Max(n, 1));
            var start = columnStart.AsSpan(0, width + 1);
            start.Clear();
            var pairs = changes.Span;
            for (var i = 0; i < n; i++) start[pairs[2 * i] + 1]++;
            for (var x = 0; x < width; x++) start[x + 1] += start[x];
            var next = ArrayPool<int>.Shared.Rent(width);
            try
            {
                start[..width].CopyTo(next);
                for (var i = 0; i < n; i++) rows[next[pairs[2 * i]]++] = pairs[2 * i + 1];
            }
            finally
            {
                ArrayPool<int>.Shared.Return(next);
            }

            // Runs of the column-major sequence t = x·h + y, zeros first.
            long last = 0;
            var current = false;
            for (var x = 0; x < width; x++)
            {
                var columnOrigin = (long)x * height;
                if ((mask[x] != 0) != current)
                {
                    counts.Add((int)(columnOrigin - last));
                    last = columnOrigin;
                    current = !current;
                }
                for (var i = start[x]; i < start[x + 1]; i++)
                {
                    var t = columnOrigin + rows[i];
                    counts.Add((int)(t - last));
                    last = t;
                    current = !current;
                }
            }
            counts.Add((int)(length - last));
            return ToCountsString(counts.Span);
        }
        finally
        {
            changes.Dispose();
            counts.Dispose();
            if (columnStart is not null) ArrayPool<int>.Shared.Return(columnStart);
            if (rows is not null) ArrayPool<int>.Shared.Return(rows);
        }
    }

    private static string ToCountsString(ReadOnlySpan<int> counts)
    {
        // A 32-bit difference needs at most 7 groups of 5 bits (sign included).
        var chars = ArrayPool<char>.Shared.Rent(counts.Length * 7);
        try
        {
            var p = 0;
            for (var i = 0; i < counts.Length; i++)
            {
                long x = counts[i];
                if (i > 2) x -= counts[i - 2];
                bool more;
                do
                {
                    var c = (int)(x & 0x1f);
                    x >>= 5;
                    more = (c & 0x10) != 0 ? x != -1 : x != 0;
                    if (more) c |= 0x20;
                    chars[p++] = (char)(c + 48);
                }
                while (more);
            }
            return new string(chars, 0, p);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>A growable list of ints in one pooled array; dispose once.</summary>
    private struct PooledInts(int capacity) : IDisposable
    {
        private int[] _items = ArrayPool<int>.Shared.Rent(capacity);

        public int Count { get; private set; }

        public readonly ReadOnlySpan<int> Span => _items.AsSpan(0, Count);

        public void Add(int value)
        {
            if (Count == _items.Length)
            {
                var bigger = ArrayPool<int>.Shared.Rent(_items.Length * 2);
                _items.AsSpan(0, Count).CopyTo(bigger);
                ArrayPool<int>.Shared.Return(_items);
                _items = bigger;
            }
            _items[Count++] = value;
        }

        public readonly void Dispose() => ArrayPool<int>.Shared.Return(_items);
    }
}
