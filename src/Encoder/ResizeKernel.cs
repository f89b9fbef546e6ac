using System.Collections.Concurrent;

namespace Sam2Interactive.Encoder;

/// <summary>
/// One axis of the separable antialiased bilinear (triangle) resize that torchvision's
/// <c>Resize(antialias=True)</c> and Pillow's <c>BILINEAR</c> use: the filter widens by in/out when downscaling and is
/// plain half-pixel bilinear with edge clamping when upscaling. Immutable and shared between threads.
/// </summary>
internal sealed class ResizeKernel
{
    // Distinct (in, out) pairs seen by a server are few (out is always 1024, `in` is an image side), but an attacker
    // could send many sizes; past this many entries the cache is simply cleared.
    private const int MaxCachedKernels = 256;

    private static readonly ConcurrentDictionary<(int In, int Out), ResizeKernel> s_cache = new();

    private readonly int[] _starts;
    private readonly int[] _counts;
    private readonly float[] _weights;

    private ResizeKernel(int inSize, int outSize, int[] starts, int[] counts, float[] weights, int stride)
    {
        InSize = inSize;
        OutSize = outSize;
        _starts = starts;
        _counts = counts;
        _weights = weights;
        Stride = stride;
    }

    public int InSize { get; }

    public int OutSize { get; }

    /// <summary>Row length of the padded weight table: the largest tap count of any output index.</summary>
    public int Stride { get; }

    /// <summary>Window starts of all outputs (see <see cref="Start"/>).</summary>
    public ReadOnlySpan<int> Starts => _starts;

    /// <summary>Tap counts of all outputs (see <see cref="Count"/>).</summary>
    public ReadOnlySpan<int> Counts => _counts;

    /// <summary>All weights, OutSize rows of <see cref="Stride"/>; row i holds Count(i) weights then zero padding.</summary>
    public ReadOnlySpan<float> WeightTable => _weights;

    /// <summary>First input index that output <paramref name="i"/> reads.</summary>
    public int Start(int i) => _starts[i];

    /// <summary>Number of input samples output <paramref name="i"/> reads; Start(i)+Count(i) ≤ InSize.</summary>
    public int Count(int i) => _counts[i];

    /// <summary>Weights of output <paramref name="i"/>, one per input sample from <see cref="Start"/>; they sum to 1.</summary>
    public ReadOnlySpan<float> Weights(int i) => _weights.AsSpan(i * Stride, _counts[i]);

    /// <summary>Cached kernel for (<paramref name="inSize"/> → <paramref name="outSize"/>); built once per pair.</summary>
    public static ResizeKernel Get(int inSize, int outSize)
    {
        if (s_cache.TryGetValue((inSize, outSize), out var kernel))
        {
            return kernel;
        }

        if (s_cache.Count >= MaxCachedKernels)
        {
            s_cache.Clear();
        }

        return s_cache.GetOrAdd((inSize, outSize), static key => Create(key.In, key.Out));
    }

    /// <summary>
    /// Builds the weights exactly as Pillow's <c>precompute_coeffs</c> (and ATen's <c>_upsample_bilinear2d_aa</c>):
    /// computed and normalised in double, stored as float. Zero weights at either end of a window are dropped
    /// (they contribute exactly 0), so the identity resize has one tap of weight 1.
    /// </summary>
    public static ResizeKernel Create(int inSize, int outSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outSize);

        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = filterScale; // triangle filter support is 1, widened by filterScale when downscaling
        var stride = (int)Math.Ceiling(support) * 2 + 1;

        var starts = new int[outSize];
        var counts = new int[outSize];
        var weights = new float[outSize * stride];
        var buffer = new double[stride];
        var maxCount = 0;
        for (var i = 0; i < outSize; i++)
        {
            var center = (i + 0.5) * scale;
            var lo = Math.Max(0, (int)(center - support + 0.5));
            var hi = Math.Min(inSize, (int)(center + support + 0.5));
            var total = 0.0;
            for (var j = lo; j < hi; j++)
            {
                var w = Triangle((j - center + 0.5) / filterScale);
                buffer[j - lo] = w;
                total += w;
            }

            // Trim zero-weight taps at both ends of the window.
            var first = 0;
            var count = hi - lo;
            while (count > 1 && buffer[first] == 0.0)
            {
                first++;
                count--;
            }

            while (count > 1 && buffer[first + count - 1] == 0.0)
            {
                count--;
            }

            starts[i] = lo + first;
            counts[i] = count;
            maxCount = Math.Max(maxCount, count);
            for (var k = 0; k < count; k++)
            {
                weights[i * stride + k] = (float)(total != 0.0 ? buffer[first + k] / total : 0.0);
            }
        }

        if (maxCount == stride)
        {
            return new ResizeKernel(inSize, outSize, starts, counts, weights, stride);
        }

        // Repack to the real maximum tap count so the table is dense.
        var packed = new float[outSize * maxCount];
        for (var i = 0; i < outSize; i++)
        {
            weights.AsSpan(i * stride, counts[i]).CopyTo(packed.AsSpan(i * maxCount));
        }

        return new ResizeKernel(inSize, outSize, starts, counts, packed, maxCount);
    }

    private static double Triangle(double t)
    {
        t = Math.Abs(t);
        return t < 1.0 ? 1.0 - t : 0.0;
    }
}
