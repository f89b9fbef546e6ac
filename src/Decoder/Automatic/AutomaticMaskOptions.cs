using System.Globalization;

namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// The parameters of SAM2AutomaticMaskGenerator (facebookresearch/sam2 <c>sam2/automatic_mask_generator.py</c>
/// <c>__init__</c>), same names in PascalCase and same defaults. <c>output_mode</c> is not one: masks are returned as
/// <see cref="AutomaticMask"/> and encoded by the caller. Settings <c>AUTO_*</c> fill these (docs/automatic-masks.md).
/// </summary>
public sealed record AutomaticMaskOptions
{
    /// <summary><c>points_per_side</c>: the grid has this many points per side (points_per_side² prompts per crop layer 0).
    /// Null only with <see cref="PointGrids"/>.</summary>
    public int? PointsPerSide { get; init; } = 32;

    /// <summary><c>points_per_batch</c>: prompts per decoder run where the export batches (onnx-community); one run per
    /// prompt otherwise. It changes speed and memory, never the masks.</summary>
    public int PointsPerBatch { get; init; } = 64;

    /// <summary><c>pred_iou_thresh</c>: masks whose predicted IoU is not above this are dropped (0 keeps all).</summary>
    public double PredIouThresh { get; init; } = 0.8;

    /// <summary><c>stability_score_thresh</c>: masks whose stability score is below this are dropped (0 keeps all).</summary>
    public double StabilityScoreThresh { get; init; } = 0.95;

    /// <summary><c>stability_score_offset</c>: the logit shift of the stability score's two thresholds.</summary>
    public double StabilityScoreOffset { get; init; } = 1.0;

    /// <summary><c>mask_threshold</c>: a pixel is foreground when its upsampled logit is above this.</summary>
    public double MaskThreshold { get; init; }

    /// <summary><c>box_nms_thresh</c>: box IoU above which the lower-IoU mask of a crop is a duplicate.</summary>
    public double BoxNmsThresh { get; init; } = 0.7;

    /// <summary><c>crop_n_layers</c>: crop layers after the whole image; layer i has (2^i)² crops, each encoded again.</summary>
    public int CropNLayers { get; init; }

    /// <summary><c>crop_nms_thresh</c>: box IoU above which a mask from a larger crop is a duplicate of one from a smaller.</summary>
    public double CropNmsThresh { get; init; } = 0.7;

    /// <summary><c>crop_overlap_ratio</c>: overlap of neighbouring crops in layer 1, as a fraction of the short side.</summary>
    public double CropOverlapRatio { get; init; } = 512.0 / 1500.0;

    /// <summary><c>crop_n_points_downscale_factor</c>: layer i samples points_per_side / factor^i points per side.</summary>
    public int CropNPointsDownscaleFactor { get; init; } = 1;

    /// <summary><c>point_grids</c>: explicit grids in [0,1]² (x, y pairs), one per crop layer; exclusive with
    /// <see cref="PointsPerSide"/>.</summary>
    public IReadOnlyList<double[]>? PointGrids { get; init; }

    /// <summary><c>min_mask_region_area</c>: SAM2 passes it to its predictor as <c>max_hole_area</c> and
    /// <c>max_sprinkle_area</c>: holes and islands of at most this many low-res pixels are filled/removed before upsampling.</summary>
    public int MinMaskRegionArea { get; init; }

    /// <summary><c>use_m2m</c>: refine each mask once with its own low-res logits as the mask input (needs an export with
    /// <c>mask_input</c>).</summary>
    public bool UseM2m { get; init; }

    /// <summary><c>multimask_output</c>: keep all the masks the decoder gives per point (else the highest-IoU one).</summary>
    public bool MultimaskOutput { get; init; } = true;

    /// <summary>The point grid of each crop layer.</summary>
    public IReadOnlyList<double[]> LayerGrids() =>
        PointGrids ?? Automatic.PointGrids.BuildAllLayers(PointsPerSide!.Value, CropNLayers, CropNPointsDownscaleFactor);

    /// <summary>Prompts per image for an image of any size: the sum of every crop's grid.</summary>
    public long PromptsPerImage()
    {
        var grids = LayerGrids();
        long total = 0;
        for (var layer = 0; layer <= CropNLayers; layer++)
        {
            var crops = layer == 0 ? 1L : 1L << (2 * layer);
            total += crops * (grids[layer].Length / 2);
        }
        return total;
    }

    /// <summary>Checks the values as SAM2's asserts do, and those SAM2 would fail on later.</summary>
    /// <exception cref="ArgumentException">The message names the parameter (SAM2's name).</exception>
    public void Validate()
    {
        if ((PointsPerSide is null) == (PointGrids is null))
            throw new ArgumentException("exactly one of points_per_side or point_grids must be given");
        if (PointsPerSide is < 1 or > 1024) throw Invalid("points_per_side", "from 1 to 1024", PointsPerSide.Value);
        if (PointsPerBatch is < 1 or > 4096) throw Invalid("points_per_batch", "from 1 to 4096", PointsPerBatch);
        Fraction("pred_iou_thresh", PredIouThresh);
        Fraction("stability_score_thresh", StabilityScoreThresh);
        if (!double.IsFinite(StabilityScoreOffset) || StabilityScoreOffset < 0) throw Invalid("stability_score_offset", "a number ≥ 0", StabilityScoreOffset);
        if (!double.IsFinite(MaskThreshold)) throw Invalid("mask_threshold", "a finite number", MaskThreshold);
        Fraction("box_nms_thresh", BoxNmsThresh);
        if (CropNLayers is < 0 or > 4) throw Invalid("crop_n_layers", "from 0 to 4", CropNLayers);
        Fraction("crop_nms_thresh", CropNmsThresh);
        if (!double.IsFinite(CropOverlapRatio) || CropOverlapRatio is < 0 or >= 1) throw Invalid("crop_overlap_ratio", "from 0 to below 1", CropOverlapRatio);
        if (CropNPointsDownscaleFactor is < 1 or > 64) throw Invalid("crop_n_points_downscale_factor", "from 1 to 64", CropNPointsDownscaleFactor);
        if (MinMaskRegionArea is < 0 or > 65536) throw Invalid("min_mask_region_area", "from 0 to 65536", MinMaskRegionArea);
        if (PointGrids is { } grids)
        {
            if (grids.Count < CropNLayers + 1)
                throw new ArgumentException($"point_grids has {grids.Count} grids; crop_n_layers={CropNLayers} needs {CropNLayers + 1}");
            if (grids.Any(g => g.Length == 0 || g.Length % 2 != 0 || g.Any(v => !double.IsFinite(v) || v < 0 || v > 1)))
                throw new ArgumentException("point_grids must be non-empty lists of (x, y) pairs in [0, 1]");
        }
        else
        {
            for (var layer = 0; layer <= CropNLayers; layer++)
            {
                try
                {
                    Automatic.PointGrids.PointsPerSide(PointsPerSide!.Value, layer, CropNPointsDownscaleFactor);
                }
                catch (ArgumentOutOfRangeException e)
                {
                    throw new ArgumentException($"crop_n_points_downscale_factor={CropNPointsDownscaleFactor} leaves no points: {e.Message}", e);
                }
            }
        }
    }

    private static void Fraction(string name, double value)
    {
        if (!double.IsFinite(value) || value is < 0 or > 1) throw Invalid(name, "from 0 to 1", value);
    }

    private static ArgumentException Invalid(string name, string expectation, double value) =>
        new($"{name} must be {expectation}, not {value.ToString(CultureInfo.InvariantCulture)}");
}
