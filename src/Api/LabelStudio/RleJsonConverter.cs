using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// Writes Label Studio RLE bytes as a JSON array of numbers (<c>[0,0,0,4,57,...]</c>), not base64. The digits come
/// from a 256-entry table (one 4-byte store per element) into one pooled UTF-8 buffer that is handed to <see cref="Utf8JsonWriter.WriteRawValue(ReadOnlySpan{byte}, bool)"/>
/// in a single call: no int[], no strings, no per-element writer bookkeeping. Reading accepts any array of 0..255.
/// </summary>
internal sealed class RleJsonConverter : JsonConverter<ReadOnlyMemory<byte>>
{
    // Entry b: the ASCII digits of b followed by ',' (at most 4 bytes), packed little-endian into a uint so one
    // unaligned 4-byte store writes it; s_digitLength[b] says how many of those bytes count.
    private static readonly uint[] s_digits = BuildDigits(out s_digitLength);
    private static readonly byte[] s_digitLength;

    public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options)
    {
        var rle = value.Span;
        if (rle.IsEmpty)
        {
            writer.WriteStartArray();
            writer.WriteEndArray();
            return;
        }

        // "[" + up to "255," per byte; the last ',' becomes ']'.
        var rented = ArrayPool<byte>.Shared.Rent(1 + 4 * rle.Length);
        try
        {
            var buffer = rented.AsSpan();
            buffer[0] = (byte)'[';
            var pos = 1;
            var digits = s_digits;
            var lengths = s_digitLength;
            foreach (var b in rle)
            {
                // Always 4 bytes written; the buffer has 4 per element, and the surplus is overwritten next.
                BinaryPrimitives.WriteUInt32LittleEndian(buffer[pos..], digits[b]);
                pos += lengths[b];
            }

            buffer[pos - 1] = (byte)']';
            writer.WriteRawValue(buffer[..pos], skipInputValidation: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return ReadOnlyMemory<byte>.Empty;
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException("rle must be a JSON array of numbers 0..255.");

        var bytes = new ArrayBufferWriter<byte>(1024);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetByte(out var b))
                throw new JsonException("rle must be a JSON array of numbers 0..255.");
            bytes.GetSpan(1)[0] = b;
            bytes.Advance(1);
        }

        return bytes.WrittenMemory.ToArray();
    }

    private static uint[] BuildDigits(out byte[] lengths)
    {
        var digits = new uint[256];
        lengths = new byte[256];
        for (var b = 0; b < 256; b++)
        {
            var text = b.ToString(System.Globalization.CultureInfo.InvariantCulture) + ",";
            for (var i = 0; i < text.Length; i++)
                digits[b] |= (uint)text[i] << (8 * i);
            lengths[b] = (byte)text.Length;
        }

        return digits;
    }
}

/// <summary>Reads a string or a number as a string (LS sends ids and project uids in either form).</summary>
internal sealed class LenientStringConverter : JsonConverter<string?>
{
    public override bool HandleNull => true;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(
                reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
            _ => throw new JsonException($"Expected a string or a number, got {reader.TokenType}."),
        };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        if (value is null)
            writer.WriteNullValue();
        else
            writer.WriteStringValue(value);
    }
}

/// <summary>Reads <c>true/false</c>, <c>1/0</c> and <c>"true"/"false"</c> as a bool; null stays null.</summary>
internal sealed class LenientBoolConverter : JsonConverter<bool?>
{
    public override bool HandleNull => true;

    public override bool? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
                return false;
            case JsonTokenType.Number when reader.TryGetDouble(out var d):
                return d != 0;
            case JsonTokenType.String:
                var s = reader.GetString();
                if (bool.TryParse(s, out var parsed))
                    return parsed;
                if (s is "1" or "0")
                    return s == "1";
                break;
        }

        throw new JsonException($"Expected a boolean, got {reader.TokenType}.");
    }

    public override void Write(Utf8JsonWriter writer, bool? value, JsonSerializerOptions options)
    {
        if (value is { } b)
            writer.WriteBooleanValue(b);
        else
            writer.WriteNullValue();
    }
}
