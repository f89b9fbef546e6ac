using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>
/// One object's mask at the requested size and its low-res logits. The full-resolution mask is produced only as an output
/// needs it: streamed by rows (<see cref="WriteRows"/>, the brush RLE and PNG encoders) from the kept low-res logits, or
/// materialised once (<see cref="Pixels"/>) for outputs that need the whole mask. Exports with full-size outputs (the
/// orig_im_size format) are copied at once. Owns pooled buffers (the 256×256 logits would otherwise be a 256 KiB
/// large-object allocation per click): dispose exactly once. One thread at a time.
/// </summary>
public sealed class MaskPrediction : IDisposable
{
    private byte[]? _pixels;
    private float[]? _logits;
    private float[]? _filledLogits;
    private MaskUpsampler? _upsampler;
    private bool _disposed;

    /// <param name="hasLowResLogits">Whether the export returns 256×256 logits; their buffer is then rented for the caller to fill.</param>
    internal MaskPrediction(int width, int height, float score, int maskIndex, bool hasLowResLogits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        Score = score;
        MaskIndex = maskIndex;
        if (hasLowResLogits) _logits = ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResLength);
    }

    /// <summary>A mask upsampled from <paramref name="logits"/> (256×256, copied), as a decoder run without filling makes it.</summary>
    internal static MaskPrediction FromLogits(ReadOnlySpan<float> logits, int width, int height, float score = 1f)
    {
        var mask = new MaskPrediction(width, height, score, 0, hasLowResLogits: true);
        logits[..MaskPostprocessor.LowResLength].CopyTo(mask.LowResBuffer);
        return mask;
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

    /// <summary>
    /// Width×Height bytes, row-major: 255 foreground, 0 background. Computed on first use into a pooled buffer (W×H bytes,
    /// returned by <see cref="Dispose"/>); outputs that go row by row should prefer <see cref="WriteRows"/> or the encoders
    /// that take a <see cref="MaskPrediction"/>.
    /// </summary>
    public Span<byte> Pixels => Materialize().AsSpan(0, Width * Height);

    /// <summary>Whether the whole mask is already held as bytes (full-size exports, or after <see cref="Pixels"/>).</summary>
    internal bool HasPixels => _pixels is not null;

    /// <summary>Foreground pixel count.</summary>
    public int Area
    {
        get
        {
            if (_pixels is { } p) return Width * Height - System.MemoryExtensions.Count(p.AsSpan(0, Width * Height), (byte)0);
            var upsampler = Upsampler();
            var runs = new MaskRuns(256);
            var scratch = new MaskUpsampler.RowScratch(upsampler);
            try
            {
                upsampler.AppendRuns(ref scratch, 0, Height, ref runs);
                var area = 0;
                for (var i = 0; i < runs.Count; i++)
                {
                    if (runs.Values[i] != 0) area += runs.Lengths[i];
                }
                return area;
            }
            finally
            {
                scratch.Dispose();
                runs.Dispose();
            }
        }
    }

    /// <summary>
    /// Writes rows [<paramref name="y0"/>, <paramref name="y1"/>) of the mask, row-major, 255 foreground and 0 background, into
    /// the first (y1 − y0)·Width bytes of <paramref name="destination"/>, without producing the rest of the mask.
    /// </summary>
    /// <remarks>The low-res cells are classified on the first call and kept; each call rents Width-long scratch rows, so
    /// stream in batches of rows rather than one row per call.</remarks>
    public void WriteRows(int y0, int y1, Span<byte> destination)
    {
        if (y0 < 0 || y1 > Height || y0 > y1) throw new ArgumentOutOfRangeException(nameof(y0), $"rows [{y0}, {y1}) are not within [0, {Height})");
        if (destination.Length < (long)(y1 - y0) * Width) throw new ArgumentException("destination is smaller than the rows", nameof(destination));
        if (_pixels is { } p)
        {
            p.AsSpan(y0 * Width, (y1 - y0) * Width).CopyTo(destination);
            return;
        }

        var upsampler = Upsampler();
        var scratch = new MaskUpsampler.RowScratch(upsampler);
        try
        {
            upsampler.WriteRows(ref scratch, y0, y1, destination);
        }
        finally
        {
            scratch.Dispose();
        }
    }

    /// <summary>
    /// The mask as runs, one <see cref="MaskRuns"/> per band of rows (split across cores when the mask is costly; see
    /// <see cref="MaskUpsampler.ChooseBands"/>). Return the array with <see cref="ReturnRuns"/>.
    /// </summary>
    /// <param name="bands">Bands to use; 0 chooses.</param>
    internal MaskRuns[] RentRuns(out int count, int bands = 0)
    {
        if (_pixels is { } p)
        {
            var single = ArrayPool<MaskRuns>.Shared.Rent(1);
            single[0] = new MaskRuns(256);
            single[0].AddPixels(p.AsSpan(0, Width * Height));
            count = 1;
            return single;
        }

        var upsampler = Upsampler();
        count = bands > 0 ? Math.Min(bands, Height) : upsampler.ChooseBands();
        var runs = ArrayPool<MaskRuns>.Shared.Rent(count);
        try
        {
            for (var i = 0; i < count; i++) runs[i] = new MaskRuns(256);
            upsampler.CollectRuns(runs.AsSpan(0, count), count);
            return runs;
        }
        catch
        {
            ReturnRuns(runs, count);
            throw;
        }
    }

    /// <summary>Disposes the first <paramref name="count"/> runs and returns the array from <see cref="RentRuns"/>.</summary>
    internal static void ReturnRuns(MaskRuns[] runs, int count)
    {
        for (var i = 0; i < count; i++) runs[i].Dispose();
        ArrayPool<MaskRuns>.Shared.Return(runs, clearArray: true);
    }

    /// <summary>Rents the W×H mask for a decoder to fill from a full-size output; the mask is then held, not upsampled.</summary>
    internal Span<byte> RentPixels()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _pixels ??= ArrayPool<byte>.Shared.Rent(checked(Width * Height));
        return _pixels.AsSpan(0, Width * Height);
    }

    /// <summary>Rents a 256×256 buffer, initialised to the low-res logits, that is upsampled instead of them (hole and
    /// sprinkle filling changes only the mask: the logits returned for refinement stay as the decoder gave them).</summary>
    internal Span<float> RentFilledLogits()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DropUpsampler();
        _filledLogits ??= ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResLength);
        LowResLogits.Span.CopyTo(_filledLogits);
        return _filledLogits.AsSpan(0, MaskPostprocessor.LowResLength);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DropUpsampler();
        if (_pixels is { } p) ArrayPool<byte>.Shared.Return(p);
        if (_logits is { } l) ArrayPool<float>.Shared.Return(l);
        if (_filledLogits is { } f) ArrayPool<float>.Shared.Return(f);
        _pixels = null;
        _logits = null;
        _filledLogits = null;
    }

    /// <summary>The upsampler of the logits that make the mask, built (cells classified) on first use and kept until Dispose.</summary>
    private MaskUpsampler Upsampler()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_upsampler is { } kept) return kept;
        var logits = _filledLogits ?? _logits ?? throw new InvalidOperationException("this mask has neither pixels nor low-res logits");
        var upsampler = new MaskUpsampler(logits, Width, Height);
        _upsampler = upsampler;
        return upsampler;
    }

    /// <summary>Forgets the kept upsampler, so the next output classifies the cells again as a fresh prediction's first output
    /// does (benchmarks measure the per-click cost with it).</summary>
    internal void DropUpsampler()
    {
        _upsampler?.Dispose();
        _upsampler = null;
    }

    private byte[] Materialize()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pixels is { } p) return p;
        var upsampler = Upsampler();
        var pixels = ArrayPool<byte>.Shared.Rent(checked(Width * Height));
        try
        {
            upsampler.WriteAll(pixels, upsampler.ChooseBands());
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(pixels);
            throw;
        }
        _pixels = pixels;
        return pixels;
    }
}
