using SkiaSharp;

namespace Sam2Interactive.Testing;

/// <summary>A drawn test image with the exact pixel masks of its objects (in display orientation).</summary>
internal sealed record Scene(int Width, int Height, byte[] Encoded, IReadOnlyDictionary<string, bool[]> Objects)
{
    public bool[] Union(params string[] names)
    {
        var union = new bool[Width * Height];
        foreach (var n in names)
        {
            var m = Objects[n];
            for (var i = 0; i < union.Length; i++) union[i] |= m[i];
        }
        return union;
    }
}

/// <summary>A photo-like JPEG (<see cref="Scenes.Photo"/>) and the object a click should segment.</summary>
/// <param name="Encoded">JPEG bytes (quality 90).</param>
/// <param name="Disc">The red disc's bounds in pixels; its centre is the click.</param>
internal sealed record PhotoScene(int Width, int Height, byte[] Encoded, SKRect Disc)
{
    public SKPoint Click => Scenes.Centre(Disc);
}

/// <summary>
/// Synthetic scenes for the stand-in models, whose masks follow colour: grey background; "red" disc; "pink" square whose
/// colour is within the stand-in's mask-1 tolerance of red (so a negative click is needed to separate them); "blue" rectangle.
/// <see cref="Create"/> draws them flat with exact masks (tests); <see cref="Photo"/> on seeded noise as a JPEG (benchmarks).
/// </summary>
internal static class Scenes
{
    public static readonly SKColor Background = new(128, 128, 128);
    public static readonly SKColor Red = new(200, 40, 40);
    public static readonly SKColor Pink = new(200, 40, 80);
    public static readonly SKColor Blue = new(40, 60, 200);

    /// <summary>Object geometry as fractions of the display size.</summary>
    public static SKRect RedDiscBounds(int w, int h)
    {
        var r = 0.18f * Math.Min(w, h);
        return new SKRect(0.28f * w - r, 0.32f * h - r, 0.28f * w + r, 0.32f * h + r);
    }

    public static SKRect PinkSquare(int w, int h) => new(0.60f * w, 0.10f * h, 0.90f * w, 0.40f * h);

    public static SKRect BlueRect(int w, int h) => new(0.15f * w, 0.62f * h, 0.80f * w, 0.90f * h);

    public static SKPoint Centre(SKRect r) => new(r.MidX, r.MidY);

    /// <summary>Draws the scene and encodes it. <paramref name="exifOrientation"/> (1-8) stores the pixels so that a viewer
    /// applying the EXIF tag shows exactly the drawn scene.</summary>
    public static Scene Create(int width, int height, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int exifOrientation = 1,
        bool grayscale = false, bool transparentBackground = false)
    {
        using var display = Draw(width, height, grayscale, transparentBackground, out var objects);
        byte[] encoded;
        if (exifOrientation == 1)
        {
            encoded = Encode(display, format, grayscale);
        }
        else
        {
            using var stored = ToStoredOrientation(display, exifOrientation);
            encoded = TestImages.WithExifOrientation(Encode(stored, SKEncodedImageFormat.Jpeg, false), exifOrientation);
        }
        return new Scene(width, height, encoded, objects);
    }

    /// <summary>
    /// A photo-like JPEG for the kernels and the load driver: a grey gradient with seeded noise (so JPEG decode does real entropy
    /// work, unlike a flat fill), an antialiased red disc and blue rectangle. <paramref name="variant"/> shifts the noise so every
    /// variant hashes differently.
    /// </summary>
    public static PhotoScene Photo(int width, int height, int variant = 0)
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
            using var red = new SKPaint { Color = Red, IsAntialias = true, Style = SKPaintStyle.Fill };
            using var blue = new SKPaint { Color = Blue, IsAntialias = true, Style = SKPaintStyle.Fill };
            canvas.DrawOval(disc, red);
            canvas.DrawRect(new SKRect(0.55f * width, 0.55f * height, 0.90f * width, 0.90f * height), blue);
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        return new PhotoScene(width, height, data.ToArray(), disc);
    }

    private static SKBitmap Draw(int w, int h, bool grayscale, bool transparent, out Dictionary<string, bool[]> objects)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(transparent ? new SKColor(128, 128, 128, 0) : Gray(Background, grayscale));
        var shapes = new (string Name, SKColor Colour, Action<SKCanvas, SKPaint> Draw)[]
        {
            ("red", Red, (c, p) => c.DrawOval(RedDiscBounds(w, h), p)),
            ("pink", Pink, (c, p) => c.DrawRect(PinkSquare(w, h), p)),
            ("blue", Blue, (c, p) => c.DrawRect(BlueRect(w, h), p)),
        };
        objects = [];
        foreach (var (name, colour, draw) in shapes)
        {
            using var paint = new SKPaint { Color = Gray(colour, grayscale), IsAntialias = false, Style = SKPaintStyle.Fill };
            draw(canvas, paint);
            // Ground truth: the same shape alone, without antialiasing, on a mask.
            using var mask = new SKBitmap(new SKImageInfo(w, h, SKColorType.Gray8, SKAlphaType.Opaque));
            using (var mc = new SKCanvas(mask))
            {
                mc.Clear(SKColors.Black);
                using var white = new SKPaint { Color = SKColors.White, IsAntialias = false, Style = SKPaintStyle.Fill };
                draw(mc, white);
            }
            var px = mask.GetPixelSpan();
            var m = new bool[w * h];
            for (var i = 0; i < m.Length; i++) m[i] = px[i] > 127;
            objects[name] = m;
        }
        // Later shapes cover earlier ones: remove overlaps from the earlier masks.
        foreach (var (later, earlier) in new[] { ("blue", "red"), ("blue", "pink"), ("pink", "red") })
        {
            for (var i = 0; i < w * h; i++) if (objects[later][i]) objects[earlier][i] = false;
        }
        return bitmap;
    }

    private static SKColor Gray(SKColor c, bool grayscale)
    {
        if (!grayscale) return c;
        // Distinct gray levels so the stand-in still separates the objects.
        var level = c == Background ? (byte)60 : c == Red ? (byte)200 : c == Pink ? (byte)215 : (byte)120;
        return new SKColor(level, level, level, c.Alpha);
    }

    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, bool grayscale)
    {
        if (grayscale)
        {
            using var gray = new SKBitmap(new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Gray8, SKAlphaType.Opaque));
            var src = bitmap.GetPixelSpan();
            var dst = gray.GetPixelSpan();
            for (var i = 0; i < dst.Length; i++) dst[i] = src[4 * i];
            using var g = gray.Encode(format, 95);
            return g.ToArray();
        }
        using var data = bitmap.Encode(format, 95);
        return data.ToArray();
    }

    /// <summary>The stored pixels for EXIF orientations 3, 6 and 8 (the inverse of what a viewer applies).</summary>
    private static SKBitmap ToStoredOrientation(SKBitmap display, int orientation)
    {
        var swap = orientation is 6 or 8;
        var w = swap ? display.Height : display.Width;
        var h = swap ? display.Width : display.Height;
        var stored = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(stored);
        switch (orientation)
        {
            case 3: canvas.Translate(w, h); canvas.RotateDegrees(180); break;
            // 6: the viewer rotates the stored image 90° clockwise, so store it rotated 90° counter-clockwise.
            case 6: canvas.Translate(0, h); canvas.RotateDegrees(-90); break;
            case 8: canvas.Translate(w, 0); canvas.RotateDegrees(90); break;
            default: throw new ArgumentOutOfRangeException(nameof(orientation));
        }
        canvas.DrawBitmap(display, 0, 0, SKSamplingOptions.Default);
        return stored;
    }

    /// <summary>Intersection over union of a mask (non-zero = set) and a scene object's exact mask.</summary>
    public static double IoU(ReadOnlySpan<byte> mask, bool[] expected)
    {
        long inter = 0, union = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var a = mask[i] != 0;
            if (a && expected[i]) inter++;
            if (a || expected[i]) union++;
        }
        return union == 0 ? 1 : (double)inter / union;
    }

    /// <summary>Intersection over union of two masks of the same size (non-zero = set).</summary>
    public static double IoU(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        long inter = 0, union = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var x = a[i] != 0;
            var y = b[i] != 0;
            if (x && y) inter++;
            if (x || y) union++;
        }
        return union == 0 ? 1 : (double)inter / union;
    }
}
