using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// What SAM2AutomaticMaskGenerator computes on each candidate's logits upsampled to the crop size (a full-size float32
/// tensor per candidate on the GPU), computed here from <see cref="MaskPostprocessor.UpsampleRows"/> one row at a time:
/// the stability counts, and the thresholded mask as runs with its box and area. The values are those of the full-size
/// upsampling bit for bit; rows that cannot cross a threshold are not computed at all.
/// </summary>
/// <remarks>
/// Skipping is exact: every upsampled value is a convex combination (weights ≥ 0, summing to 1) of at most four low-res
/// values of the two low-res rows it reads, evaluated in float32 with a few roundings, so it lies within
/// [min, max] of those rows widened by a few ulps of their largest magnitude. <see cref="Bounds.Margin"/> is 10⁻⁵ of that
/// magnitude (about 30× the worst rounding); a row whose source rows' maximum is below every threshold minus the margin
/// is all below, one whose minimum is above every threshold plus the margin is all above.
/// </remarks>
internal static class LogitRows
{
    /// <summary>Per low-res row minimum and maximum, and the skip margin.</summary>
    internal sealed class Bounds : IDisposable
    {
        private float[]? _min = ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResSize);
        private float[]? _max = ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResSize);

        public Bounds(ReadOnlySpan<float> logits)
        {
            var maxAbs = 0f;
            for (var r = 0; r < MaskPostprocessor.LowResSize; r++)
            {
                var row = logits.Slice(r * MaskPostprocessor.LowResSize, MaskPostprocessor.LowResSize);
                Min[r] = TensorPrimitives.Min(row);
                Max[r] = TensorPrimitives.Max(row);
                maxAbs = MathF.Max(maxAbs, MathF.Max(MathF.Abs(Min[r]), MathF.Abs(Max[r])));
            }
            Margin = 1e-5f * MathF.Max(maxAbs, 1f);
        }

        public float[] Min => _min ?? throw new ObjectDisposedException(nameof(Bounds));

        public float[] Max => _max ?? throw new ObjectDisposedException(nameof(Bounds));

        public float Margin { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _min, null) is { } a) ArrayPool<float>.Shared.Return(a);
            if (Interlocked.Exchange(ref _max, null) is { } b) ArrayPool<float>.Shared.Return(b);
        }
    }

    /// <summary>How many upsampled values are &gt; <paramref name="high"/> and &gt; <paramref name="low"/>
    /// (SAM2 sums per row in int16, which only wraps for rows wider than 32767 pixels; these are 64-bit).</summary>
    public static (long High, long Low) StabilityCounts(ReadOnlySpan<float> logits, Bounds bounds, int width, int height, float high, float low)
    {
        var sink = new StabilitySink { Bounds = bounds, Width = width, High = high, Low = low };
        MaskPostprocessor.UpsampleRows(logits, width, height, ref sink);
        return (sink.CountHigh, sink.CountLow);
    }

    /// <summary>The mask <c>upsampled &gt; threshold</c> as row-major runs with its box and area.</summary>
    public static MaskRuns Binarize(ReadOnlySpan<float> logits, Bounds bounds, int width, int height, float threshold)
    {
        using var builder = new MaskRuns.Builder(width, height);
        var sink = new RunsSink { Bounds = bounds, Width = width, Threshold = threshold, Runs = builder };
        MaskPostprocessor.UpsampleRows(logits, width, height, ref sink);
        return builder.Build();
    }

    private struct StabilitySink : IUpsampledRowSink
    {
        public Bounds Bounds;
        public int Width;
        public float High;
        public float Low;
        public long CountHigh;
        public long CountLow;

        public bool Wants(int y, int sourceRow0, int sourceRow1)
        {
            var max = MathF.Max(Bounds.Max[sourceRow0], Bounds.Max[sourceRow1]);
            if (max < MathF.Min(High, Low) - Bounds.Margin) return false;
            var min = MathF.Min(Bounds.Min[sourceRow0], Bounds.Min[sourceRow1]);
            if (min > MathF.Max(High, Low) + Bounds.Margin)
            {
                CountHigh += Width;
                CountLow += Width;
                return false;
            }
            return true;
        }

        public void Row(int y, ReadOnlySpan<float> values)
        {
            // No TensorPrimitives count-above kernel: compare lanes and subtract the all-ones masks.
            var high = new Vector<float>(High);
            var low = new Vector<float>(Low);
            var accHigh = Vector<int>.Zero;
            var accLow = Vector<int>.Zero;
            var i = 0;
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values[i..]);
                accHigh -= Vector.GreaterThan(v, high);
                accLow -= Vector.GreaterThan(v, low);
            }
            long h = Vector.Sum(accHigh), l = Vector.Sum(accLow);
            for (; i < values.Length; i++)
            {
                if (values[i] > High) h++;
                if (values[i] > Low) l++;
            }
            CountHigh += h;
            CountLow += l;
        }
    }

    private struct RunsSink : IUpsampledRowSink
    {
        public Bounds Bounds;
        public int Width;
        public float Threshold;
        public MaskRuns.Builder Runs;

        public readonly bool Wants(int y, int sourceRow0, int sourceRow1)
        {
            if (MathF.Max(Bounds.Max[sourceRow0], Bounds.Max[sourceRow1]) < Threshold - Bounds.Margin)
            {
                Runs.Append(false, y, 0, Width);
                return false;
            }
            if (MathF.Min(Bounds.Min[sourceRow0], Bounds.Min[sourceRow1]) > Threshold + Bounds.Margin)
            {
                Runs.Append(true, y, 0, Width);
                return false;
            }
            return true;
        }

        public readonly void Row(int y, ReadOnlySpan<float> values)
        {
            var t = Threshold;
            var x = 0;
            while (x < values.Length)
            {
                var on = values[x] > t;
                var end = x + 1;
                while (end < values.Length && values[end] > t == on) end++;
                Runs.Append(on, y, x, end - x);
                x = end;
            }
        }
    }
}
