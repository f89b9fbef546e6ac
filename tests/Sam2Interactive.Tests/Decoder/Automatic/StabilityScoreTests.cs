using NUnit.Framework;
using Sam2Interactive.Decoder.Automatic;

namespace Sam2Interactive.Tests.Decoder.Automatic;

/// <summary><c>calculate_stability_score</c>: counts above threshold ± offset, hand-counted.</summary>
[TestFixture]
[Category("Fast")]
public sealed class StabilityScoreTests
{
    private static readonly float[] s_logits = [2f, 0.5f, -0.5f, -2f, 1f, -1f];

    [Test]
    public void Calculate_OffsetOne_StrictComparisonsAtBothThresholds()
    {
        // > 1: {2} (1 is not above 1); > −1: {2, 0.5, −0.5, 1} (−1 is not above −1). 1/4.
        Assert.That(StabilityScore.Calculate(s_logits, 0.0, 1.0), Is.EqualTo(0.25f));
    }

    [Test]
    public void Calculate_SmallOffset_NoValueBetween_IsOne() => Assert.That(StabilityScore.Calculate(s_logits, 0.0, 0.4), Is.EqualTo(1f));

    [Test]
    public void Calculate_ShiftedMaskThreshold_ShiftsBothThresholds()
    {
        // threshold 1, offset 1: > 2: {} ; > 0: {2, 0.5, 1}.
        Assert.That(StabilityScore.Calculate(s_logits, 1.0, 1.0), Is.EqualTo(0f));
    }

    [Test]
    public void Calculate_NothingAboveLowThreshold_IsNaN() => Assert.That(StabilityScore.Calculate([-5f, -3f], 0.0, 1.0), Is.NaN);

    [Test]
    public void FromCounts_DividesInFloat32() => Assert.That(StabilityScore.FromCounts(1, 3), Is.EqualTo(1f / 3f));

    [Test]
    public void Thresholds_SumInDoubleThenFloat32() =>
        Assert.That(StabilityScore.Thresholds(0.1, 0.2), Is.EqualTo(((float)(0.1 + 0.2), (float)(0.1 - 0.2))));
}
