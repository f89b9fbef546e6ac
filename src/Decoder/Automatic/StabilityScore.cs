namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// SAM2's <c>calculate_stability_score</c> (facebookresearch/sam2 <c>sam2/utils/amg.py</c>): the IoU of the masks
/// <c>logits &gt; threshold + offset</c> and <c>logits &gt; threshold − offset</c>, i.e. the first count over the second
/// (one mask contains the other).
/// </summary>
public static class StabilityScore
{
    /// <summary>
    /// <c>intersections / unions</c> as PyTorch divides two int32 tensors: both converted to float32, then divided in
    /// float32. 0/0 is NaN, which no threshold keeps.
    /// </summary>
    public static float FromCounts(long intersections, long unions) => (float)intersections / unions;

    /// <summary>The thresholds as PyTorch compares them with a float32 tensor: the Python sum in double, then float32.</summary>
    public static (float High, float Low) Thresholds(double maskThreshold, double offset) =>
        ((float)(maskThreshold + offset), (float)(maskThreshold - offset));

    /// <summary>The score of one mask's logits (any size), counted over every value: the definition, for tests and small masks.</summary>
    public static float Calculate(ReadOnlySpan<float> logits, double maskThreshold, double offset)
    {
        var (high, low) = Thresholds(maskThreshold, offset);
        long intersections = 0, unions = 0;
        foreach (var v in logits)
        {
            if (v > high) intersections++;
            if (v > low) unions++;
        }
        return FromCounts(intersections, unions);
    }
}
