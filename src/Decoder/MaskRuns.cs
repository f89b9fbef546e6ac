using System.Buffers;

namespace Sam2Interactive.Decoder;

/// <summary>
/// A mask (or a band of its rows) as runs of equal pixel values in raster order: what the brush RLE encodes, without the
/// W×H bytes. Appended segments of the same value as the last run extend it, so runs are maximal and alternate in value
/// (any byte values; masks use 0 and 255). Storage is one array rented from <see cref="ArrayPool{T}.Shared"/>, grown by
/// re-renting; <see cref="Dispose"/> returns it. A mutable struct: pass it by <c>ref</c>.
/// </summary>
internal struct MaskRuns : IDisposable
{
    private int[]? _lengths;
    private byte[]? _values;
    private int _count;

    public MaskRuns(int capacity)
    {
        _lengths = ArrayPool<int>.Shared.Rent(Math.Max(capacity, 16));
        _values = ArrayPool<byte>.Shared.Rent(_lengths.Length);
    }

    /// <summary>Number of runs.</summary>
    public readonly int Count => _count;

    /// <summary>Pixel counts of the runs, in raster order.</summary>
    public readonly ReadOnlySpan<int> Lengths => _lengths.AsSpan(0, _count);

    /// <summary>Pixel value of each run.</summary>
    public readonly ReadOnlySpan<byte> Values => _values.AsSpan(0, _count);

    /// <summary>Appends <paramref name="length"/> (≥ 1) pixels of <paramref name="value"/>.</summary>
    public void Add(byte value, int length)
    {
        if (length <= 0) return;
        if (_count > 0 && _values![_count - 1] == value)
        {
            _lengths![_count - 1] += length;
            return;
        }

        if (_lengths is null || _count == Math.Min(_lengths.Length, _values!.Length)) Grow();
        _lengths![_count] = length;
        _values![_count] = value;
        _count++;
    }

    /// <summary>Appends the runs of a row of pixel bytes (one vectorised scan per run).</summary>
    public void AddPixels(ReadOnlySpan<byte> pixels)
    {
        var i = 0;
        while (i < pixels.Length)
        {
            var rest = pixels[i..];
            var next = rest.IndexOfAnyExcept(rest[0]);
            var length = next < 0 ? rest.Length : next;
            Add(rest[0], length);
            i += length;
        }
    }

    /// <summary>Forgets the runs, keeping the storage.</summary>
    public void Clear() => _count = 0;

    public void Dispose()
    {
        if (_lengths is not null) ArrayPool<int>.Shared.Return(_lengths);
        if (_values is not null) ArrayPool<byte>.Shared.Return(_values);
        _lengths = null;
        _values = null;
        _count = 0;
    }

    private void Grow()
    {
        var capacity = _lengths is null ? 256 : _lengths.Length * 2;
        var lengths = ArrayPool<int>.Shared.Rent(capacity);
        var values = ArrayPool<byte>.Shared.Rent(capacity);
        if (_lengths is not null)
        {
            _lengths.AsSpan(0, _count).CopyTo(lengths);
            _values.AsSpan(0, _count).CopyTo(values);
            ArrayPool<int>.Shared.Return(_lengths);
            ArrayPool<byte>.Shared.Return(_values!);
        }
        _lengths = lengths;
        _values = values;
    }
}
