namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// A mask's box as SAM2's <c>batched_mask_to_box</c> gives it: XYXY with <b>inclusive</b> right and bottom (the last
/// foreground column and row), so a one-pixel mask has width 0; (0, 0, 0, 0) for an empty mask.
/// </summary>
public readonly record struct MaskBox(int X0, int Y0, int X1, int Y1)
{
    /// <summary>This box moved by the crop's origin (<c>uncrop_boxes_xyxy</c>).</summary>
    public MaskBox Offset(int dx, int dy) => new(X0 + dx, Y0 + dy, X1 + dx, Y1 + dy);
}

/// <summary>
/// Non-maximum suppression as torchvision's CPU kernel does it (pytorch/vision
/// <c>torchvision/csrc/ops/cpu/nms_kernel.cpp</c>; <c>batched_nms</c> with one category is plain <c>nms</c>).
/// </summary>
public static class BoxNms
{
    /// <summary>
    /// Indices of the boxes kept, in decreasing score order. Boxes are visited by score (ties in index order: a stable
    /// sort); each kept box suppresses every later one whose IoU with it is greater than <paramref name="iouThreshold"/>.
    /// Areas and IoU are float32, <c>(x2 − x1)·(y2 − y1)</c> on the box coordinates as given; the IoU is compared with the
    /// double threshold as C++ does (float promoted). An IoU of 0/0 (NaN) suppresses nothing.
    /// </summary>
    public static int[] Keep(ReadOnlySpan<MaskBox> boxes, ReadOnlySpan<float> scores, double iouThreshold)
    {
        if (boxes.Length != scores.Length) throw new ArgumentException("one score per box", nameof(scores));
        var n = boxes.Length;
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        var keys = scores.ToArray();
        // Descending by score; Array.Sort is unstable, so break ties by index explicitly.
        Array.Sort(order, (a, b) =>
        {
            var c = keys[b].CompareTo(keys[a]);
            return c != 0 ? c : a.CompareTo(b);
        });

        var x1 = new float[n];
        var y1 = new float[n];
        var x2 = new float[n];
        var y2 = new float[n];
        var areas = new float[n];
        for (var i = 0; i < n; i++)
        {
            (x1[i], y1[i], x2[i], y2[i]) = (boxes[i].X0, boxes[i].Y0, boxes[i].X1, boxes[i].Y1);
            areas[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
        }

        var suppressed = new bool[n];
        var keep = new List<int>();
        for (var oi = 0; oi < n; oi++)
        {
            var i = order[oi];
            if (suppressed[i]) continue;
            keep.Add(i);
            for (var oj = oi + 1; oj < n; oj++)
            {
                var j = order[oj];
                if (suppressed[j]) continue;
                var w = MathF.Max(0f, MathF.Min(x2[i], x2[j]) - MathF.Max(x1[i], x1[j]));
                var h = MathF.Max(0f, MathF.Min(y2[i], y2[j]) - MathF.Max(y1[i], y1[j]));
                var inter = w * h;
                var iou = inter / (areas[i] + areas[j] - inter);
                if (iou > iouThreshold) suppressed[j] = true;
            }
        }
        return [.. keep];
    }
}
