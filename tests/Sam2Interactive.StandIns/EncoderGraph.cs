using Onnx;

namespace Sam2Interactive.StandIns;

/// <summary>
/// Stand-in image encoder. For each output level: AveragePool(k = s = stride) then Conv1x1(3 → channels).
/// Output channels 0..2 copy input channels 0..2 exactly (weight 1, bias 0) so the decoder stand-in can read
/// the downsampled normalised colour; the remaining channels are a fixed seeded mix.
/// </summary>
internal static class EncoderGraph
{
    /// <summary>(stride, channels, side) per output in declaration order: feats0, feats1, image_embed.</summary>
    private static readonly (int Stride, int Channels, int Side)[] s_levels = [(4, 32, 256), (8, 64, 128), (16, 256, 64)];

    /// <summary>
    /// Realistic size, on the 256-channel 64×64 level: <see cref="RealisticLayers"/> 3×3 convs (<see cref="CostChain.Append"/>)
    /// for the time, and global attention over its 4096 positions with <see cref="RealisticHeads"/> heads of
    /// <see cref="RealisticHeadDim"/> channels (<see cref="CostChain.AppendAttention"/>) for the memory: its [14, 4096, 4096]
    /// float scores (896 MiB) make one bare run in a fresh process peak near 1.0 GiB resident, as SAM2.1-tiny's does (whose
    /// global-attention blocks hold [4, 4096, 4096] scores beside wide stride-4 activations). Tuned so a run costs
    /// ≈ 4.0 s, like a real SAM2.1-tiny export, on a 2-core AMD EPYC with ONNX Runtime 1.31 CPU (docs/benchmarks.md).
    /// </summary>
    internal const int RealisticLayers = 170, RealisticHeads = 14, RealisticHeadDim = 16;

    public static ModelProto Build(StandInFormat format, StandInSize size = StandInSize.Small)
    {
        var community = format == StandInFormat.OnnxCommunity;
        var input = community ? "pixel_values" : "image";
        string[] outputs = community
            ? ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
            : ["high_res_feats_0", "high_res_feats_1", "image_embed"];
        Dim batch = community ? "batch_size" : 1;

        var g = new OnnxGraphBuilder("sam2_standin_encoder");
        g.Input(input, OnnxGraphBuilder.Float, batch, 3, 1024, 1024);
        var rng = new SplitMix64(0x5A4D_3201);
        for (var i = 0; i < s_levels.Length; i++)
        {
            var (stride, channels, side) = s_levels[i];
            var pooled = g.Op("AveragePool", [input],
                [OnnxGraphBuilder.Ints("kernel_shape", stride, stride), OnnxGraphBuilder.Ints("strides", stride, stride)]);
            var (weight, bias) = MixWeights(channels, ref rng);
            var realistic = size == StandInSize.Realistic && i == s_levels.Length - 1;
            var level = g.Op("Conv", [pooled, g.Floats(weight, channels, 3, 1, 1), g.Floats(bias, channels)],
                [OnnxGraphBuilder.Ints("kernel_shape", 1, 1)], realistic ? null : outputs[i]);
            if (realistic)
            {
                var cost = g.Op("Add",
                    CostChain.Append(g, level, channels, RealisticLayers, 0x5A4D_3202),
                    CostChain.AppendAttention(g, level, side, RealisticHeads, RealisticHeadDim));
                g.Op("Add", [level, cost], output: outputs[i]);
            }
            g.Output(outputs[i], OnnxGraphBuilder.Float, batch, channels, side, side);
        }

        return g.Build("sam2i-standin");
    }

    /// <summary>Conv weight [channels,3] (identity on rows 0..2) and bias [channels] (0 on 0..2).</summary>
    private static (float[] Weight, float[] Bias) MixWeights(int channels, ref SplitMix64 rng)
    {
        var weight = new float[channels * 3];
        var bias = new float[channels];
        for (var o = 0; o < channels; o++)
        {
            for (var c = 0; c < 3; c++)
            {
                weight[(o * 3) + c] = o < 3 ? (o == c ? 1f : 0f) : rng.NextSigned();
            }

            bias[o] = o < 3 ? 0f : 0.1f * rng.NextSigned();
        }

        return (weight, bias);
    }
}

/// <summary>Tiny seeded generator; its sequence is fixed by this code, independent of the runtime's System.Random.</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>Uniform in [-1, 1), quantised to 1/2^23 so values are exact in float32.</summary>
    public float NextSigned()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return ((long)(z >> 40) - (1L << 23)) / (float)(1 << 23);
    }
}
