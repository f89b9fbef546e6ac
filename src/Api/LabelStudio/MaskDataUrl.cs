using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// A PNG as the JSON string literal <c>"data:image/png;base64,…"</c> (quotes included), base64-encoded straight from the
/// pooled PNG bytes into the one array the response holds: no intermediate string, and no escaping pass when written
/// (<see cref="RawJsonStringConverter"/>), since base64 and the prefix contain no character JSON escapes.
/// </summary>
internal static class MaskDataUrl
{
    private static ReadOnlySpan<byte> Prefix => "\"data:image/png;base64,"u8;

    /// <summary>The quoted data URL of <paramref name="png"/>; the caller still owns (and disposes) <paramref name="png"/>.</summary>
    public static byte[] FromPng(ReadOnlySpan<byte> png)
    {
        var encoded = Base64.GetMaxEncodedToUtf8Length(png.Length);
        var literal = new byte[Prefix.Length + encoded + 1];
        Prefix.CopyTo(literal);
        Base64.EncodeToUtf8(png, literal.AsSpan(Prefix.Length), out _, out var written);
        literal[Prefix.Length + written] = (byte)'"';
        return literal;
    }

    /// <summary>The quoted data URL of <paramref name="png"/>, which is disposed here (it is only read).</summary>
    public static byte[] FromPng(PooledBytes png)
    {
        using (png) return FromPng(png.WrittenMemory.Span);
    }
}

/// <summary>Writes bytes that already form a JSON string literal (see <see cref="MaskDataUrl"/>) without re-escaping; reads
/// a JSON string back into that form.</summary>
internal sealed class RawJsonStringConverter : JsonConverter<ReadOnlyMemory<byte>>
{
    public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("expected a JSON string");
        return JsonSerializer.SerializeToUtf8Bytes(reader.GetString(), LabelStudioJsonContext.Default.String);
    }

    public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Span, skipInputValidation: true);
}
