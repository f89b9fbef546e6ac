using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
[Category("Fast")]
public sealed class LabelConfigParserTests
{
    [Test]
    public void Parse_SeedConfig_FindsBrushAndSmartControlsThroughNestedViews()
    {
        var result = new LabelConfigParser().Parse(LabelStudioSamples.SeedLabelConfig);

        Assert.That(result.Problem, Is.Null);
        var target = result.Config!.Targets.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(target.ImageName, Is.EqualTo("image"));
            Assert.That(target.ValueVariable, Is.EqualTo("image"));
            Assert.That(target.BrushLabels!.Name, Is.EqualTo("tag"));
            Assert.That(target.BrushLabels!.Labels, Is.EqualTo(new[] { "defect" }));
            Assert.That(target.SmartKeyPoints.Select(c => c.Name), Is.EqualTo(new[] { "tag2" }));
            Assert.That(target.SmartRectangles.Select(c => c.Name), Is.EqualTo(new[] { "tag3" }));
        }
    }

    [Test]
    public void Parse_SmartOnlyAndNonSmartControls_KeepsOnlySmartOnes()
    {
        const string Config = """
            <View>
              <image name="img" value="$photo"/>
              <KeyPointLabels name="kpPlain" toName="img"><Label value="A"/></KeyPointLabels>
              <KeyPointLabels name="kpSmart" toName="img" smartonly="True"><Label value="A"/></KeyPointLabels>
              <RectangleLabels name="rectPlain" toName="img" smart="false"><Label value="A"/></RectangleLabels>
              <BrushLabels name="masks" toName="img"><Label value="A"/><Label value="B"/></BrushLabels>
            </View>
            """;

        var target = LabelConfigParser.ParseUncached(Config).Config!.Targets.Single();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(target.ValueVariable, Is.EqualTo("photo"));
            Assert.That(target.BrushLabels!.Name, Is.EqualTo("masks"));
            Assert.That(target.BrushLabels!.Labels, Is.EqualTo(new[] { "A", "B" }));
            Assert.That(target.SmartKeyPoints.Select(c => c.Name), Is.EqualTo(new[] { "kpSmart" }));
            Assert.That(target.SmartRectangles, Is.Empty);
        }
    }

    [Test]
    public void Parse_TwoImagesOnlyOneWithBrush_TargetsThatImage()
    {
        const string Config = """
            <View>
              <Image name="left" value="$a"/><Image name="right" value="$b"/>
              <BrushLabels name="brush" toName="right"><Label value="X"/></BrushLabels>
              <KeyPointLabels name="kp" toName="left,right" smart="true"><Label value="X"/></KeyPointLabels>
            </View>
            """;

        var config2 = LabelConfigParser.ParseUncached(Config).Config!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(config2.Targets.Select(t => t.ImageName), Is.EqualTo(new[] { "right" }));
            Assert.That(config2.FindTarget("left"), Is.Null);
            Assert.That(config2.FindTarget("right")!.SmartKeyPoints.Single().Name, Is.EqualTo("kp"));
        }
    }

    [Test]
    public void Parse_NoMaskControl_ReturnsProblemNamingWhatToAdd()
    {
        var result = LabelConfigParser.ParseUncached("""<View><Image name="image" value="$image"/><KeyPointLabels name="k" toName="image" smart="true"/></View>""");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.IsUsable, Is.False);
            Assert.That(result.Problem, Does.Contain("no mask control (BrushLabels, Brush, PolygonLabels, Polygon, BitmaskLabels or Bitmask)")
                .And.Contain("<BrushLabels name=\"...\" toName=\"image\">").And.Contain("<PolygonLabels"));
        }
    }

    [TestCase("PolygonLabels")]
    [TestCase("Polygon")]
    [TestCase("Brush")]
    [TestCase("BrushLabels")]
    public void Parse_AnyMaskControlAlone_IsUsable(string tag)
    {
        var result = LabelConfigParser.ParseUncached(
            $"""<View><Image name="image" value="$image"/><{tag} name="out" toName="image"/><KeyPointLabels name="k" toName="image" smart="true"/></View>""");

        Assert.That(result.Config!.Targets.Single().ImageName, Is.EqualTo("image"));
    }

    [TestCase("", "no label_config")]
    [TestCase("<View><Image name=\"i\"", "not valid XML")]
    [TestCase("<View><BrushLabels name=\"b\" toName=\"i\"/></View>", "no <Image>")]
    [TestCase("<View><Image name=\"i\" value=\"$i\"/><BrushLabels name=\"b\" toName=\"other\"/></View>", "names no <Image>")]
    public void Parse_UnusableConfig_ReturnsProblem(string Config, string expected)
    {
        Assert.That(new LabelConfigParser().Parse(Config).Problem, Does.Contain(expected));
    }

    [Test]
    public void Parse_DoctypeWithEntity_IsRejected()
    {
        const string Config = """<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x "boom">]><View><Image name="i" value="$i"/><BrushLabels name="b" toName="i"><Label value="&x;"/></BrushLabels></View>""";

        Assert.That(LabelConfigParser.ParseUncached(Config).Problem, Does.Contain("not valid XML"));
    }

    [Test]
    public void Parse_SameConfigTwice_ReturnsCachedInstance()
    {
        var parser = new LabelConfigParser();

        var first = parser.Parse(LabelStudioSamples.SeedLabelConfig);
        var second = parser.Parse(LabelStudioSamples.SeedLabelConfig);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second, Is.SameAs(first));
            Assert.That(parser.CachedCount, Is.EqualTo(1));
        }
    }

    [Test]
    public void Parse_MoreDistinctConfigsThanCapacity_StaysBounded()
    {
        var parser = new LabelConfigParser(capacity: 4);

        for (var i = 0; i < 50; i++)
            parser.Parse($"<View><Image name=\"i{i}\" value=\"$i\"/><BrushLabels name=\"b\" toName=\"i{i}\"/></View>");

        Assert.That(parser.CachedCount, Is.LessThanOrEqualTo(4));
    }

    [TestCase("Banana", "Banana")]
    [TestCase("banana", "Banana")]
    [TestCase("Pear", "Apple")]
    [TestCase(null, "Apple")]
    public void MapLabel_PromptLabel_MapsToBrushLabel(string? promptLabel, string expected)
    {
        var target = LabelConfigParser.ParseUncached(LabelStudioSamples.BananaLabelConfig).Config!.Targets[0];

        Assert.That(ImageTarget.MapLabel(target.Brush!, promptLabel), Is.EqualTo(expected));
    }
}
