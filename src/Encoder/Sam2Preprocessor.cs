using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sam2Interactive.Encoder;

/// <summary>
/// SAM2ImagePredictor's image transform: <c>ToTensor()</c> (uint8/255) → <c>Resize((1024, 1024), antialias=True)</c> in float,
/// aspect ratio NOT preserved → <c>Normalize(mean, std)</c>, laid out as NCHW [1,3,1024,1024] float32.
/// </summary>
internal static class Sam2Preprocessor
{
    /// <summary>Side of the square encoder input.</summary>
    public const int InputSize = Sam2Tensors.InputSize;

    /// <summary>Elements of the [1,3,1024,1024] input tensor.</summary>
    public const int TensorLength = 3 * InputSize * InputSize;

    private const int PlaneLength = InputSize * InputSize;

    private static readonly double[] s_mean = [0.485, 0.456, 0.406];
    private static readonly double[] s_std = [0.229, 0.224, 0.225];

    /// <summary>Writes the normalised tensor for a decoded image (its pixel buffer, which may be DCT-scaled, RGB or RGBA).</summary>
    public static void ToInputTensor(DecodedImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ToInputTensor(image.Pixels, image.BytesPerPixel, image.PixelWidth, image.PixelHeight, destination);
    }

    /// <summary>
    /// Writes <c>(resize(rgb/255) − mean)/std</c> as NCHW planes R,G,B of 1024×1024 into the first
    /// <see cref="TensorLength"/> elements of <paramref name="destination"/>.
    /// </summary>
    /// <param name="rgb">Row-major R,G,B bytes, <paramref name="width"/>·<paramref name="height"/>·3 long.</param>
    public static void ToInputTensor(ReadOnlySpan<byte> rgb, int width, int height, Span<float> destination) =>
        ToInputTensor(rgb, 3, width, height, destination);

    /// <summary>
    /// Writes <c>(resize(rgb/255) − mean)/std</c> as NCHW planes R,G,B of 1024×1024 into the first
    /// <see cref="TensorLength"/> elements of <paramref name="destination"/>.
    /// </summary>
    /// <param name="pixels">Row-major pixels of <paramref name="bytesPerPixel"/> bytes (R,G,B or R,G,B,A; alpha ignored),
    /// <paramref name="width"/>·<paramref name="height"/>·<paramref name="bytesPerPixel"/> long.</param>
    /// <remarks>
    /// Resizing runs on 0..255 floats; 1/(255·std) is folded into the vertical weights and −mean/std is the first tap's
    /// addend. Because every output's weights sum to 1 this equals resizing the [0,1] values and then normalising, up to
    /// float rounding (measured ≤ 1e-6 against a double-precision reference).
    /// Both passes are split into bands of rows across the cores; every output value is computed by the same operations in
    /// the same order whatever the split, so the result does not depend on it.
    /// Temporary memory: one pooled float buffer of 3·height·1024, returned before this method returns.
    /// </remarks>
    public static void ToInputTensor(ReadOnlySpan<byte> pixels, int bytesPerPixel, int width, int height, Span<float> destination) =>
        ToInputTensor(pixels, bytesPerPixel, width, height, destination, Bands(height));

    /// <param name="bands">Bands of rows per pass (1: the calling thread does everything).</param>
    internal static void ToInputTensor(ReadOnlySpan<byte> pixels, int bytesPerPixel, int width, int height, Span<float> destination, int bands)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bands);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (bytesPerPixel is not (3 or 4)) throw new ArgumentOutOfRangeException(nameof(bytesPerPixel), bytesPerPixel, "3 (RGB) or 4 (RGBA)");
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels.Length, (long)width * height * bytesPerPixel, nameof(pixels));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(3L * height * InputSize, Array.MaxLength, nameof(height));
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, TensorLength, nameof(destination));

        var horizontal = ResizeKernel.Get(width, InputSize);
        var vertical = ResizeKernel.Get(height, InputSize);
        var planeLength = height * InputSize;
        var rows = ArrayPool<float>.Shared.Rent(3 * planeLength);
        try
        {
            if (bands == 1)
            {
                ResizeRows(pixels, bytesPerPixel, width, 0, height, horizontal, rows.AsSpan(0, 3 * planeLength));
                ResizeColumns(rows.AsSpan(0, 3 * planeLength), height, vertical, 0, InputSize, destination);
            }
            else
            {
                unsafe
                {
                    // Parallel.For cannot capture spans: the bands get the pinned addresses; both outlive the loop.
                    fixed (byte* source = pixels)
                    fixed (float* target = destination)
                    {
                        ResizeInBands(source, bytesPerPixel, width, height, horizontal, vertical, rows, target, bands);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
        }
    }

    /// <summary>Bands for a pass over <paramref name="height"/> input rows: one per core, each at least <see cref="MinBandRows"/> rows.</summary>
    private static int Bands(int height) => Math.Clamp(Math.Min(height, InputSize) / MinBandRows, 1, Environment.ProcessorCount);

    private const int MinBandRows = 64;

    private static unsafe void ResizeInBands(byte* source, int bytesPerPixel, int width, int height, ResizeKernel horizontal, ResizeKernel vertical,
        float[] rows, float* target, int bands)
    {
        var sourceLength = (long)width * height * bytesPerPixel;
        var planeLength = height * InputSize;
        var src = (IntPtr)source;
        var dst = (IntPtr)target;
        Parallel.For(0, bands, band =>
        {
            var (start, end) = Band(height, bands, band);
            var pixels = new ReadOnlySpan<byte>((byte*)src, (int)sourceLength);
            ResizeRows(pixels, bytesPerPixel, width, start, end, horizontal, rows.AsSpan(0, 3 * planeLength));
        });
        Parallel.For(0, bands, band =>
        {
            var (start, end) = Band(InputSize, bands, band);
            ResizeColumns(rows.AsSpan(0, 3 * planeLength), height, vertical, start, end, new Span<float>((float*)dst, TensorLength));
        });
    }

    /// <summary>Rows of band <paramref name="i"/> of <paramref name="bands"/> over [0, <paramref name="count"/>).</summary>
    private static (int Start, int End) Band(int count, int bands, int i) => (count * i / bands, count * (i + 1) / bands);

    /// <summary>
    /// Horizontal pass over input rows [<paramref name="yStart"/>, <paramref name="yEnd"/>): each interleaved row → three planar
    /// rows of 1024 floats (still on the 0..255 scale) in <paramref name="planes"/> = [R plane | G plane | B plane], each height×1024.
    /// </summary>
    private static void ResizeRows(ReadOnlySpan<byte> pixels, int bytesPerPixel, int width, int yStart, int yEnd, ResizeKernel kernel, Span<float> planes)
    {
        if (bytesPerPixel == 4) ResizeRows<Rgba>(pixels, width, yStart, yEnd, kernel, planes);
        else ResizeRows<Rgb>(pixels, width, yStart, yEnd, kernel, planes);
    }

    /// <summary>Bytes per pixel as a type, so the JIT specialises the horizontal pass with a constant stride.</summary>
    private interface IPixelStride
    {
        static abstract int Bytes { get; }
    }

    private readonly struct Rgb : IPixelStride
    {
        public static int Bytes => 3;
    }

    private readonly struct Rgba : IPixelStride
    {
        public static int Bytes => 4;
    }

    private static void ResizeRows<TStride>(ReadOnlySpan<byte> pixels, int width, int yStart, int yEnd, ResizeKernel kernel, Span<float> planes)
        where TStride : struct, IPixelStride
    {
        var planeLength = planes.Length / 3;
        var stride = kernel.Stride;
        ref var src = ref MemoryMarshal.GetReference(pixels);
        ref var red = ref MemoryMarshal.GetReference(planes);
        ref var green = ref Unsafe.Add(ref red, planeLength);
        ref var blue = ref Unsafe.Add(ref red, 2 * planeLength);

        ref var starts = ref MemoryMarshal.GetReference(kernel.Starts);
        ref var counts = ref MemoryMarshal.GetReference(kernel.Counts);
        ref var w0 = ref MemoryMarshal.GetReference(kernel.WeightTable);
        for (var y = yStart; y < yEnd; y++)
        {
            ref var row = ref Unsafe.Add(ref src, y * width * TStride.Bytes);
            var o = y * InputSize;
            for (var x = 0; x < InputSize; x++)
            {
                // Bounds: Start(x) + Count(x) ≤ width for every window (ResizeKernel contract); pixels.Length checked by the caller.
                ref var p = ref Unsafe.Add(ref row, Unsafe.Add(ref starts, x) * TStride.Bytes);
                ref var w = ref Unsafe.Add(ref w0, x * stride);
                var count = Unsafe.Add(ref counts, x);
                float r = 0f, g = 0f, b = 0f;
                for (var k = 0; k < count; k++)
                {
                    var wk = Unsafe.Add(ref w, k);
                    r += wk * Unsafe.Add(ref p, TStride.Bytes * k);
                    g += wk * Unsafe.Add(ref p, TStride.Bytes * k + 1);
                    b += wk * Unsafe.Add(ref p, TStride.Bytes * k + 2);
                }

                Unsafe.Add(ref red, o + x) = r;
                Unsafe.Add(ref green, o + x) = g;
                Unsafe.Add(ref blue, o + x) = b;
            }
        }
    }

    /// <summary>Vertical pass for output rows [<paramref name="yStart"/>, <paramref name="yEnd"/>) of all three channels.</summary>
    private static void ResizeColumns(ReadOnlySpan<float> rowPlanes, int height, ResizeKernel vertical, int yStart, int yEnd, Span<float> destination)
    {
        var planeLength = height * InputSize;
        for (var c = 0; c < 3; c++)
        {
            var scale = (float)(1.0 / (255.0 * s_std[c]));
            var bias = (float)(-s_mean[c] / s_std[c]);
            ResizeColumns(rowPlanes.Slice(c * planeLength, planeLength), vertical, scale, bias,
                destination.Slice(c * PlaneLength, PlaneLength), yStart, yEnd);
        }
    }

    /// <summary>
    /// Vertical pass over one channel, output rows [yStart, yEnd): <paramref name="rows"/> (height×1024) →
    /// <paramref name="plane"/> (1024×1024), with the normalisation folded in: plane = Σ (w·scale)·row + bias.
    /// </summary>
    [SkipLocalsInit]
    private static void ResizeColumns(ReadOnlySpan<float> rows, ResizeKernel kernel, float scale, float bias, Span<float> plane, int yStart, int yEnd)
    {
        Span<float> biasRow = stackalloc float[InputSize];
        biasRow.Fill(bias);
        for (var y = yStart; y < yEnd; y++)
        {
            var start = kernel.Start(y);
            var weights = kernel.Weights(y);
            var target = plane.Slice(y * InputSize, InputSize);
            TensorPrimitives.MultiplyAdd(rows.Slice(start * InputSize, InputSize), weights[0] * scale, biasRow, target);
            for (var k = 1; k < weights.Length; k++)
            {
                TensorPrimitives.MultiplyAdd(rows.Slice((start + k) * InputSize, InputSize), weights[k] * scale, target, target);
            }
        }
    }
}
