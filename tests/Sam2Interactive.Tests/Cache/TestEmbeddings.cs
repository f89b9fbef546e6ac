using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Cache;

/// <summary>Deterministic embeddings with values spread over several binades (and exact zeros) for round-trip checks.</summary>
internal static class TestEmbeddings
{
    public static ImageEmbedding Create(int seed, int width = 640, int height = 480)
    {
        var e = new ImageEmbedding(width, height);
        var random = new Random(seed);
        Fill(e.ImageEmbed.Span, random);
        Fill(e.HighResFeats0.Span, random);
        Fill(e.HighResFeats1.Span, random);
        return e;
    }

    private static void Fill(Span<float> span, Random random)
    {
        for (var i = 0; i < span.Length; i++)
        {
            // Mantissa bits beyond half precision, magnitudes 1e-3..30, both signs, some zeros.
            span[i] = i % 97 == 0 ? 0f : (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-2, 3)));
        }
    }

    /// <summary>All three tensors of <paramref name="e"/> concatenated (copy, for comparisons).</summary>
    public static float[] Flatten(ImageEmbedding e) =>
        [.. e.ImageEmbed.Span, .. e.HighResFeats0.Span, .. e.HighResFeats1.Span];

    /// <summary>What float16 storage must give back: each value rounded to the nearest half.</summary>
    public static float[] RoundedToHalf(ImageEmbedding e)
    {
        var values = Flatten(e);
        for (var i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i];
        return values;
    }
}
