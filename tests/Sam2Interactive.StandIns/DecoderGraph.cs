using Onnx;
using static Sam2Interactive.StandIns.OnnxGraphBuilder;

namespace Sam2Interactive.StandIns;

/// <summary>
/// Stand-in prompt decoder: a colour-distance segmenter on the 256×256 grid of high_res_feats_0 channels 0..2,
/// wrapped in the I/O signature of each export format. See docs/stand-ins.md for the exact maths.
/// </summary>
internal static class DecoderGraph
{
    /// <summary>Cells of the 256×256 low-res grid; cell (r, c) covers 1024-space pixels [4c,4c+4) × [4r,4r+4).</summary>
    private const int Side = 256, Cells = Side * Side;

    /// <summary>Added to a distance to take a prompt out of a min (≫ any colour distance or 1024-space length).</summary>
    private const float Big = 1e4f;

    /// <summary>Colour tolerance per mask; mask 1 is the one the constant IoU scores select.</summary>
    private static readonly float[] s_tolerances = [0.5f, 1.0f, 2.0f];

    /// <summary>Constant IoU predictions; argmax is mask 1 on purpose so callers must not take mask 0.</summary>
    private static readonly float[] s_iouScores = [0.80f, 0.93f, 0.87f];

    private const float LogitScale = 8f, MaskInputWeight = 0.5f, LogitClip = 32f;

    /// <summary>Realistic size: channels and 3×3 conv layers over the first channels of the 64×64 image embedding
    /// (see <see cref="CostChain"/>); tuned so a one-prompt run costs ≈ 44 ms, like a real SAM2.1-tiny export, on a 2-core
    /// AMD EPYC with ORT 1.31 CPU (docs/benchmarks.md).</summary>
    internal const int RealisticChannels = 128, RealisticLayers = 7;

    public static ModelProto Build(StandInFormat format, StandInSize size = StandInSize.Small) => format switch
    {
        StandInFormat.SamExporter => BuildSamExporterStyle(origImSizeType: null, size),
        StandInFormat.OrigImSizeInt32 => BuildSamExporterStyle(OnnxGraphBuilder.Int32, size),
        StandInFormat.OrigImSizeInt64 => BuildSamExporterStyle(OnnxGraphBuilder.Int64, size),
        StandInFormat.OnnxCommunity => BuildOnnxCommunity(size),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>Formats a (origImSizeType null) and c (orig_im_size int32/int64 [2] = (H, W), full-size masks).</summary>
    private static ModelProto BuildSamExporterStyle(int? origImSizeType, StandInSize size)
    {
        var g = new OnnxGraphBuilder("sam2_standin_decoder");
        g.Input("image_embed", Float, 1, 256, 64, 64);
        g.Input("high_res_feats_0", Float, 1, 32, 256, 256);
        g.Input("high_res_feats_1", Float, 1, 64, 128, 128);
        g.Input("point_coords", Float, "num_labels", "num_points", 2);
        g.Input("point_labels", Float, "num_labels", "num_points");
        if (origImSizeType is { } sizeType)
        {
            g.Input("orig_im_size", sizeType, 2);
        }

        g.Input("mask_input", Float, "num_labels", 1, 256, 256);
        g.Input("has_mask_input", Float, "num_labels");

        if (origImSizeType is null)
        {
            Core(g, "high_res_feats_0", ["image_embed", "high_res_feats_1"], "point_coords", "point_labels",
                "mask_input", "has_mask_input", "masks", "iou_predictions", size, embed: "image_embed");
            g.Output("masks", Float, "num_labels", 3, 256, 256);
            g.Output("iou_predictions", Float, "num_labels", 3);
        }
        else
        {
            var (lowRes, _) = Core(g, "high_res_feats_0", ["image_embed", "high_res_feats_1"], "point_coords",
                "point_labels", "mask_input", "has_mask_input", "low_res_masks", "iou_predictions", size, embed: "image_embed");
            // sizes = (N, 3, H, W); linear + half_pixel = PyTorch bilinear, align_corners=False, no antialias.
            var leading = g.Op("Shape", [lowRes], [Int("start", 0), Int("end", 2)]);
            var hw = g.Op("Cast", ["orig_im_size"], [Int("to", OnnxGraphBuilder.Int64)]);
            var sizes = g.Op("Concat", [leading, hw], [Int("axis", 0)]);
            g.Op("Resize", [lowRes, "", "", sizes],
                [Str("mode", "linear"), Str("coordinate_transformation_mode", "half_pixel")], "masks");
            g.Output("masks", Float, "num_labels", 3, "H", "W");
            g.Output("iou_predictions", Float, "num_labels", 3);
            g.Output("low_res_masks", Float, "num_labels", 3, 256, 256);
        }

        return g.Build("sam2i-standin");
    }

    /// <summary>
    /// Format b (transformers.js). Batch B is assumed 1. K = max(point_batch_size, num_boxes); prompt set k is box k
    /// (corners labelled 2, 3; padding corners labelled -1 when there are no boxes) followed by the points of point
    /// batch k (or of batch 0 when point_batch_size is 1).
    /// </summary>
    private static ModelProto BuildOnnxCommunity(StandInSize size)
    {
        var g = new OnnxGraphBuilder("sam2_standin_prompt_encoder_mask_decoder");
        g.Input("input_points", Float, "batch_size", "point_batch_size", "num_points", 2);
        g.Input("input_labels", OnnxGraphBuilder.Int64, "batch_size", "point_batch_size", "num_points");
        g.Input("input_boxes", Float, "batch_size", "num_boxes", 4);
        g.Input("image_embeddings.0", Float, "batch_size", 32, 256, 256);
        g.Input("image_embeddings.1", Float, "batch_size", 64, 128, 128);
        g.Input("image_embeddings.2", Float, "batch_size", 256, 64, 64);

        var zero = g.Scalar(0L);
        var one1 = g.Int64s([1], 1);
        var points = g.Op("Gather", ["input_points", zero], [Int("axis", 0)]);                       // [PB,NP,2]
        var labels = g.Op("Cast", [g.Op("Gather", ["input_labels", zero], [Int("axis", 0)])], [Int("to", Float)]); // [PB,NP]
        var boxes = g.Op("Gather", ["input_boxes", zero], [Int("axis", 0)]);                         // [NB,4]

        var pb = g.Op("Shape", ["input_points"], [Int("start", 1), Int("end", 2)]);
        var nb = g.Op("Shape", ["input_boxes"], [Int("start", 1), Int("end", 2)]);
        var k = g.Op("Max", pb, nb);
        var k11 = g.Op("Concat", [k, one1, one1], [Int("axis", 0)]);
        var k1 = g.Op("Concat", [k, one1], [Int("axis", 0)]);

        // Box corners [K,2,2]: with no boxes take a zero row (labelled padding) broadcast to K.
        var padded = g.Op("Concat", [boxes, g.Floats(new float[4], 1, 4)], [Int("axis", 0)]);        // [NB+1,4]
        var rows = g.Op("Max", nb, one1);
        var boxRows = g.Op("Slice", padded, g.Int64s([0], 1), rows, g.Int64s([0], 1));             // [max(NB,1),4]
        var corners = g.Op("Expand", g.Op("Reshape", boxRows, g.Int64s([-1, 2, 2], 3)), k11);       // [K,2,2]
        var hasBoxes = g.Op("Cast", [g.Op("Greater", nb, g.Int64s([0], 1))], [Int("to", Float)]);  // [1]
        var cornerLabels = g.Op("Sub", g.Op("Mul", g.Floats([3f, 4f], 1, 2), hasBoxes), g.Scalar(1f)); // [2,3] or [-1,-1]
        cornerLabels = g.Op("Expand", cornerLabels, k1);                                              // [K,2]

        var coords = g.Op("Concat", [corners, g.Op("Expand", points, k11)], [Int("axis", 1)]);       // [K,2+NP,2]
        var allLabels = g.Op("Concat", [cornerLabels, g.Op("Expand", labels, k1)], [Int("axis", 1)]); // [K,2+NP]

        var (masks, iou) = Core(g, "image_embeddings.0", ["image_embeddings.1", "image_embeddings.2"], coords, allLabels,
            maskInput: null, hasMaskInput: null, masksName: null, iouName: null, size, embed: "image_embeddings.2");
        // Leading B taken from an input's shape (not a constant 1) so the outputs keep the symbolic "batch_size".
        var b = g.Op("Shape", ["image_embeddings.0"], [Int("start", 0), Int("end", 1)]);
        g.Op("Reshape", [iou, g.Op("Concat", [b, g.Int64s([-1, 3], 2)], [Int("axis", 0)])], output: "iou_scores");
        g.Op("Reshape", [masks, g.Op("Concat", [b, g.Int64s([-1, 3, Side, Side], 4)], [Int("axis", 0)])], output: "pred_masks");
        g.Op("Expand", [g.Floats([10f], 1, 1, 1), g.Op("Concat", [b, k, one1], [Int("axis", 0)])],
            output: "object_score_logits");
        g.Output("iou_scores", Float, "batch_size", "point_batch_size", 3);
        g.Output("pred_masks", Float, "batch_size", "point_batch_size", 3, 256, 256);
        g.Output("object_score_logits", Float, "batch_size", "point_batch_size", 1);
        return g.Build("sam2i-standin");
    }

    /// <summary>
    /// The shared segmenter. feats0 [1,32,256,256]; coords [N,P,2] float 1024-space (x, y); labels [N,P] float
    /// (1 pos, 0 neg, 2/3 box corners, anything else ignored); maskInput [N,1,256,256] and hasMaskInput [1] or [N]
    /// (both or neither). Returns masks [N,3,256,256] (logits clipped to ±32) and iou [N,3].
    /// <paramref name="unusedFeats"/> are tied in by +0·x so every graph input is consumed. At
    /// <see cref="StandInSize.Realistic"/> the iou also gets 1e-30·mean(3×3 conv chain over <paramref name="embed"/>
    /// [1,256,64,64]): a no-op on values ≈ 0.8 in float32 that ORT still has to compute.
    /// </summary>
    private static (string Masks, string Iou) Core(OnnxGraphBuilder g, string feats0, string[] unusedFeats, string coords,
        string labels, string? maskInput, string? hasMaskInput, string? masksName, string? iouName, StandInSize size, string embed)
    {
        var one = g.Scalar(1f);
        var big = g.Scalar(Big);
        var axis1 = g.Int64s([1], 1);
        var axis2 = g.Int64s([2], 1);

        var colours = g.Op("Reshape", g.Op("Slice", feats0, g.Int64s([0], 1), g.Int64s([3], 1), axis1), g.Int64s([3, Cells], 2)); // F [3,65536]
        var colourNorm = g.Op("ReduceSumSquare", [colours], [Ints("axes", 0), Int("keepdims", 1)]);                           // ‖F‖² [1,65536]

        // Distance in colour space from the cell under each point to every cell: [N,Q,2] → [N,Q,65536].
        string Distance(string points)
        {
            string Cell(long component) => g.Op("Clip",
                g.Op("Floor", g.Op("Mul", g.Op("Gather", [points, g.Scalar(component)], [Int("axis", 2)]), g.Scalar(0.25f))),
                g.Scalar(0f), g.Scalar(Side - 1f));
            var index = g.Op("Cast", [g.Op("Add", g.Op("Mul", Cell(1), g.Scalar((float)Side)), Cell(0))], [Int("to", OnnxGraphBuilder.Int64)]);
            var c = g.Op("Transpose", [g.Op("Gather", [colours, index], [Int("axis", 1)])], [Ints("perm", 1, 2, 0)]); // C [N,Q,3]
            var cross = g.Op("MatMul", c, colours);                                                                      // [N,Q,65536]
            var cNorm = g.Op("ReduceSumSquare", [c], [Ints("axes", 2), Int("keepdims", 1)]);                            // [N,Q,1]
            var squared = g.Op("Add", g.Op("Sub", colourNorm, g.Op("Mul", cross, g.Scalar(2f))), cNorm);
            return g.Op("Sqrt", g.Op("Relu", squared));
        }

        string Is(float label) => g.Op("Cast", [g.Op("Equal", labels, g.Scalar(label))], [Int("to", Float)]); // [N,P]
        string Penalty(string indicator) => g.Op("Mul", g.Op("Sub", one, indicator), big);                 // 1e4·(1−x)

        var dist = Distance(coords);
        var isTopLeft = Is(2f);
        var topLeft = g.Op("ReduceSum", [g.Op("Mul", coords, g.Op("Unsqueeze", isTopLeft, axis2)), axis1], [Int("keepdims", 0)]);      // [N,2]
        var bottomRight = g.Op("ReduceSum", [g.Op("Mul", coords, g.Op("Unsqueeze", Is(3f), axis2)), axis1], [Int("keepdims", 0)]);     // [N,2]
        var hasBox = g.Op("ReduceMax", [isTopLeft], [Ints("axes", 1), Int("keepdims", 1)]);                                             // [N,1]
        var noBoxPenalty = Penalty(hasBox);                                                                                             // [N,1]
        var centre = g.Op("Unsqueeze", g.Op("Mul", g.Op("Add", topLeft, bottomRight), g.Scalar(0.5f)), axis1);                         // [N,1,2]
        var centreTerm = g.Op("Add", Distance(centre), g.Op("Unsqueeze", noBoxPenalty, axis2));                                        // [N,1,65536]

        string MinOver(string indicator) => g.Op("ReduceMin",
            [g.Op("Add", dist, g.Op("Unsqueeze", Penalty(indicator), axis2))], [Ints("axes", 1), Int("keepdims", 1)]);             // [N,1,65536]
        var minPos = g.Op("Min", MinOver(Is(1f)), centreTerm);
        var minNeg = g.Op("Min", MinOver(Is(0f)), big);

        var logits = g.Op("Mul", g.Op("Min",
            g.Op("Sub", g.Floats(s_tolerances, 1, 3, 1), minPos),
            g.Op("Sub", minNeg, minPos)), g.Scalar(LogitScale));                                                                     // [N,3,65536]

        // Box restriction: distance (1024-space px) of each cell centre inside the box; negative outside.
        var gx = new float[Cells];
        var gy = new float[Cells];
        for (var i = 0; i < Cells; i++)
        {
            gx[i] = (4 * (i % Side)) + 2;
            gy[i] = (4 * (i / Side)) + 2;
        }

        var cellX = g.Floats(gx, Cells);
        var cellY = g.Floats(gy, Cells);
        string Corner(string corner, long component) => g.Op("Gather", [corner, g.Int64s([component], 1)], [Int("axis", 1)]); // [N,1]
        var inside = g.Op("Min",
            g.Op("Sub", cellX, Corner(topLeft, 0)), g.Op("Sub", Corner(bottomRight, 0), cellX),
            g.Op("Sub", cellY, Corner(topLeft, 1)), g.Op("Sub", Corner(bottomRight, 1), cellY));                                    // [N,65536]
        var boxLimit = g.Op("Unsqueeze", g.Op("Add", g.Op("Mul", inside, g.Scalar(2f)), noBoxPenalty), axis1);                        // [N,1,65536]
        logits = g.Op("Min", logits, boxLimit);

        if (maskInput is not null && hasMaskInput is not null)
        {
            var previous = g.Op("Reshape", maskInput, g.Int64s([-1, 1, Cells], 3));
            var gate = g.Op("Reshape", hasMaskInput, g.Int64s([-1, 1, 1], 3));
            logits = g.Op("Add", logits, g.Op("Mul", g.Op("Mul", previous, gate), g.Scalar(MaskInputWeight)));
        }

        logits = g.Op("Clip", logits, g.Scalar(-LogitClip), g.Scalar(LogitClip));
        var masks = g.Op("Reshape", [logits, g.Int64s([-1, 3, Side, Side], 4)], output: masksName);

        // iou [N,3] = constants + 0·(one element of every other feature map).
        var n = g.Op("Shape", [labels], [Int("start", 0), Int("end", 1)]);
        var iou = g.Op("Expand", g.Floats(s_iouScores, 1, 3), g.Op("Concat", [n, g.Int64s([3], 1)], [Int("axis", 0)]));
        for (var i = 0; i < unusedFeats.Length; i++)
        {
            var first = g.Op("Slice", unusedFeats[i], g.Int64s([0, 0, 0, 0], 4), g.Int64s([1, 1, 1, 1], 4));
            var nothing = g.Op("Mul", g.Op("Reshape", first, g.Int64s([1, 1], 2)), g.Scalar(0f));
            iou = g.Op("Add", [iou, nothing], output: i == unusedFeats.Length - 1 && size == StandInSize.Small ? iouName : null);
        }

        if (size == StandInSize.Realistic)
        {
            var head = g.Op("Slice", embed, g.Int64s([0], 1), g.Int64s([RealisticChannels], 1), axis1);
            var chain = CostChain.Append(g, head, RealisticChannels, RealisticLayers, 0x5A4D_3203);
            var cost = g.Op("ReduceMean", [chain], [Int("keepdims", 0)]);
            iou = g.Op("Add", [iou, cost], output: iouName);
        }

        return (masks, iou);
    }
}
