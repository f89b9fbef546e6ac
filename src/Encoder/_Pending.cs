// TEMPORARY placeholders until the preprocessing branch lands. Deleted on merge.
namespace Sam2Interactive.Encoder;
internal sealed class DecodedImage : IDisposable { public int Width { get; } public int Height { get; } public void Dispose() { } }
internal static class Sam2Preprocessor { public const int InputSize = 1024; public static void ToInputTensor(DecodedImage image, Span<float> destination) { } }
internal static class ImageDecoder { public static DecodedImage Decode(ReadOnlySpan<byte> encoded, long maxPixels = 100_000_000, int minShortSide = 1024) => new(); }
internal sealed class ImageDecodeException(string message) : Exception(message);
