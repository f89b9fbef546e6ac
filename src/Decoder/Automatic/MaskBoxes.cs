namespace Sam2Interactive.Decoder.Automatic;

/// <summary>SAM2's <c>batched_mask_to_box</c> and <c>box_xyxy_to_xywh</c> (facebookresearch/sam2 <c>sam2/utils/amg.py</c>).</summary>
public static class MaskBoxes
{
    /// <summary>
    /// The box around the non-zero pixels of a row-major <paramref name="width"/>×<paramref name="height"/> mask:
    /// leftmost and rightmost foreground column, top and bottom foreground row (inclusive); (0, 0, 0, 0) when empty.
    /// </summary>
    public static MaskBox FromMask(ReadOnlySpan<byte> mask, int width, int height)
    {
        var (area, box) = MaskGeometry.Measure(mask, width, height);
        return area == 0 ? default : new MaskBox(box.X, box.Y, box.X + box.Width - 1, box.Y + box.Height - 1);
    }

    /// <summary><c>box_xyxy_to_xywh</c>: (x0, y0, x1 − x0, y1 − y0), so an inclusive one-pixel box is 0 wide.</summary>
    public static (int X, int Y, int W, int H) ToXywh(MaskBox box) => (box.X0, box.Y0, box.X1 - box.X0, box.Y1 - box.Y0);

    /// <summary><c>box_xyxy_to_xywh</c> of a crop box: its origin and size.</summary>
    public static (int X, int Y, int W, int H) ToXywh(CropBox crop) => (crop.X0, crop.Y0, crop.X1 - crop.X0, crop.Y1 - crop.Y0);
}
