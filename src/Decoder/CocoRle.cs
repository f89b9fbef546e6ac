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
    // Tile edge of the transpose: 64 source rows of 64 bytes stay in L1 while their columns are written.
    private const int Tile = 64;

    /// <summary>The <c>counts</c> string of a mask.</summary>
    /// <param name="mask">W×H bytes, row-major (<see cref="MaskPrediction.Pixels"/>); any non-zero byte is foreground.</param>
    /// <returns>ASCII 48–111; for an empty mask, the encoding of the single count W·H.</returns>
    public static string Encode(ReadOnlySpan<byte> mask, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var length = checked(width * height);
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, length, nameof(mask));

        // Column-major copy, then runs are found by vectorised scans over contiguous memory.
        var columns = ArrayPool<byte>.Shared.Rent(length);
        var counts = ArrayPool<int>.Shared.Rent(64);
        try
        {
            Transpose(mask[..length], width, height, columns);
            var m = Runs(columns.AsSpan(0, length), ref counts);
            return ToCountsString(counts.AsSpan(0, m));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(columns);
            ArrayPool<int>.Shared.Return(counts);
        }
    }

    /// <summary>columns[x·h + y] = mask[y·w + x], by tiles.</summary>
    private static void Transpose(ReadOnlySpan<byte> mask, int width, int height, Span<byte> columns)
    {
        for (var y0 = 0; y0 < height; y0 += Tile)
        {
            var y1 = Math.Min(y0 + Tile, height);
            for (var x0 = 0; x0 < width; x0 += Tile)
            {
                var x1 = Math.Min(x0 + Tile, width);
                for (var y = y0; y < y1; y++)
                {
                    var row = mask.Slice(y * width, width);
                    for (var x = x0; x < x1; x++) columns[x * height + y] = row[x];
                }
            }
        }
    }

    /// <summary>Alternating run lengths, zeros first (as <c>rleEncode</c>); returns how many.</summary>
    private static int Runs(ReadOnlySpan<byte> pixels, ref int[] counts)
    {
        var m = 0;
        var i = 0;
        var foreground = false;
        while (true)
        {
            var rest = pixels[i..];
            var end = foreground ? rest.IndexOf((byte)0) : rest.IndexOfAnyExcept((byte)0);
            var run = end < 0 ? rest.Length : end;
            if (m == counts.Length)
            {
                var bigger = ArrayPool<int>.Shared.Rent(counts.Length * 2);
                counts.AsSpan().CopyTo(bigger);
                ArrayPool<int>.Shared.Return(counts);
                counts = bigger;
            }
            counts[m++] = run;
            i += run;
            if (end < 0) return m;
            foreground = !foreground;
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
}
