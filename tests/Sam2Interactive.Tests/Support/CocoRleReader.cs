namespace Sam2Interactive.Tests.Support;

/// <summary>
/// Reads COCO's compressed RLE, written for the tests from the format's description (pycocotools' <c>rleFrString</c> and
/// <c>rleDecode</c> semantics) and on purpose sharing no code with <c>CocoRle</c>: characters minus 48 are 5-bit groups,
/// least significant first, 0x20 = more groups follow, 0x10 in the last group = negative; counts from the fourth on are
/// deltas to the count two before; runs alternate 0, 1, 0, … over the pixels in column-major order.
/// </summary>
internal static class CocoRleReader
{
    /// <summary>The run lengths of a counts string.</summary>
    public static List<long> Counts(string counts)
    {
        var values = new List<long>();
        var p = 0;
        while (p < counts.Length)
        {
            long value = 0;
            var shift = 0;
            int group;
            do
            {
                group = counts[p++] - 48;
                if (group is < 0 or > 63) throw new FormatException($"character '{counts[p - 1]}' is outside ASCII 48-111");
                value |= (long)(group & 0x1f) << shift;
                shift += 5;
            }
            while ((group & 0x20) != 0);
            if ((group & 0x10) != 0) value -= 1L << shift; // sign-extend the last group
            if (values.Count > 2) value += values[^2];
            values.Add(value);
        }
        return values;
    }

    /// <summary>The mask, row-major (index y·w + x), 1 = foreground.</summary>
    public static byte[] Decode(string counts, int height, int width)
    {
        var mask = new byte[width * height];
        long position = 0;
        byte value = 0;
        foreach (var run in Counts(counts))
        {
            if (run < 0 || position + run > mask.LongLength) throw new FormatException($"run {run} at {position} leaves the {height}×{width} mask");
            for (var i = 0; i < run; i++, position++)
            {
                var x = position / height;
                var y = position % height;
                mask[y * width + x] = value;
            }
            value ^= 1;
        }
        if (position != mask.LongLength) throw new FormatException($"the runs cover {position} of {mask.LongLength} pixels");
        return mask;
    }
}
