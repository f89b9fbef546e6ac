using static Sam2Interactive.StandIns.OnnxGraphBuilder;

namespace Sam2Interactive.StandIns;

/// <summary>
/// Compute that ONNX Runtime must execute but that leaves a model's outputs as they were: a chain of 3×3 convs whose result is
/// scaled by <see cref="Scale"/> and added to an output. The chain depends on a graph input (no constant folding) and feeds an
/// output (no dead-code elimination); each conv is followed by Clip(0, 4), so the chain stays finite whatever the input.
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
}
