using System.Text.Json;
using Sam2Interactive.Decoder;

namespace Sam2Interactive.Testing;

/// <summary>Reads the server's /predict answers (docs/label-studio-protocol.md §1.4): regions and their brush masks.</summary>
internal static class LabelStudioResults
{
    /// <summary>The first region of the first prediction: <c>results[0].result[0]</c>.</summary>
    public static JsonElement FirstRegion(JsonElement answer) => answer.GetProperty("results")[0].GetProperty("result")[0];

    /// <summary>A brush region's RLE decoded to its alpha channel (0/255), <paramref name="width"/>·<paramref name="height"/> bytes.</summary>
    public static byte[] MaskOf(JsonElement region, int width, int height)
    {
        var rle = region.GetProperty("value").GetProperty("rle").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var rgba = BrushRle.Decode(rle);
        if (rgba.Length != 4 * width * height)
            throw new InvalidOperationException($"the region's RLE decodes to {rgba.Length} bytes, not 4 × {width} × {height}");
        var alpha = new byte[width * height];
        for (var i = 0; i < alpha.Length; i++) alpha[i] = rgba[4 * i + 3];
        return alpha;
    }

    /// <summary>The mask of the first region in a raw /predict answer.</summary>
    public static byte[] FirstMaskOf(byte[] answer, int width, int height)
    {
        using var json = JsonDocument.Parse(answer);
        return MaskOf(FirstRegion(json.RootElement), width, height);
    }
}
