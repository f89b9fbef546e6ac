using static Sam2Interactive.StandIns.OnnxGraphBuilder;

namespace Sam2Interactive.StandIns;

/// <summary>
/// Compute and memory that ONNX Runtime must spend but that leave a model's outputs as they were: a chain of 3×3 convs (time)
/// and a global attention (a large activation), each scaled by <see cref="Scale"/> and added to an output. Both depend on a
/// graph input (no constant folding) and feed an output (no dead-code elimination); their values are clipped to [0, 4], so
/// they stay finite whatever the input.
/// </summary>
internal static class CostChain
{
    /// <summary>|chain| ≤ 4·(1 + bias) before scaling, so the added term is ≤ ~1e-29: below half an ulp of any value ≥ 1e-21
    /// it meets, i.e. those values are bit-identical to the <see cref="StandInSize.Small"/> model's.</summary>
    public const float Scale = 1e-30f;

    /// <summary>
    /// Appends <paramref name="layers"/> × (Conv 3×3, pad 1, <paramref name="channels"/> → <paramref name="channels"/>, then
    /// Clip(0, 4)) on <paramref name="input"/> [1, channels, s, s] and returns the chain's output multiplied by
    /// <see cref="Scale"/> (same shape). Every layer shares one seeded weight initializer (small files).
    /// </summary>
    public static string Append(OnnxGraphBuilder g, string input, int channels, int layers, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        var rng = new SplitMix64(seed);
        // Uniform(±a) with a² / 3 = 2 / fan_in (He): keeps the activation scale roughly constant down a ReLU-like chain.
        var a = MathF.Sqrt(6f / (9f * channels));
        var weight = new float[channels * channels * 9];
        for (var i = 0; i < weight.Length; i++) weight[i] = a * rng.NextSigned();
        var bias = new float[channels];
        for (var i = 0; i < bias.Length; i++) bias[i] = 0.05f * rng.NextSigned();
        var w = g.Floats(weight, channels, channels, 3, 3);
        var b = g.Floats(bias, channels);
        var low = g.Scalar(0f);
        var high = g.Scalar(4f);

        var x = input;
        for (var i = 0; i < layers; i++)
        {
            var conv = g.Op("Conv", [x, w, b], [Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1)]);
            x = g.Op("Clip", conv, low, high);
        }

        return g.Op("Mul", x, g.Scalar(Scale));
    }

    /// <summary>
    /// Appends global self-attention over the s×s positions of <paramref name="input"/> [B, C, s, s] (C ≥ heads·headDim),
    /// the shape of the attention in Hiera's global blocks, and returns mean(output)·<see cref="Scale"/> as a scalar. With
    /// X = Clip(channels [0, heads·headDim), 0, 4) viewed as [B·heads, headDim, s²]: S = Xᵀ·X [B·heads, s², s²],
    /// P = Softmax(S) and O = P·Xᵀ [B·heads, s², headDim]. The scores are the run's largest activation, B·heads·s⁴·4 bytes
    /// (64 MiB per head at s = 64); ONNX Runtime 1.31 CPU holds one such tensor at a time, not S and P together
    /// (measured: 14 heads add 0.96 GiB at the peak, 7 heads 0.49 GiB). O averages values in [0, 4], so the
    /// scalar is at most 4·Scale.
    /// </summary>
    public static string AppendAttention(OnnxGraphBuilder g, string input, int side, int heads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        var channels = g.Op("Slice", input, g.Int64s([0], 1), g.Int64s([heads * headDim], 1), g.Int64s([1], 1));
        var keys = g.Op("Reshape", g.Op("Clip", channels, g.Scalar(0f), g.Scalar(4f)), g.Int64s([-1, headDim, side * side], 3));
        var queries = g.Op("Transpose", [keys], [Ints("perm", 0, 2, 1)]);                                   // [B·heads, s², headDim]
        var weights = g.Op("Softmax", [g.Op("MatMul", queries, keys)], [Int("axis", -1)]);                  // [B·heads, s², s²]
        var output = g.Op("MatMul", weights, queries);                                                      // [B·heads, s², headDim]
        return g.Op("Mul", g.Op("ReduceMean", [output], [Int("keepdims", 0)]), g.Scalar(Scale));
    }
}
