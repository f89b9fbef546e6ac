namespace Sam2Interactive.Encoder;

/// <summary>
/// The contract between the encoder and the decoder stages: the SAM2 tensors they exchange, with their shapes (NCHW,
/// float32) and the names each export format gives them (docs/sam2-onnx.md §1). The encoder binds its outputs and the
/// decoder its inputs from the same candidate lists, in this order of preference.
/// </summary>
public static class Sam2Tensors
{
    /// <summary>Side of the square encoder input (SAM2's image_size).</summary>
    public const int InputSize = 1024;

    /// <summary>Elements of the encoder input [1,3,1024,1024].</summary>
    public const int InputLength = 3 * InputSize * InputSize;

    /// <summary>Side of the decoder's low-resolution mask logits and of its <c>mask_input</c> (image_size / 4).</summary>
    public const int LowResMaskSize = 256;

    /// <summary>Elements of one 256×256 low-resolution mask.</summary>
    public const int LowResMaskLength = LowResMaskSize * LowResMaskSize;

    public const int ImageEmbedLength = 256 * 64 * 64;
    public const int HighResFeats0Length = 32 * 256 * 256;
    public const int HighResFeats1Length = 64 * 128 * 128;

    /// <summary>Floats in the three embedding tensors (4 Mi: 16 MiB as float32).</summary>
    public const int EmbeddingLength = ImageEmbedLength + HighResFeats0Length + HighResFeats1Length;

    /// <summary>[1,3,1024,1024]: the normalised image.</summary>
    public static ReadOnlySpan<long> InputShape => [1, 3, InputSize, InputSize];

    /// <summary>[1,256,64,64]: the image embedding (stride 16).</summary>
    public static ReadOnlySpan<long> ImageEmbedShape => [1, 256, 64, 64];

    /// <summary>[1,32,256,256]: high-resolution features, stride 4.</summary>
    public static ReadOnlySpan<long> HighResFeats0Shape => [1, 32, 256, 256];

    /// <summary>[1,64,128,128]: high-resolution features, stride 8.</summary>
    public static ReadOnlySpan<long> HighResFeats1Shape => [1, 64, 128, 128];

    /// <summary>Names of the image embedding: samexporter, onnx-community, ONNX Runtime's exporter / osam.</summary>
    public static IReadOnlyList<string> ImageEmbedNames { get; } = ["image_embed", "image_embeddings.2", "image_embeddings"];

    /// <summary>Names of the stride-4 features across the formats.</summary>
    public static IReadOnlyList<string> HighResFeats0Names { get; } = ["high_res_feats_0", "image_embeddings.0", "image_features_0", "high_res_features1"];

    /// <summary>Names of the stride-8 features across the formats.</summary>
    public static IReadOnlyList<string> HighResFeats1Names { get; } = ["high_res_feats_1", "image_embeddings.1", "image_features_1", "high_res_features2"];
}
