using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>
/// SAM2ImagePredictor's mask post-processing: optional hole/sprinkle filling on the 256×256 logits, one bilinear
/// (align_corners=False) upsample straight to the original size, and <c>logit &gt; 0</c>.
/// </summary>
internal static class MaskPostprocessor
{
    public const int LowResSize = Sam2Tensors.LowResMaskSize;
    public const int LowResLength = LowResSize * LowResSize;

    /// <summary>Value the mask's foreground pixels get: Label Studio's frontend uses it as the brush alpha.</summary>
    public const byte Foreground = 255;

    /// <summary>
    /// Upsamples 256×256 logits to <paramref name="width"/>×<paramref name="height"/> exactly as
    /// <c>F.interpolate(mode="bilinear", align_corners=False)</c> (float32, half-pixel centres, edge clamp, no antialias) and
    /// writes 255 where the value is &gt; 0, else 0. One thread; <see cref="MaskUpsampler"/> streams rows and splits bands.
    /// </summary>
    /// <param name="logits">256×256 row-major.</param>
    /// <param name="destination">At least width×height bytes, row-major.</param>
    public static void UpsampleAndThreshold(ReadOnlySpan<float> logits, int width, int height, Span<byte> destination)
    {
        if (logits.Length < LowResLength) throw new ArgumentException("logits must hold 256×256 values", nameof(logits));
        if (destination.Length < (long)width * height) throw new ArgumentException("destination is smaller than width×height", nameof(destination));

        var copy = ArrayPool<float>.Shared.Rent(LowResLength);
        try
        {
            logits[..LowResLength].CopyTo(copy);
            using var upsampler = new MaskUpsampler(copy, width, height);
            var scratch = new MaskUpsampler.RowScratch(upsampler);
            try
            {
                upsampler.WriteRows(ref scratch, 0, height, destination);
            }
            finally
            {
                scratch.Dispose();
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(copy);
        }
    }

    /// <summary>
    /// The same upsampling as <see cref="UpsampleAndThreshold"/> (identical float arithmetic, so identical values), handed
    /// to <paramref name="sink"/> one output row at a time instead of thresholded into a W×H buffer: callers that only
    /// count or bound pixels (the automatic mask generator's stability score, box and area) never hold a full-size array.
    /// Before computing row y the sink is asked whether it wants it, given the two low-res rows it interpolates; a skipped
    /// row costs nothing, and low-res rows no wanted output row needs are never interpolated horizontally.
    /// </summary>
    /// <param name="logits">256×256 row-major.</param>
    /// <remarks>Temporary memory: pooled buffers of 256·width + 5·width values, returned before this method returns.</remarks>
    public static void UpsampleRows<TSink>(ReadOnlySpan<float> logits, int width, int height, ref TSink sink)
        where TSink : struct, IUpsampledRowSink
    {
        if (logits.Length < LowResLength) throw new ArgumentException("logits must hold 256×256 values", nameof(logits));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);

        var x0 = ArrayPool<int>.Shared.Rent(width);
        var x1 = ArrayPool<int>.Shared.Rent(width);
        var wx0 = ArrayPool<float>.Shared.Rent(width);
        var wx1 = ArrayPool<float>.Shared.Rent(width);
        var rows = ArrayPool<float>.Shared.Rent(LowResSize * width);
        var rowReady = ArrayPool<bool>.Shared.Rent(LowResSize);
        var line = ArrayPool<float>.Shared.Rent(width);
        try
        {
            Weights(LowResSize, width, x0, x1, wx0, wx1);
            rowReady.AsSpan(0, LowResSize).Clear();
            var scaleY = (float)LowResSize / height;
            for (var y = 0; y < height; y++)
            {
                var (y0, y1, h0, h1) = SourceIndex(scaleY, y, LowResSize);
                if (!sink.Wants(y, y0, y1)) continue;
                var r0 = HorizontalRow(logits, y0, width, rows, rowReady, x0, x1, wx0, wx1);
                var r1 = HorizontalRow(logits, y1, width, rows, rowReady, x0, x1, wx0, wx1);
                var dst = line.AsSpan(0, width);
                TensorPrimitives.Multiply(r0, h0, dst);
                TensorPrimitives.MultiplyAdd(r1, h1, dst, dst);
                sink.Row(y, dst);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(x0);
            ArrayPool<int>.Shared.Return(x1);
            ArrayPool<float>.Shared.Return(wx0);
            ArrayPool<float>.Shared.Return(wx1);
            ArrayPool<float>.Shared.Return(rows);
            ArrayPool<bool>.Shared.Return(rowReady);
            ArrayPool<float>.Shared.Return(line);
        }
    }

    private static ReadOnlySpan<float> HorizontalRow(ReadOnlySpan<float> logits, int r, int width, float[] rows, bool[] rowReady, int[] x0, int[] x1, float[] wx0, float[] wx1)
    {
        var row = rows.AsSpan(r * width, width);
        if (rowReady[r]) return row;
        var src = logits.Slice(r * LowResSize, LowResSize);
        for (var x = 0; x < row.Length; x++)
        {
            row[x] = wx0[x] * src[x0[x]] + wx1[x] * src[x1[x]];
        }
        rowReady[r] = true;
        return row;
    }

    /// <summary>Writes 255 where <paramref name="values"/> is &gt; 0, else 0 (NaN is background).</summary>
    public static void Threshold(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (destination.Length < values.Length) throw new ArgumentException("destination is shorter than values", nameof(destination));
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // Four float compares (all-ones / zero lanes) narrow to one byte vector of 0xFF / 0x00.
            var n = Vector<float>.Count;
            for (; i <= values.Length - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                var a = Vector.GreaterThan(new Vector<float>(values[i..]), Vector<float>.Zero);
                var b = Vector.GreaterThan(new Vector<float>(values[(i + n)..]), Vector<float>.Zero);
                var c = Vector.GreaterThan(new Vector<float>(values[(i + 2 * n)..]), Vector<float>.Zero);
                var d = Vector.GreaterThan(new Vector<float>(values[(i + 3 * n)..]), Vector<float>.Zero);
                var bytes = Vector.Narrow(Vector.Narrow(a, b), Vector.Narrow(c, d));
                Vector.AsVectorByte(bytes).CopyTo(destination[i..]);
            }
        }
        for (; i < values.Length; i++)
        {
            destination[i] = values[i] > 0f ? Foreground : (byte)0;
        }
    }

    private static void Weights(int inSize, int outSize, Span<int> i0, Span<int> i1, Span<float> w0, Span<float> w1)
    {
        var scale = (float)inSize / outSize;
        for (var o = 0; o < outSize; o++)
        {
            (i0[o], i1[o], w0[o], w1[o]) = SourceIndex(scale, o, inSize);
        }
    }

    // PyTorch upsample_bilinear2d, align_corners=False: src = scale·(dst + 0.5) − 0.5 clamped at 0, in float32.
    internal static (int I0, int I1, float W0, float W1) SourceIndex(float scale, int dst, int inSize)
    {
        var src = scale * (dst + 0.5f) - 0.5f;
        if (src < 0f) src = 0f;
        var i0 = (int)src;
        var i1 = i0 < inSize - 1 ? i0 + 1 : i0;
        var lambda1 = Math.Clamp(src - i0, 0f, 1f);
        return (i0, i1, 1f - lambda1, lambda1);
    }

    /// <summary>
    /// SAM2's <c>fill_holes</c>: background components (logit ≤ 0, 8-connected) of at most <paramref name="maxHoleArea"/>
    /// pixels become threshold + 10; foreground components of at most <paramref name="maxSprinkleArea"/> become threshold − 10.
    /// Both analyses use the logits as they were on entry, as upstream does. 0 disables either.
    /// </summary>
    /// <param name="logits">256×256 row-major, modified in place.</param>
    public static void FillHolesAndSprinkles(Span<float> logits, int maxHoleArea, int maxSprinkleArea)
    {
        if (maxHoleArea <= 0 && maxSprinkleArea <= 0) return;
        var original = ArrayPool<float>.Shared.Rent(LowResLength);
        var labels = ArrayPool<int>.Shared.Rent(LowResLength);
        var stack = ArrayPool<int>.Shared.Rent(LowResLength);
        try
        {
            logits[..LowResLength].CopyTo(original);
            if (maxHoleArea > 0) Fill(original, logits, labels, stack, foreground: false, maxHoleArea, 10f);
            if (maxSprinkleArea > 0) Fill(original, logits, labels, stack, foreground: true, maxSprinkleArea, -10f);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(original);
            ArrayPool<int>.Shared.Return(labels);
            ArrayPool<int>.Shared.Return(stack);
        }
    }

    private static void Fill(float[] source, Span<float> target, int[] labels, int[] stack, bool foreground, int maxArea, float value)
    {
        Array.Clear(labels, 0, LowResLength);
        var next = 0;
        for (var start = 0; start < LowResLength; start++)
        {
            if (labels[start] != 0 || (source[start] > 0f) != foreground) continue;
            next++;
            // Flood fill (8-connectivity), recording the component's pixels on the stack.
            var count = 0;
            stack[count++] = start;
            labels[start] = next;
            for (var head = 0; head < count; head++)
            {
                var p = stack[head];
                int py = p / LowResSize, px = p % LowResSize;
                for (var dy = -1; dy <= 1; dy++)
                {
                    var ny = py + dy;
                    if ((uint)ny >= LowResSize) continue;
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        var nx = px + dx;
                        if ((uint)nx >= LowResSize) continue;
                        var q = ny * LowResSize + nx;
                        if (labels[q] != 0 || (source[q] > 0f) != foreground) continue;
                        labels[q] = next;
                        stack[count++] = q;
                    }
                }
            }
            if (count > maxArea) continue;
            for (var i = 0; i < count; i++) target[stack[i]] = value;
        }
    }
}

/// <summary>Receives the rows of <see cref="MaskPostprocessor.UpsampleRows"/>; a struct, so the calls inline.</summary>
internal interface IUpsampledRowSink
{
    /// <summary>Whether output row <paramref name="y"/>, interpolated from low-res rows <paramref name="sourceRow0"/> and
    /// <paramref name="sourceRow1"/> (equal at the edges), should be computed; false skips it.</summary>
    bool Wants(int y, int sourceRow0, int sourceRow1);

    /// <summary>Output row <paramref name="y"/>'s upsampled logits (width values); valid only during the call.</summary>
    void Row(int y, ReadOnlySpan<float> values);
}
