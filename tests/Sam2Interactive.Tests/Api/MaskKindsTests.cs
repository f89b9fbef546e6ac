using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Tests.Api;

/// <summary>Which controls of an Image get regions for each <c>MASK_OUTPUT</c>, and which requested kinds are missing.</summary>
[TestFixture]
[Category("Fast")]
public sealed class MaskKindsTests
{
    private static ImageTarget Target(string controls) =>
        LabelConfigParser.ParseUncached($"""<View><Image name="image" value="$image"/>{controls}</View>""").Config!.Targets.Single();

    private const string Brush = """<BrushLabels name="brush" toName="image"><Label value="A"/></BrushLabels>""";
    private const string Polygon = """<PolygonLabels name="poly" toName="image"><Label value="A"/></PolygonLabels>""";
    private const string Bitmask = """<BitmaskLabels name="mask" toName="image"><Label value="A"/></BitmaskLabels>""";

    [TestCase(Brush + Polygon, "auto", "brush", "")]            // both controls: brush, as the seed did
    [TestCase(Polygon, "auto", "poly", "")]                     // polygon-only project
    [TestCase(Brush, "auto", "brush", "")]
    [TestCase(Brush + Polygon, "both", "brush,poly", "")]
    [TestCase(Bitmask, "auto", "mask", "")]                     // BitmaskLabels project: bitmask regions
    [TestCase(Bitmask + Brush, "auto", "brush", "")]            // brush still first
    [TestCase(Bitmask + Brush + Polygon, "both", "brush,poly", "")] // both stays brush and polygon
    [TestCase(Brush + Polygon, "polygon", "poly", "")]
    [TestCase(Brush, "both", "brush", "Polygon")]               // requested kind missing: logged, left out
    [TestCase(Brush, "polygon", "", "Polygon")]
    [TestCase(Polygon, "brush", "", "Brush")]
    [TestCase("""<Polygon name="p" toName="image"/><Brush name="b" toName="image"/>""", "both", "b,p", "")] // unlabeled, kind order
    public void Select_ControlsAndSetting_OutputsInKindOrderAndMissingKinds(string controls, string output, string expected, string missing)
    {
        var (outputs, missingKinds) = MaskKinds.Select(Target(controls), Enum.Parse<MaskOutput>(output, ignoreCase: true));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(string.Join(",", outputs.Select(o => o.Control.Name)), Is.EqualTo(expected));
            Assert.That(string.Join(",", missingKinds), Is.EqualTo(missing));
        }
    }

    [Test]
    public void TagList_EveryKind_NamesEachControlTag()
    {
        Assert.That(MaskKinds.TagList(), Is.EqualTo("BrushLabels, Brush, PolygonLabels, Polygon, BitmaskLabels or Bitmask"));
    }
}
