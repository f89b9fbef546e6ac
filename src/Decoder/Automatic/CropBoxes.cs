namespace Sam2Interactive.Decoder.Automatic;

/// <summary>A crop of the image in pixels: [X0, X1) × [Y0, Y1) (SAM2's XYXY crop box, exclusive right and bottom).</summary>
public readonly record struct CropBox(int X0, int Y0, int X1, int Y1)
{
    public int Width => X1 - X0;

    public int Height => Y1 - Y0;

    /// <summary>Whether this crop is the whole <paramref name="width"/>×<paramref name="height"/> image.</summary>
    public bool IsWhole(int width, int height) => X0 == 0 && Y0 == 0 && X1 == width && Y1 == height;
}

/// <summary>
/// SAM2's crop layers (facebookresearch/sam2 <c>sam2/utils/amg.py</c> <c>generate_crop_boxes</c>,
/// <c>is_box_near_crop_edge</c>).
/// </summary>
public static class CropBoxes
{
    /// <summary>
    /// <c>generate_crop_boxes((h, w), n_layers, overlap_ratio)</c>: the whole image (layer 0), then for layer i+1 a grid of
    /// 2^(i+1) × 2^(i+1) overlapping crops, x-major (every y for the first x, then the next x).
    /// </summary>
    public static (IReadOnlyList<CropBox> Boxes, IReadOnlyList<int> Layers) Generate(int imageWidth, int imageHeight, int cropLayers, double overlapRatio)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageHeight);
        ArgumentOutOfRangeException.ThrowIfNegative(cropLayers);
        var boxes = new List<CropBox> { new(0, 0, imageWidth, imageHeight) };
        var layers = new List<int> { 0 };
        var shortSide = Math.Min(imageHeight, imageWidth);
        for (var layer = 0; layer < cropLayers; layer++)
        {
            var perSide = 1 << (layer + 1);
            // int(overlap_ratio * short_side * (2 / n_crops_per_side)): Python evaluates left to right in doubles.
            var overlap = (int)(overlapRatio * shortSide * (2.0 / perSide));
            var cropW = CropLength(imageWidth, perSide, overlap);
            var cropH = CropLength(imageHeight, perSide, overlap);
            for (var i = 0; i < perSide; i++)
            {
                var x0 = (cropW - overlap) * i;
                for (var j = 0; j < perSide; j++)
                {
                    var y0 = (cropH - overlap) * j;
                    boxes.Add(new CropBox(x0, y0, Math.Min(x0 + cropW, imageWidth), Math.Min(y0 + cropH, imageHeight)));
                    layers.Add(layer + 1);
                }
            }
        }
        return (boxes, layers);
    }

    // int(math.ceil((overlap * (n_crops - 1) + orig_len) / n_crops)), in doubles as Python does.
    private static int CropLength(int length, int crops, int overlap) => (int)Math.Ceiling((double)(overlap * (crops - 1) + length) / crops);

    /// <summary>
    /// <c>is_box_near_crop_edge(box, crop_box, [0, 0, W, H], atol=20)</c>: some side of the box (crop coordinates, shifted
    /// into the image) lies within 20 px of the same side of the crop, and that side is not also within 20 px of the image's.
    /// </summary>
    public static bool IsNearCropEdge(MaskBox box, CropBox crop, int imageWidth, int imageHeight, float tolerance = 20f)
    {
        ReadOnlySpan<float> b = [box.X0 + crop.X0, box.Y0 + crop.Y0, box.X1 + crop.X0, box.Y1 + crop.Y0];
        ReadOnlySpan<float> c = [crop.X0, crop.Y0, crop.X1, crop.Y1];
        ReadOnlySpan<float> o = [0, 0, imageWidth, imageHeight];
        for (var k = 0; k < 4; k++)
        {
            // torch.isclose(a, b, atol, rtol=0): |a − b| ≤ atol, in float32.
            var nearCrop = MathF.Abs(b[k] - c[k]) <= tolerance;
            var nearImage = MathF.Abs(b[k] - o[k]) <= tolerance;
            if (nearCrop && !nearImage) return true;
        }
        return false;
    }
}
