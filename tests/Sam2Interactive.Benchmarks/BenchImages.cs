using SkiaSharp;

namespace Sam2Interactive.Benchmarks;

/// <summary>A synthetic photo-like JPEG and the object a click should segment.</summary>
/// <param name="Encoded">JPEG bytes (quality 90).</param>
/// <param name="Disc">The red disc's bounds in pixels; its centre is the click.</param>
internal sealed record BenchImage(int Width, int Height, byte[] Encoded, SKRect Disc)
{
    public SKPoint Click => new(Disc.MidX, Disc.MidY);
}

/// <summary>
/// Synthetic images for the kernels and the load driver: a grey gradient with seeded noise (so JPEG decode does real entropy
/// work, unlike a flat fill), a red disc, a blue rectangle. <c>variant</c> shifts the noise so every variant hashes differently.
/// </summary>
internal static class BenchImages
{
    public static BenchImage Create(int width, int height, int variant = 0)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var pixels = bitmap.GetPixelSpan();
        var state = (uint)(0x9E3779B9 ^ (variant * 0x85EBCA6B) ^ 1);
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * width * 4, width * 4);
            var shade = 100 + 60 * y / height;
            for (var x = 0; x < width; x++)
            {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                var v = (byte)(shade + (int)(state % 24));
                row[4 * x] = v;
                row[4 * x + 1] = v;
                row[4 * x + 2] = v;
                row[4 * x + 3] = 255;
            }
        }

        var disc = new SKRect(0.20f * width, 0.25f * height, 0.45f * width, 0.60f * height);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var red = new SKPaint { Color = new SKColor(200, 40, 40), IsAntialias = true, Style = SKPaintStyle.Fill };
            using var blue = new SKPaint { Color = new SKColor(40, 60, 200), IsAntialias = true, Style = SKPaintStyle.Fill };
            canvas.DrawOval(disc, red);
            canvas.DrawRect(new SKRect(0.55f * width, 0.55f * height, 0.90f * width, 0.90f * height), blue);
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return new BenchImage(width, height, data.ToArray(), disc);
    }
}
