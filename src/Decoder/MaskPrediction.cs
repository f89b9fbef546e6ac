using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>One object's mask at the requested size. Owns a pooled pixel buffer: dispose exactly once.</summary>
internal sealed class MaskPrediction : IDisposable
{
    private byte[]? _pixels;

    public MaskPrediction(int width, int height, float score, int maskIndex, float[]? lowResLogits)
    {
        Width = width;
        Height = height;
        Score = score;
        MaskIndex = maskIndex;
        LowResLogits = lowResLogits;
        _pixels = ArrayPool<byte>.Shared.Rent(checked(width * height));
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The predicted IoU of the chosen mask (already a sigmoid output, in [0,1]).</summary>
    public float Score { get; }

    /// <summary>Which of the decoder's masks was chosen (argmax IoU).</summary>
    public int MaskIndex { get; }

    /// <summary>The chosen 256×256 low-res logits clamped to ±32, for the next click's <c>mask_input</c>; null when the export has none.</summary>
    public float[]? LowResLogits { get; }

    /// <summary>Width×Height bytes, row-major: 255 foreground, 0 background.</summary>
    public Span<byte> Pixels => _pixels is { } p ? p.AsSpan(0, Width * Height) : throw new ObjectDisposedException(nameof(MaskPrediction));

    /// <summary>Time in the decoder session for the run that produced this mask (shared by a batched run).</summary>
    public TimeSpan RunTime { get; internal set; }

    /// <summary>Time spent selecting, filling and upsampling this mask.</summary>
    public TimeSpan PostprocessTime { get; internal set; }

    /// <summary>Foreground pixel count.</summary>
    public int Area => Pixels.Length - System.MemoryExtensions.Count(Pixels, (byte)0);

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _pixels, null);
        if (p is not null) ArrayPool<byte>.Shared.Return(p);
    }
}
