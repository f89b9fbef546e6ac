using System.Text.Json;
using Sam2Interactive.Decoder;
using SkiaSharp;

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

    /// <summary>
    /// A bitmask region's <c>value.imageDataURL</c> decoded with Skia as the browser reads it: 255 where the channel
    /// (0 red, as Label Studio's prompt UI reads it, 3 alpha, as a BitmaskLabels region colours it) is above 127, else 0.
    /// </summary>
    public static byte[] BitmaskOf(JsonElement region, int width, int height, int channel = 0)
    {
        const string Prefix = "data:image/png;base64,";
        var url = region.GetProperty("value").GetProperty("imageDataURL").GetString() ?? "";
        if (!url.StartsWith(Prefix, StringComparison.Ordinal)) throw new InvalidOperationException($"not a PNG data URL: {url[..Math.Min(40, url.Length)]}");
        using var codec = SKCodec.Create(new SKMemoryStream(Convert.FromBase64String(url[Prefix.Length..])))
            ?? throw new InvalidOperationException("the data URL is not an image Skia can open");
        if (codec.Info.Width != width || codec.Info.Height != height)
            throw new InvalidOperationException($"the PNG is {codec.Info.Width}×{codec.Info.Height}, not {width}×{height}");
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        if (codec.GetPixels(bitmap.Info, bitmap.GetPixels()) != SKCodecResult.Success) throw new InvalidOperationException("the PNG does not decode");
        var rgba = bitmap.GetPixelSpan();
        var mask = new byte[width * height];
        for (var i = 0; i < mask.Length; i++) mask[i] = rgba[4 * i + channel] > 127 ? (byte)255 : (byte)0;
        return mask;
    }
}
