using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Tests.Api;

/// <summary>The labeling-configuration analysis shared by <c>sam2i doctor</c> and <c>/setup</c>.</summary>
[TestFixture]
[Category("Fast")]
public sealed class LabelConfigFindingsTests
{
    [Test]
    public void Analyze_BitmaskLabelsWithoutSmartControl_WarnsThatOnlyThePromptUiSegments()
    {
        const string Config = """<View><Image name="image" value="$image"/><BitmaskLabels name="tag" toName="image"><Label value="defect"/></BitmaskLabels></View>""";

        var result = LabelConfigFindings.Analyze(Config);

        var smart = result.Findings.Single(f => f.Check == "config.smart");
        var mask = result.Findings.Single(f => f.Check == "config.mask");
        Assert.Multiple(() =>
        {
            Assert.That(result.HasFailure, Is.False, "a prompt-UI project is not broken");
            Assert.That(smart.Level, Is.EqualTo(FindingLevel.Warn));
            Assert.That(smart.Fix, Does.Contain("fflag_feat_bros_951_ml_backend_short=true"));
            Assert.That(mask.Level, Is.EqualTo(FindingLevel.Pass));
            Assert.That(result.CorrectedConfig, Is.Null, "nothing to correct");
        });
    }

    [Test]
    public void Analyze_KeyPointsWithoutSmartAndBrush_FailsWithCorrectedConfig()
    {
        const string Config = """<View><Image name="image" value="$image"/><BrushLabels name="b" toName="image"><Label value="Cat"/></BrushLabels><KeyPointLabels name="k" toName="image"><Label value="Cat"/></KeyPointLabels></View>""";

        var result = LabelConfigFindings.Analyze(Config);

        Assert.Multiple(() =>
        {
            Assert.That(result.Findings.Single(f => f.Check == "config.smart").Level, Is.EqualTo(FindingLevel.Fail));
            Assert.That(result.CorrectedConfig, Does.Contain("smart=\"true\""));
        });
    }
}
