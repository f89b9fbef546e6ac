namespace Sam2Interactive.Decoder;

/// <summary>A mask's bounding box in pixels, COCO style: left, top, width, height; all 0 for an empty mask.</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height);

/// <summary>Area and bounding box of a mask, for the outputs that report them (the HTTP API's <c>area</c> and <c>bbox</c>).</summary>
public static class MaskGeometry
{
    /// <summary>Foreground pixel count and the smallest box holding every foreground pixel, in one row-major pass.</summary>
    /// <param name="mask">W×H bytes, row-major; any non-zero byte is foreground.</param>
    public static (long Area, PixelBox Box) Measure(ReadOnlySpan<byte> mask, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, checked(width * height), nameof(mask));
        long area = 0;
        int left = width, right = -1, top = -1, bottom = -1;
        for (var y = 0; y < height; y++)
        {
            var row = mask.Slice(y * width, width);
            var first = row.IndexOfAnyExcept((byte)0);
            if (first < 0) continue;
            var last = row.LastIndexOfAnyExcept((byte)0);
            area += width - row.Count((byte)0);
            left = Math.Min(left, first);
            right = Math.Max(right, last);
            if (top < 0) top = y;
            bottom = y;
        }
        return top < 0 ? (0, default) : (area, new PixelBox(left, top, right - left + 1, bottom - top + 1));
    }
}
