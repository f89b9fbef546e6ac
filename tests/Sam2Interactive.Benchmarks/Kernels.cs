using BenchmarkDotNet.Attributes;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// Image decode (SkiaSharp, DCT-scaled when the short side allows; RGBA handed over when upright, as the server decodes) +
/// SAM2 resize (bands of rows across the cores) + normalise into a reused [1,3,1024,1024] tensor. Allocation budget: the
/// decoded pixels and the resize scratch are pooled, so steady state allocates only small Skia wrapper objects and the
/// parallel loop's bookkeeping. Issue 14 goal: 4000×3000 ≤ 60 ms.
/// </summary>
[MemoryDiagnoser]
public class PreprocessBenchmarks
{
    private readonly float[] _tensor = new float[Sam2Preprocessor.TensorLength];
    private byte[] _jpeg = [];

    [Params("640x480", "1920x1080", "4000x3000")]
    public string Size { get; set; } = "640x480";

    [GlobalSetup]
    public void Setup()
    {
        var (w, h) = ParseSize(Size);
        _jpeg = Scenes.Photo(w, h).Encoded;
    }

    [Benchmark]
    public float DecodeResizeNormalize()
    {
        using var image = ImageDecoder.Decode(_jpeg, allowRgba: true);
        Sam2Preprocessor.ToInputTensor(image, _tensor);
        return _tensor[0];
    }

    /// <summary>The decode alone: what bounds the row above (libjpeg-turbo's entropy decoding is sequential).</summary>
    [Benchmark]
    public int DecodeOnly()
    {
        using var image = ImageDecoder.Decode(_jpeg, allowRgba: true);
        return image.PixelWidth;
    }

    internal static (int Width, int Height) ParseSize(string size)
    {
        var parts = size.Split('x');
        return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>256×256 logits → bilinear (align_corners=False) upsample → threshold into a reused mask buffer.</summary>
[MemoryDiagnoser]
public class UpsampleBenchmarks
{
    private readonly float[] _logits = DiscLogits();
    private byte[] _mask = [];
    private int _width;
    private int _height;

    [Params("1024x1024", "4000x3000")]
    public string Size { get; set; } = "1024x1024";

    [GlobalSetup]
    public void Setup()
    {
        (_width, _height) = PreprocessBenchmarks.ParseSize(Size);
        _mask = new byte[_width * _height];
    }

    [Benchmark]
    public byte UpsampleAndThreshold()
    {
        MaskPostprocessor.UpsampleAndThreshold(_logits, _width, _height, _mask);
        return _mask[_mask.Length / 2];
    }

    /// <summary>Uniform noise in [−0.5, 0.5): a sign change in nearly every low-res cell (the upsampler's worst case).</summary>
    internal static float[] NoiseLogits()
    {
        var random = new Random(14);
        var logits = new float[MaskPostprocessor.LowResLength];
        for (var i = 0; i < logits.Length; i++) logits[i] = (float)(random.NextDouble() - 0.5);
        return logits;
    }

    /// <summary>Signed distance to a disc of radius 70 centred at (100, 120), in low-res cells: a typical object mask.</summary>
    internal static float[] DiscLogits()
    {
        var logits = new float[MaskPostprocessor.LowResLength];
        for (var y = 0; y < MaskPostprocessor.LowResSize; y++)
        {
            for (var x = 0; x < MaskPostprocessor.LowResSize; x++)
            {
                logits[y * MaskPostprocessor.LowResSize + x] = 70f - MathF.Sqrt((x - 100f) * (x - 100f) + (y - 120f) * (y - 120f));
            }
        }
        return logits;
    }
}

/// <summary>
/// What a click pays after the decoder run for a brush region (issue 14): 256×256 logits → bilinear upsample → threshold →
/// Label Studio RLE, fused (<see cref="BrushRle.Encode(MaskPrediction, System.Buffers.IBufferWriter{byte})"/>), into a reused
/// writer. Goal at 4000×3000: ≤ 8 ms and 0 B. <c>disc</c> is an object mask; <c>noise</c> is the worst case (every low-res cell
/// mixed, so every pixel is evaluated; split across cores).
/// </summary>
[MemoryDiagnoser]
public class MaskRleBenchmarks
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _rle = new(1 << 20);
    private MaskPrediction? _mask;
    private byte[] _pixels = [];

    [Params("1024x1024", "4000x3000")]
    public string Size { get; set; } = "1024x1024";

    [Params("disc", "noise")]
    public string Field { get; set; } = "disc";

    [GlobalSetup]
    public void Setup()
    {
        var (width, height) = PreprocessBenchmarks.ParseSize(Size);
        var logits = Field == "disc" ? UpsampleBenchmarks.DiscLogits() : UpsampleBenchmarks.NoiseLogits();
        _mask = MaskPrediction.FromLogits(logits, width, height);
        _pixels = new byte[width * height];
    }

    [GlobalCleanup]
    public void Cleanup() => _mask?.Dispose();

    /// <summary>The fused path the server takes for a brush region.</summary>
    [Benchmark]
    public int UpsampleThresholdRle()
    {
        _mask!.DropUpsampler(); // what a click's fresh prediction pays: the cell classification too
        _rle.ResetWrittenCount();
        return BrushRle.Encode(_mask!, _rle);
    }

    /// <summary>The path before issue 14: the whole W×H mask, then the RLE of its bytes.</summary>
    [Benchmark(Baseline = true)]
    public int MaskThenRle()
    {
        MaskPostprocessor.UpsampleAndThreshold(_mask!.LowResLogits.Span, _mask.Width, _mask.Height, _pixels);
        _rle.ResetWrittenCount();
        var span = _rle.GetSpan(BrushRle.GetEncodedLength(_pixels));
        var written = BrushRle.Encode(_pixels, span);
        _rle.Advance(written);
        return written;
    }
}

/// <summary>
/// Label Studio brush RLE of a 4000×3000 object mask. <see cref="EncodeIntoBuffer"/> writes into a reused buffer: zero
/// allocations per call (issue 5 target: ≤ 5 ms). <see cref="EncodeToArray"/> is the server's call, whose only allocation is
/// the returned array.
/// </summary>
[MemoryDiagnoser]
public class RleBenchmarks
{
    private const int Width = 4000, Height = 3000;
    private readonly byte[] _mask = new byte[Width * Height];
    private byte[] _buffer = [];

    [GlobalSetup]
    public void Setup()
    {
        MaskPostprocessor.UpsampleAndThreshold(UpsampleBenchmarks.DiscLogits(), Width, Height, _mask);
        _buffer = new byte[BrushRle.GetMaxEncodedLength(_mask.Length)];
    }

    [Benchmark(Baseline = true)]
    public int EncodeIntoBuffer() => BrushRle.Encode(_mask, _buffer);

    [Benchmark]
    public int EncodeToArray() => BrushRle.Encode(_mask).Length;
}

/// <summary>
/// The 8-bit grayscale PNG of a 4000×3000 object mask (Label Studio's BitmaskLabels reply, the HTTP API's png output),
/// beside the brush RLE of the same mask. Issue 11 goal: PNG ≤ the RLE's cost + 20 ms. Allocations: the zlib stream and its
/// buffers; the PNG bytes are pooled.
/// </summary>
[MemoryDiagnoser]
public class MaskPngBenchmarks
{
    private const int Width = 4000, Height = 3000;
    private readonly byte[] _mask = new byte[Width * Height];
    private byte[] _buffer = [];
    private MaskPrediction? _prediction;

    [GlobalSetup]
    public void Setup()
    {
        _prediction = MaskPrediction.FromLogits(UpsampleBenchmarks.DiscLogits(), Width, Height);
        MaskPostprocessor.UpsampleAndThreshold(UpsampleBenchmarks.DiscLogits(), Width, Height, _mask);
        _buffer = new byte[BrushRle.GetMaxEncodedLength(_mask.Length)];
    }

    [Benchmark(Baseline = true)]
    public int BrushRle4000x3000() => BrushRle.Encode(_mask, _buffer);

    [Benchmark]
    public int Png4000x3000()
    {
        using var png = MaskPng.Encode(_mask, Width, Height);
        return png.WrittenCount;
    }

    /// <summary>The PNG streamed from the prediction's rows (no W×H mask): upsampling included.</summary>
    [Benchmark]
    public int PngFromPrediction4000x3000()
    {
        _prediction!.DropUpsampler();
        using var png = MaskPng.Encode(_prediction!);
        return png.WrittenCount;
    }

    /// <summary>What a prompt-UI predict pays for its reply: the streamed PNG, then its base64 data URL (the one array
    /// the response holds).</summary>
    [Benchmark]
    public int PngDataUrlFromPrediction4000x3000()
    {
        _prediction!.DropUpsampler();
        return Sam2Interactive.Api.LabelStudio.MaskDataUrl.FromPng(MaskPng.Encode(_prediction!)).Length;
    }

    /// <summary>A classic BitmaskLabels region's PNG: gray + alpha, twice the raw bytes per row.</summary>
    [Benchmark]
    public int PngAlphaFromPrediction4000x3000()
    {
        _prediction!.DropUpsampler();
        using var png = MaskPng.Encode(_prediction!, alpha: true);
        return png.WrittenCount;
    }

    [GlobalCleanup]
    public void Cleanup() => _prediction?.Dispose();
}

/// <summary>
/// The HTTP API's <c>coco_rle</c> output of a 4000×3000 object mask (tiled transpose to column-major, vectorised run scan,
/// pycocotools' counts string), beside the brush RLE of the same mask. Allocations: the counts string; the transposed
/// mask and the counts are pooled.
/// </summary>
[MemoryDiagnoser]
public class CocoRleBenchmarks
{
    private const int Width = 4000, Height = 3000;
    private readonly byte[] _mask = new byte[Width * Height];
    private byte[] _buffer = [];

    [GlobalSetup]
    public void Setup()
    {
        MaskPostprocessor.UpsampleAndThreshold(UpsampleBenchmarks.DiscLogits(), Width, Height, _mask);
        _buffer = new byte[BrushRle.GetMaxEncodedLength(_mask.Length)];
    }

    [Benchmark(Baseline = true)]
    public int BrushRle4000x3000() => BrushRle.Encode(_mask, _buffer);

    [Benchmark]
    public int CocoRle4000x3000() => CocoRle.Encode(_mask, Width, Height).Length;
}

/// <summary>
/// Polygon output of a 4000×3000 mask of one large object (the RLE kernel's mask: a disc upsampled from 256×256 logits,
/// as SAM2 masks are): tracing the pixel-edge boundary alone, and tracing + simplifying with the default settings
/// (what a polygon region costs), beside the brush RLE of the same mask. Issue 10 goal: ≤ 20 ms. Allocations: the run table
/// is pooled; the boundary's corners, the simplified points and the result are allocated (∝ perimeter, not pixels).
/// </summary>
[MemoryDiagnoser]
public class PolygonBenchmarks
{
    private const int Width = 4000, Height = 3000;
    private readonly byte[] _mask = new byte[Width * Height];
    private readonly PolygonOptions _options = new();
    private byte[] _buffer = [];

    [GlobalSetup]
    public void Setup()
    {
        MaskPostprocessor.UpsampleAndThreshold(UpsampleBenchmarks.DiscLogits(), Width, Height, _mask);
        _buffer = new byte[BrushRle.GetMaxEncodedLength(_mask.Length)];
    }

    [Benchmark(Baseline = true)]
    public int BrushRle4000x3000() => BrushRle.Encode(_mask, _buffer);

    [Benchmark]
    public int TraceOnly4000x3000() => MaskContours.OuterRings(_mask, Width, Height, _options.MinArea)[0].Points.Length;

    [Benchmark]
    public int Polygons4000x3000() => MaskPolygons.Trace(_mask, Width, Height, _options)[0].Points.Length;
}
