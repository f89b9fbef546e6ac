using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using MessagePack;
using NUnit.Framework;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Cache;

[TestFixture]
[Category("Fast")]
public sealed class EmbeddingEnvelopeTests
{
    private const string Model = "enc-3f2a";
    private int _liveAtStart;

    [SetUp]
    public void SetUp() => _liveAtStart = ImageEmbedding.LiveCount;

    [TearDown]
    public void TearDown() => Assert.That(ImageEmbedding.LiveCount, Is.EqualTo(_liveAtStart), "embeddings leaked");

    private static byte[] Serialize(ImageEmbedding e, CacheDType dtype, string model = Model)
    {
        using var payload = EmbeddingEnvelope.Serialize(e, model, dtype);
        return payload.WrittenMemory.ToArray();
    }

    [Test]
    public void Serialize_Float32_DecodesExactly()
    {
        using var original = TestEmbeddings.Create(seed: 1, width: 1280, height: 720);
        var bytes = Serialize(original, CacheDType.Float32);
        using var decoded = EmbeddingEnvelope.TryDecode(bytes, Model, out var rejection);
        Assert.That(decoded, Is.Not.Null, rejection);
        Assert.Multiple(() =>
        {
            Assert.That(decoded!.OriginalWidth, Is.EqualTo(1280));
            Assert.That(decoded.OriginalHeight, Is.EqualTo(720));
            Assert.That(TestEmbeddings.Flatten(decoded).AsSpan().SequenceEqual(TestEmbeddings.Flatten(original)), Is.True);
        });
    }

    [Test]
    public void Serialize_Float16_DecodesToNearestHalf()
    {
        using var original = TestEmbeddings.Create(seed: 2);
        var bytes = Serialize(original, CacheDType.Float16);
        using var decoded = EmbeddingEnvelope.TryDecode(bytes, Model, out var rejection);
        Assert.That(decoded, Is.Not.Null, rejection);
        var actual = TestEmbeddings.Flatten(decoded!);
        var source = TestEmbeddings.Flatten(original);
        Assert.Multiple(() =>
        {
            Assert.That(actual.AsSpan().SequenceEqual(TestEmbeddings.RoundedToHalf(original)), Is.True, "exactly the half-rounded values");
            var worst = 0.0;
            for (var i = 0; i < actual.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(actual[i] - source[i]) / Math.Max(Math.Abs(source[i]), 6.1e-5));
            }
            // Half an ulp relative to the value (or to the smallest normal half for subnormals), plus float rounding slack.
            Assert.That(worst, Is.LessThanOrEqualTo(1.0 / 2048 * 1.001), "relative error within half a float16 ulp");
        });
    }

    [TestCase(2)] // float16: 8 MiB of tensor bytes
    [TestCase(4)] // float32: 16 MiB
    public void Serialize_WireFormat_IsIntegerKeyedArrayWithOneRawBinField(int elementSize)
    {
        var dtype = elementSize == 2 ? CacheDType.Float16 : CacheDType.Float32;
        using var original = TestEmbeddings.Create(seed: 3);
        var bytes = Serialize(original, dtype);
        var dataLength = ImageEmbedding.TotalLength * elementSize;

        var reader = new MessagePackReader(bytes);
        var count = reader.ReadArrayHeader();
        var version = reader.ReadInt32();
        var model = reader.ReadString();
        var dtypeName = reader.ReadString();
        reader.Skip(); // width
        reader.Skip(); // height
        reader.Skip(); // three shapes
        reader.Skip();
        reader.Skip();
        var checksum = reader.ReadUInt64();
        var dataType = reader.NextMessagePackType;
        var data = reader.ReadBytes()!.Value.ToArray();
        var end = reader.End;

        // The first tensor's leading bytes are the raw little-endian encoding of its first values.
        var head = original.ImageEmbed.Span[..4];
        byte[] expectedHead = dtype == CacheDType.Float16
            ? MemoryMarshal.AsBytes(new[] { (Half)head[0], (Half)head[1], (Half)head[2], (Half)head[3] }.AsSpan()).ToArray()
            : MemoryMarshal.AsBytes(head).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(count, Is.EqualTo(10), "ten integer keys");
            Assert.That(version, Is.EqualTo(EmbeddingEnvelope.CurrentFormatVersion));
            Assert.That(model, Is.EqualTo(Model));
            Assert.That(dtypeName, Is.EqualTo(dtype == CacheDType.Float16 ? "float16" : "float32"));
            Assert.That(dataType, Is.EqualTo(MessagePackType.Binary), "tensors are one bin, not an array of floats");
            Assert.That(data, Has.Length.EqualTo(dataLength));
            Assert.That(data[..expectedHead.Length], Is.EqualTo(expectedHead));
            Assert.That(checksum, Is.EqualTo(XxHash64.HashToUInt64(data)));
            Assert.That(end, Is.True);
            Assert.That(bytes.Length - dataLength, Is.LessThan(200), "metadata overhead in bytes");
        });
    }

    [Test]
    public void Deserialize_FromOneBuffer_DataIsASliceOfTheBufferNotACopy()
    {
        using var original = TestEmbeddings.Create(seed: 4);
        var bytes = Serialize(original, CacheDType.Float16);
        var envelope = MessagePackSerializer.Deserialize<EmbeddingEnvelope>(bytes.AsMemory(), EmbeddingEnvelope.SerializerOptions);
        Assert.That(MemoryMarshal.TryGetArray(envelope.Data, out var segment), Is.True);
        Assert.That(segment.Array, Is.SameAs(bytes));
    }

    private static EmbeddingEnvelope Envelope(ImageEmbedding e, CacheDType dtype = CacheDType.Float16)
    {
        var bytes = Serialize(e, dtype);
        var envelope = MessagePackSerializer.Deserialize<EmbeddingEnvelope>(bytes, EmbeddingEnvelope.SerializerOptions);
        envelope.Data = envelope.Data.ToArray();
        return envelope;
    }

    private static byte[] Write(EmbeddingEnvelope envelope) => MessagePackSerializer.Serialize(envelope, EmbeddingEnvelope.SerializerOptions);

    /// <summary>Bad values, each built from a valid fp16 envelope; names match <see cref="Corrupt"/>.</summary>
    internal static readonly string[] s_corruptionKinds =
        ["old-version", "future-version", "foreign-model", "unknown-dtype", "dtype-size-mismatch", "wrong-shape", "zero-width",
         "checksum", "truncated", "trailing", "garbage", "empty", "json", "short-data"];

    internal static byte[] Corrupt(ImageEmbedding e, string kind, string model = Model)
    {
        var valid = Serialize(e, CacheDType.Float16, model);
        var env = Envelope(e);
        env.ModelId = model;
        switch (kind)
        {
            case "old-version": env.FormatVersion = 0; return Write(env);
            case "future-version": env.FormatVersion = 2; return Write(env);
            case "foreign-model": env.ModelId = "enc-other"; return Write(env);
            case "unknown-dtype": env.DType = "bfloat16"; return Write(env);
            case "dtype-size-mismatch": env.DType = "float32"; return Write(env);
            case "wrong-shape": env.HighResFeats1Shape = [1, 64, 64, 256]; return Write(env);
            case "zero-width": env.OriginalWidth = 0; return Write(env);
            case "checksum":
                var flipped = valid.ToArray();
                flipped[^1000] ^= 0x40;
                return flipped;
            case "truncated": return valid[..(valid.Length / 2)];
            case "trailing": return [.. valid, 0xc0];
            case "garbage": return Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 >> 3)).ToArray();
            case "empty": return [];
            case "json": return "{\"v\":1}"u8.ToArray();
            case "short-data":
                env.Data = env.Data[..^2];
                env.Checksum = XxHash64.HashToUInt64(env.Data.Span);
                return Write(env);
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    [TestCaseSource(nameof(s_corruptionKinds))]
    public void TryDecode_BadValue_NullWithReason(string kind)
    {
        using var original = TestEmbeddings.Create(seed: 5);
        var bytes = Corrupt(original, kind);
        var decoded = EmbeddingEnvelope.TryDecode(bytes, Model, out var rejection);
        Assert.Multiple(() =>
        {
            Assert.That(decoded, Is.Null);
            Assert.That(rejection, Is.Not.Null.And.Not.Empty);
        });
    }

    [Test]
    public void TryDecode_ValidEnvelopeOfAnotherModel_RejectedNamingBothModels()
    {
        using var original = TestEmbeddings.Create(seed: 6);
        var bytes = Serialize(original, CacheDType.Float32, model: "enc-other");
        Assert.That(EmbeddingEnvelope.TryDecode(bytes, Model, out var rejection), Is.Null);
        Assert.That(rejection, Does.Contain("enc-other").And.Contain(Model));
    }
}
