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

    /// <summary>Writes the normalised tensor for a decoded image (its pixel buffer, which may be DCT-scaled).</summary>
    public static void ToInputTensor(DecodedImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ToInputTensor(image.Rgb, image.PixelWidth, image.PixelHeight, destination);
    }

    /// <summary>
    /// Writes <c>(resize(rgb/255) − mean)/std</c> as NCHW planes R,G,B of 1024×1024 into the first
    /// <see cref="TensorLength"/> elements of <paramref name="destination"/>.
    /// </summary>
    /// <param name="rgb">Row-major R,G,B bytes, <paramref name="width"/>·<paramref name="height"/>·3 long.</param>
    /// <remarks>
    /// Resizing runs on 0..255 floats; 1/(255·std) is folded into the vertical weights and −mean/std is the first tap's
    /// addend. Because every output's weights sum to 1 this equals resizing the [0,1] values and then normalising, up to
    /// float rounding (measured ≤ 1e-6 against a double-precision reference).
    /// Temporary memory: one pooled float buffer of 3·height·1024, returned before this method returns.
    /// </remarks>
    public static void ToInputTensor(ReadOnlySpan<byte> rgb, int width, int height, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfLessThan(rgb.Length, (long)width * height * 3, nameof(rgb));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(3L * height * InputSize, Array.MaxLength, nameof(height));
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, TensorLength, nameof(destination));

        var horizontal = ResizeKernel.Get(width, InputSize);
        var vertical = ResizeKernel.Get(height, InputSize);
        var planeLength = height * InputSize;
        var rows = ArrayPool<float>.Shared.Rent(3 * planeLength);
        try
        {
            var rowPlanes = rows.AsSpan(0, 3 * planeLength);
            ResizeRows(rgb, width, height, horizontal, rowPlanes);
            for (var c = 0; c < 3; c++)
            {
                var scale = (float)(1.0 / (255.0 * s_std[c]));
                var bias = (float)(-s_mean[c] / s_std[c]);
                ResizeColumns(rowPlanes.Slice(c * planeLength, planeLength), vertical, scale, bias,
                    destination.Slice(c * PlaneLength, PlaneLength));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
        }
    }

    /// <summary>
    /// Horizontal pass: each of the <paramref name="height"/> interleaved RGB rows → three planar rows of 1024 floats
    /// (still on the 0..255 scale) in <paramref name="planes"/> = [R plane | G plane | B plane], each height×1024.
    /// </summary>
    private static void ResizeRows(ReadOnlySpan<byte> rgb, int width, int height, ResizeKernel kernel, Span<float> planes)
    {
        var planeLength = height * InputSize;
        var stride = kernel.Stride;
        ref var src = ref MemoryMarshal.GetReference(rgb);
        ref var red = ref MemoryMarshal.GetReference(planes);
        ref var green = ref Unsafe.Add(ref red, planeLength);
        ref var blue = ref Unsafe.Add(ref red, 2 * planeLength);

        ref var starts = ref MemoryMarshal.GetReference(kernel.Starts);
        ref var counts = ref MemoryMarshal.GetReference(kernel.Counts);
        ref var w0 = ref MemoryMarshal.GetReference(kernel.WeightTable);
        for (var y = 0; y < height; y++)
        {
            ref var row = ref Unsafe.Add(ref src, y * width * 3);
            var o = y * InputSize;
            for (var x = 0; x < InputSize; x++)
            {
                // Bounds: Start(x) + Count(x) ≤ width for every window (ResizeKernel contract); rgb.Length checked by the caller.
                ref var p = ref Unsafe.Add(ref row, Unsafe.Add(ref starts, x) * 3);
                ref var w = ref Unsafe.Add(ref w0, x * stride);
                var count = Unsafe.Add(ref counts, x);
                float r = 0f, g = 0f, b = 0f;
                for (var k = 0; k < count; k++)
                {
                    var wk = Unsafe.Add(ref w, k);
                    r += wk * Unsafe.Add(ref p, 3 * k);
                    g += wk * Unsafe.Add(ref p, 3 * k + 1);
                    b += wk * Unsafe.Add(ref p, 3 * k + 2);
                }

                Unsafe.Add(ref red, o + x) = r;
                Unsafe.Add(ref green, o + x) = g;
                Unsafe.Add(ref blue, o + x) = b;
            }
        }
    }

    /// <summary>
    /// Vertical pass over one channel: <paramref name="rows"/> (height×1024) → <paramref name="plane"/> (1024×1024),
    /// with the normalisation folded in: plane = Σ (w·scale)·row + bias.
    /// </summary>
    [SkipLocalsInit]
    private static void ResizeColumns(ReadOnlySpan<float> rows, ResizeKernel kernel, float scale, float bias, Span<float> plane)
    {
        Span<float> biasRow = stackalloc float[InputSize];
        biasRow.Fill(bias);
        for (var y = 0; y < InputSize; y++)
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
