using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>
/// One object's mask at the requested size and its low-res logits. Owns pooled buffers (the 256×256 logits would otherwise
/// be a 256 KiB large-object allocation per click): dispose exactly once.
/// </summary>
public sealed class MaskPrediction : IDisposable
{
    private byte[]? _pixels;
    private float[]? _logits;

    /// <param name="hasLowResLogits">Whether the export returns 256×256 logits; their buffer is then rented for the caller to fill.</param>
    internal MaskPrediction(int width, int height, float score, int maskIndex, bool hasLowResLogits)
    {
        Width = width;
        Height = height;
        Score = score;
        MaskIndex = maskIndex;
        _pixels = ArrayPool<byte>.Shared.Rent(checked(width * height));
        if (hasLowResLogits) _logits = ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResLength);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The predicted IoU of the chosen mask (already a sigmoid output, in [0,1]).</summary>
    public float Score { get; }

    /// <summary>Which of the decoder's masks was chosen (argmax IoU).</summary>
    public int MaskIndex { get; }

    /// <summary>The chosen 256×256 low-res logits clamped to ±32, for the next click's <c>mask_input</c>; empty when the
    /// export has none. Valid until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<float> LowResLogits => _logits is null ? default : _logits.AsMemory(0, MaskPostprocessor.LowResLength);

    /// <summary>The logits buffer for the decoder to fill.</summary>
    internal Span<float> LowResBuffer => _logits.AsSpan(0, MaskPostprocessor.LowResLength);

    /// <summary>Width×Height bytes, row-major: 255 foreground, 0 background.</summary>
    public Span<byte> Pixels => _pixels is { } p ? p.AsSpan(0, Width * Height) : throw new ObjectDisposedException(nameof(MaskPrediction));

    /// <summary>Foreground pixel count.</summary>
    public int Area => Pixels.Length - System.MemoryExtensions.Count(Pixels, (byte)0);

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _pixels, null);
        if (p is not null) ArrayPool<byte>.Shared.Return(p);
        var l = Interlocked.Exchange(ref _logits, null);
        if (l is not null) ArrayPool<float>.Shared.Return(l);
    }
}
