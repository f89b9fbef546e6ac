using System.Buffers;

namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// A binary mask of <see cref="Width"/>×<see cref="Height"/> pixels as row-major run lengths, alternating background and
/// foreground and starting with background (a leading 0 when the first pixel is foreground), plus its SAM2 box and area.
/// The automatic generator keeps every candidate mask this way instead of as a full-size byte array. Owns a pooled
/// buffer: dispose exactly once.
/// </summary>
internal sealed class MaskRuns : IDisposable
{
    private int[]? _counts;

    private MaskRuns(int width, int height, int[] counts, int length, long area, MaskBox box)
    {
        Width = width;
        Height = height;
        _counts = counts;
        Length = length;
        Area = area;
        Box = box;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Number of run lengths.</summary>
    public int Length { get; }

    /// <summary>Foreground pixels (SAM2's <c>area_from_rle</c>).</summary>
    public long Area { get; }

    /// <summary>The box of the foreground (<see cref="MaskBoxes.FromMask"/>'s definition).</summary>
    public MaskBox Box { get; }

    /// <summary>The run lengths; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<int> Counts => (_counts ?? throw new ObjectDisposedException(nameof(MaskRuns))).AsSpan(0, Length);

    /// <summary>
    /// Writes the mask into a larger row-major frame at (<paramref name="offsetX"/>, <paramref name="offsetY"/>):
    /// <paramref name="foreground"/> on foreground pixels, 0 on background pixels of this mask; pixels outside it untouched.
    /// </summary>
    public void WriteTo(Span<byte> frame, int frameWidth, int offsetX, int offsetY, byte foreground = MaskPostprocessor.Foreground)
    {
        if (offsetX < 0 || offsetY < 0 || offsetX + Width > frameWidth || (long)(offsetY + Height) * frameWidth > frame.Length)
            throw new ArgumentOutOfRangeException(nameof(offsetX), "the mask does not fit the frame at that offset");
        long position = 0;
        var value = false;
        foreach (var count in Counts)
        {
            var remaining = count;
            while (remaining > 0)
            {
                var y = (int)(position / Width);
                var x = (int)(position % Width);
                var n = Math.Min(remaining, Width - x);
                frame.Slice((offsetY + y) * frameWidth + offsetX + x, n).Fill(value ? foreground : (byte)0);
                remaining -= n;
                position += n;
            }
            value = !value;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _counts, null) is { } c) ArrayPool<int>.Shared.Return(c);
    }

    /// <summary>Builds a <see cref="MaskRuns"/> from runs appended in row-major order; tracks box and area.</summary>
    internal sealed class Builder(int width, int height) : IDisposable
    {
        private int[] _counts = ArrayPool<int>.Shared.Rent(64);
        private int _length;
        private bool _current;
        private int _run;
        private long _area;
        private int _left = int.MaxValue, _right = -1, _top = int.MaxValue, _bottom = -1;

        /// <summary>Appends <paramref name="count"/> pixels of <paramref name="foreground"/> on row <paramref name="y"/>
        /// starting at column <paramref name="x"/> (the run must not wrap).</summary>
        public void Append(bool foreground, int y, int x, int count)
        {
            if (count <= 0) return;
            if (foreground)
            {
                _area += count;
                if (x < _left) _left = x;
                if (x + count - 1 > _right) _right = x + count - 1;
                if (y < _top) _top = y;
                if (y > _bottom) _bottom = y;
            }
            if (foreground == _current)
            {
                _run += count;
                return;
            }
            Push(_run);
            _current = foreground;
            _run = count;
        }

        /// <summary>Ends the mask; the builder gives up its buffer to the result.</summary>
        public MaskRuns Build()
        {
            Push(_run);
            var box = _bottom < 0 ? default : new MaskBox(_left, _top, _right, _bottom);
            var result = new MaskRuns(width, height, _counts, _length, _area, box);
            _counts = [];
            return result;
        }

        private void Push(int run)
        {
            if (_length == _counts.Length)
            {
                var bigger = ArrayPool<int>.Shared.Rent(_counts.Length * 2);
                _counts.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<int>.Shared.Return(_counts);
                _counts = bigger;
            }
            _counts[_length++] = run;
        }

        public void Dispose()
        {
            if (_counts.Length > 0) ArrayPool<int>.Shared.Return(_counts);
            _counts = [];
        }
    }
}
