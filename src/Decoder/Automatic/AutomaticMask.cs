namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// One mask of SAM2AutomaticMaskGenerator's output, with its record's fields in SAM2's order (<c>segmentation</c>,
/// <c>area</c>, <c>bbox</c>, <c>predicted_iou</c>, <c>point_coords</c>, <c>stability_score</c>, <c>crop_box</c>).
/// The segmentation is held as runs over its crop; <see cref="WritePixels"/> renders it at the image size. Dispose once.
/// </summary>
public sealed class AutomaticMask : IDisposable
{
    private readonly MaskRuns _runs;

    internal AutomaticMask(MaskRuns runs, CropBox crop, int imageWidth, int imageHeight, float predictedIou, float stabilityScore, float pointX, float pointY)
    {
        _runs = runs;
        CropBox = crop;
        ImageWidth = imageWidth;
        ImageHeight = imageHeight;
        PredictedIou = predictedIou;
        StabilityScore = stabilityScore;
        PointX = pointX;
        PointY = pointY;
        Box = runs.Box.Offset(crop.X0, crop.Y0);
    }

    public int ImageWidth { get; }

    public int ImageHeight { get; }

    /// <summary><c>area</c>: foreground pixels.</summary>
    public long Area => _runs.Area;

    /// <summary>The box in image pixels, XYXY inclusive (SAM2's <c>boxes</c> before <c>box_xyxy_to_xywh</c>).</summary>
    public MaskBox Box { get; }

    /// <summary><c>bbox</c>: XYWH of <see cref="Box"/> (so a one-pixel mask is 0 wide, as in SAM2).</summary>
    public (int X, int Y, int W, int H) Bbox => MaskBoxes.ToXywh(Box);

    /// <summary><c>predicted_iou</c>: the decoder's IoU prediction for this mask.</summary>
    public float PredictedIou { get; }

    /// <summary><c>point_coords</c>: the grid point that produced the mask, in image pixels (float32 as SAM2 computes it).</summary>
    public float PointX { get; }

    /// <inheritdoc cref="PointX"/>
    public float PointY { get; }

    /// <summary><c>stability_score</c>.</summary>
    public float StabilityScore { get; }

    /// <summary><c>crop_box</c> (XYXY, exclusive); SAM2 reports it as XYWH (<see cref="MaskBoxes.ToXywh(CropBox)"/>).</summary>
    public CropBox CropBox { get; }

    /// <summary>Writes the mask at the image size: <paramref name="foreground"/> on the mask, 0 elsewhere.</summary>
    /// <param name="destination">At least ImageWidth×ImageHeight bytes, row-major.</param>
    public void WritePixels(Span<byte> destination, byte foreground = MaskPostprocessor.Foreground)
    {
        var length = (long)ImageWidth * ImageHeight;
        if (destination.Length < length) throw new ArgumentException("destination is smaller than the image", nameof(destination));
        if (!CropBox.IsWhole(ImageWidth, ImageHeight)) destination[..(int)length].Clear();
        _runs.WriteTo(destination, ImageWidth, CropBox.X0, CropBox.Y0, foreground);
    }

    public void Dispose() => _runs.Dispose();
}

/// <summary>What one generation did, for logs, metrics and tests.</summary>
public sealed record AutomaticMaskStats
{
    /// <summary>Point prompts run (every crop's grid).</summary>
    public long Prompts { get; init; }

    /// <summary>Decoder session runs, m2m refinements included, preempted runs not.</summary>
    public long DecoderRuns { get; init; }

    /// <summary>Encoder runs for crops (crop_n_layers &gt; 0); the whole image's embedding is the caller's.</summary>
    public int CropEncodes { get; init; }

    /// <summary>Masks the decoder returned (after the multimask choice).</summary>
    public long Candidates { get; init; }

    /// <summary>Masks left after <c>pred_iou_thresh</c>.</summary>
    public long AfterPredIou { get; init; }

    /// <summary>Masks left after <c>stability_score_thresh</c>.</summary>
    public long AfterStability { get; init; }

    /// <summary>Masks left after the crop-edge filter.</summary>
    public long AfterEdgeFilter { get; init; }

    /// <summary>Masks in the result (after both NMS steps).</summary>
    public int Masks { get; init; }

    /// <summary>Decoder runs preempted by clicks and run again.</summary>
    public long Preempted { get; init; }

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; init; }
}

/// <summary>The masks of one image in SAM2's output order, and what it took. Disposing disposes every mask.</summary>
public sealed class AutomaticMaskResult(int width, int height, IReadOnlyList<AutomaticMask> masks, AutomaticMaskStats stats) : IDisposable
{
    public int Width { get; } = width;

    public int Height { get; } = height;

    public IReadOnlyList<AutomaticMask> Masks { get; } = masks;

    public AutomaticMaskStats Stats { get; } = stats;

    public void Dispose()
    {
        foreach (var m in Masks) m.Dispose();
    }
}
