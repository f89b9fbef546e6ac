using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Cache;

/// <summary>
/// The Redis value of one embedding: a MessagePack array (integer keys) of metadata plus ONE bin field holding the three
/// tensors' raw little-endian bytes concatenated in the order ImageEmbed, HighResFeats0, HighResFeats1.
/// </summary>
/// <remarks>
/// Wire format version <see cref="CurrentFormatVersion"/>. Changing a key's meaning or the tensor order needs a new version,
/// so old values are rejected (and recomputed) instead of being decoded into a wrong mask.
/// </remarks>
[MessagePackObject]
internal sealed class EmbeddingEnvelope
{
    public const int CurrentFormatVersion = 1;
    public const string Float16 = "float16";
    public const string Float32 = "float32";

    /// <summary>Serializer options: private-type resolver, untrusted-data limits (values come from a shared server).</summary>
    public static readonly MessagePackSerializerOptions SerializerOptions = MessagePackSerializerOptions.Standard
        .WithResolver(StandardResolverAllowPrivate.Instance)
        .WithSecurity(MessagePackSecurity.UntrustedData);

    [Key(0)] public int FormatVersion { get; set; }

    /// <summary>Identity of the encoder file that produced the tensors.</summary>
    [Key(1)] public string ModelId { get; set; } = "";

    /// <summary><see cref="Float16"/> or <see cref="Float32"/>: element type of <see cref="Data"/>.</summary>
    [Key(2)] public string DType { get; set; } = "";

    [Key(3)] public int OriginalWidth { get; set; }

    [Key(4)] public int OriginalHeight { get; set; }

    [Key(5)] public long[] ImageEmbedShape { get; set; } = [];

    [Key(6)] public long[] HighResFeats0Shape { get; set; } = [];

    [Key(7)] public long[] HighResFeats1Shape { get; set; } = [];

    /// <summary>XxHash64 (seed 0) of <see cref="Data"/>.</summary>
    [Key(8)] public ulong Checksum { get; set; }

    /// <summary>
    /// Raw little-endian tensor bytes (MessagePack bin). After deserializing from a single buffer this is a slice of that
    /// buffer (no copy), valid only as long as the buffer is.
    /// </summary>
    [Key(9)]
    [MessagePackFormatter(typeof(BorrowedBytesFormatter))]
    public ReadOnlyMemory<byte> Data { get; set; }

    /// <summary>Bytes per element of a dtype name, or 0 when unknown.</summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        Float16 => 2,
        Float32 => 4,
        _ => 0,
    };

    /// <summary>
    /// Serializes <paramref name="embedding"/> (read, not consumed) as an envelope. The result rents two pooled buffers
    /// (tensor bytes, then the envelope) and holds the second; the caller disposes it once Redis has taken the value.
    /// </summary>
    public static PooledBytes Serialize(ImageEmbedding embedding, string modelId, CacheDType dtype)
    {
        var elementSize = dtype == CacheDType.Float16 ? 2 : 4;
        var dataLength = ImageEmbedding.TotalLength * elementSize;
        var data = ArrayPool<byte>.Shared.Rent(dataLength);
        try
        {
            var dst = data.AsSpan(0, dataLength);
            var offset = 0;
            offset += WriteTensor(embedding.ImageEmbed.Span, dst[offset..], dtype);
            offset += WriteTensor(embedding.HighResFeats0.Span, dst[offset..], dtype);
            WriteTensor(embedding.HighResFeats1.Span, dst[offset..], dtype);

            var envelope = new EmbeddingEnvelope
            {
                FormatVersion = CurrentFormatVersion,
                ModelId = modelId,
                DType = dtype == CacheDType.Float16 ? Float16 : Float32,
                OriginalWidth = embedding.OriginalWidth,
                OriginalHeight = embedding.OriginalHeight,
                ImageEmbedShape = Sam2Tensors.ImageEmbedShape.ToArray(),
                HighResFeats0Shape = Sam2Tensors.HighResFeats0Shape.ToArray(),
                HighResFeats1Shape = Sam2Tensors.HighResFeats1Shape.ToArray(),
                Checksum = XxHash64.HashToUInt64(dst),
                Data = data.AsMemory(0, dataLength),
            };
            // Metadata is well under 1 KiB; one rent of the final size avoids regrowing a 16 MiB buffer.
            var output = new PooledBytes(dataLength + 1024);
            try
            {
                MessagePackSerializer.Serialize(output, envelope, SerializerOptions);
                return output;
            }
            catch
            {
                output.Dispose();
                throw;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    /// <summary>
    /// Validates <paramref name="value"/> and decodes it into a new <see cref="ImageEmbedding"/> (the caller owns it).
    /// Returns null and a reason for anything that is not a complete, checksum-valid version-<see cref="CurrentFormatVersion"/>
    /// envelope of <paramref name="modelId"/> with the expected shapes; never throws on bad input.
    /// </summary>
    /// <param name="pool">Where the new embedding's buffer comes from; <see cref="EmbeddingPool.Shared"/> when null.</param>
    public static ImageEmbedding? TryDecode(ReadOnlyMemory<byte> value, string modelId, out string? rejection, EmbeddingPool? pool = null)
    {
        EmbeddingEnvelope envelope;
        try
        {
            envelope = MessagePackSerializer.Deserialize<EmbeddingEnvelope>(value, SerializerOptions, out var read);
            if (read != value.Length)
            {
                rejection = $"{value.Length - read} trailing bytes after the envelope";
                return null;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // MessagePackSerializationException for garbage and truncation; anything else the formatters raise on bad input.
            rejection = "not a MessagePack envelope: " + (e.InnerException?.Message ?? e.Message);
            return null;
        }

        rejection = Validate(envelope, modelId);
        if (rejection is not null) return null;

        var dtype = envelope.DType == Float16 ? CacheDType.Float16 : CacheDType.Float32;
        var src = envelope.Data.Span;
        var embedding = new ImageEmbedding(envelope.OriginalWidth, envelope.OriginalHeight, pool);
        var offset = 0;
        offset += ReadTensor(src[offset..], embedding.ImageEmbed.Span, dtype);
        offset += ReadTensor(src[offset..], embedding.HighResFeats0.Span, dtype);
        ReadTensor(src[offset..], embedding.HighResFeats1.Span, dtype);
        return embedding;
    }

    private static string? Validate(EmbeddingEnvelope e, string modelId)
    {
        if (e.FormatVersion != CurrentFormatVersion) return $"format version {e.FormatVersion}, expected {CurrentFormatVersion}";
        if (!string.Equals(e.ModelId, modelId, StringComparison.Ordinal)) return $"model '{e.ModelId}', expected '{modelId}'";
        var elementSize = ElementSize(e.DType);
        if (elementSize == 0) return $"dtype '{e.DType}'";
        if (e.OriginalWidth <= 0 || e.OriginalHeight <= 0) return $"original size {e.OriginalWidth}x{e.OriginalHeight}";
        if (!SameShape(e.ImageEmbedShape, Sam2Tensors.ImageEmbedShape)
            || !SameShape(e.HighResFeats0Shape, Sam2Tensors.HighResFeats0Shape)
            || !SameShape(e.HighResFeats1Shape, Sam2Tensors.HighResFeats1Shape))
        {
            return "tensor shapes differ from the decoder's";
        }
        var expected = (long)ImageEmbedding.TotalLength * elementSize;
        if (e.Data.Length != expected) return $"{e.Data.Length} data bytes, expected {expected}";
        if (XxHash64.HashToUInt64(e.Data.Span) != e.Checksum) return "checksum mismatch";
        return null;
    }

    private static bool SameShape(long[]? actual, ReadOnlySpan<long> expected) => actual is not null && actual.AsSpan().SequenceEqual(expected);

    /// <returns>Bytes written.</returns>
    private static int WriteTensor(ReadOnlySpan<float> src, Span<byte> dst, CacheDType dtype)
    {
        if (dtype == CacheDType.Float16)
        {
            var halves = MemoryMarshal.Cast<byte, Half>(dst[..(src.Length * 2)]);
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(src, halves);
            if (!BitConverter.IsLittleEndian)
            {
                var raw = MemoryMarshal.Cast<Half, ushort>(halves);
                BinaryPrimitives.ReverseEndianness(raw, raw);
            }
            return src.Length * 2;
        }
        var bytes = MemoryMarshal.AsBytes(src);
        bytes.CopyTo(dst);
        if (!BitConverter.IsLittleEndian)
        {
            var raw = MemoryMarshal.Cast<byte, uint>(dst[..bytes.Length]);
            BinaryPrimitives.ReverseEndianness(raw, raw);
        }
        return bytes.Length;
    }

    /// <returns>Bytes read.</returns>
    private static int ReadTensor(ReadOnlySpan<byte> src, Span<float> dst, CacheDType dtype)
    {
        if (dtype == CacheDType.Float16)
        {
            if (BitConverter.IsLittleEndian)
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src[..(dst.Length * 2)]), dst);
            else
                SwapFromLittleEndianHalves(src[..(dst.Length * 2)], dst);
            return dst.Length * 2;
        }
        var length = dst.Length * 4;
        src[..length].CopyTo(MemoryMarshal.AsBytes(dst));
        if (!BitConverter.IsLittleEndian)
        {
            var raw = MemoryMarshal.Cast<float, uint>(dst);
            BinaryPrimitives.ReverseEndianness(raw, raw);
        }
        return length;
    }

    // Big-endian hosts only (none in CI): element-wise, correctness over speed.
    private static void SwapFromLittleEndianHalves(ReadOnlySpan<byte> src, Span<float> dst)
    {
        for (var i = 0; i < dst.Length; i++)
        {
            dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(src[(i * 2)..]));
        }
    }

    /// <summary>Writes bin from a span; reads bin as a slice of the input when it is one contiguous buffer (no copy).</summary>
    internal sealed class BorrowedBytesFormatter : IMessagePackFormatter<ReadOnlyMemory<byte>>
    {
        public void Serialize(ref MessagePackWriter writer, ReadOnlyMemory<byte> value, MessagePackSerializerOptions options) =>
            writer.Write(value.Span);

        public ReadOnlyMemory<byte> Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
        {
            var bytes = reader.ReadBytes();
            if (bytes is not { } sequence) return ReadOnlyMemory<byte>.Empty;
            return sequence.IsSingleSegment ? sequence.First : sequence.ToArray();
        }
    }
}
