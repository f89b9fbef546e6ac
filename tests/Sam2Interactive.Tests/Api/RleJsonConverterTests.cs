using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
[Category("Fast")]
public sealed class RleJsonConverterTests
{
    private static string Write(byte[] rle)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
            new RleJsonConverter().Write(writer, rle, JsonSerializerOptions.Default);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Test]
    public void Write_AllByteValues_MatchesNumberPerElement()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        Assert.That(Write(all), Is.EqualTo("[" + string.Join(",", all) + "]"));
    }

    [Test]
    public void Write_Empty_WritesEmptyArray() => Assert.That(Write([]), Is.EqualTo("[]"));

    [Test]
    public void Write_VendoredVector_EqualsLabelStudioJsonArray()
    {
        // px_1x1_on from docs/label-studio-protocol.md §4.
        Assert.That(Write([0, 0, 0, 4, 57, 27, 252, 127, 224]), Is.EqualTo("[0,0,0,4,57,27,252,127,224]"));
    }

    [Test]
    public void Read_NumberOutOfByteRange_Throws()
    {
        var reader = new Utf8JsonReader("[1,256]"u8);
        reader.Read();

        JsonException? caught = null;
        try
        {
            new RleJsonConverter().Read(ref reader, typeof(ReadOnlyMemory<byte>), JsonSerializerOptions.Default);
        }
        catch (JsonException ex)
        {
            caught = ex;
        }

        Assert.That(caught, Is.Not.Null);
    }
}
