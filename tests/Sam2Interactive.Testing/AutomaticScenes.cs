using SkiaSharp;

namespace Sam2Interactive.Testing;

/// <summary>
/// A scene for automatic masks on the stand-in models: grey background with a red disc, a green square and a blue
/// rectangle, every pair of colours (background included) more than the stand-in's loosest tolerance (2.0 in normalised
/// colour) apart, so each object is one mask whatever grid point lands on it.
/// </summary>
internal static class AutomaticScenes
{
    public static readonly SKColor Background = new(128, 128, 128);
    public static readonly SKColor Red = new(220, 40, 40);
    public static readonly SKColor Green = new(30, 220, 40);
    public static readonly SKColor Blue = new(40, 60, 220);

    public static SKRect Disc(int w, int h)
    {
        var r = 0.16f * Math.Min(w, h);
        return new SKRect(0.27f * w - r, 0.32f * h - r, 0.27f * w + r, 0.32f * h + r);
    }

    public static SKRect Square(int w, int h) => new(0.60f * w, 0.12f * h, 0.86f * w, 0.12f * h + 0.26f * w);

    public static SKRect Rectangle(int w, int h) => new(0.15f * w, 0.66f * h, 0.80f * w, 0.88f * h);

    /// <summary>The scene, PNG-encoded, with the exact pixel mask of each object ("red", "green", "blue").</summary>
    public static Scene Create(int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(Background);
        var shapes = new (string Name, SKColor Colour, Action<SKCanvas, SKPaint> Draw)[]
        {
            ("red", Red, (c, p) => c.DrawOval(Disc(width, height), p)),
            ("green", Green, (c, p) => c.DrawRect(Square(width, height), p)),
            ("blue", Blue, (c, p) => c.DrawRect(Rectangle(width, height), p)),
        };
        var objects = new Dictionary<string, bool[]>();
        foreach (var (name, colour, draw) in shapes)
        {
            using var paint = new SKPaint { Color = colour, IsAntialias = false, Style = SKPaintStyle.Fill };
            draw(canvas, paint);
            using var mask = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
            using (var mc = new SKCanvas(mask))
            {
                mc.Clear(SKColors.Black);
                using var white = new SKPaint { Color = SKColors.White, IsAntialias = false, Style = SKPaintStyle.Fill };
                draw(mc, white);
            }
            var px = mask.GetPixelSpan();
            var m = new bool[width * height];
            for (var i = 0; i < m.Length; i++) m[i] = px[i] > 127;
            objects[name] = m;
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return new Scene(width, height, data.ToArray(), objects);
    }

    /// <summary>Distance of two colours as the stand-in decoder sees them (ImageNet-normalised RGB).</summary>
    public static double StandInDistance(SKColor a, SKColor b)
    {
        double[] std = [0.229, 0.224, 0.225];
        var d0 = (a.Red - b.Red) / 255.0 / std[0];
        var d1 = (a.Green - b.Green) / 255.0 / std[1];
        var d2 = (a.Blue - b.Blue) / 255.0 / std[2];
        return Math.Sqrt(d0 * d0 + d1 * d1 + d2 * d2);
    }
}
