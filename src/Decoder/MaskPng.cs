using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>
/// Writes a mask as an 8-bit grayscale PNG (0 background, 255 foreground), row by row, into pooled memory: what Label
/// Studio's BitmaskLabels prompt UI reads (a pixel is foreground when its red channel is above 127;
/// docs/label-studio-protocol.md §7), and the HTTP API's <c>png</c> output. Rows are stored unfiltered and deflated at
/// zlib's default level: on a 4000×3000 mask of one object that is 17 KB in about the time the fastest level needs for
/// 120 KB (measured with both PNG filters None and Sub; Sub compressed worse).
/// </summary>
/// <remarks>
/// Usage: create, <see cref="AppendRow"/> exactly <c>height</c> times, then <see cref="Finish"/>, which returns the PNG
/// bytes; the caller owns and disposes them. One writer encodes one image and is not thread-safe.
/// </remarks>
public sealed class MaskPng : IDisposable
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private const int RowBatchBytes = 256 * 1024;

    private readonly int _width;
    private readonly int _height;
    private readonly bool _alpha;
    private readonly PooledBytes _idat;
    private readonly BufferWriterStream _idatStream;
    private readonly ZLibStream _zlib;
    private byte[]? _row;
    private int _rows;

    /// <param name="width">Image width in pixels (≥ 1).</param>
    /// <param name="height">Image height in pixels (≥ 1).</param>
    /// <param name="alpha">Gray + alpha (PNG colour type 4): foreground opaque white (255, 255), background transparent
    /// black (0, 0). Label Studio's classic BitmaskLabels regions colour a mask's non-transparent pixels, so an opaque
    /// gray PNG would fill the whole image there; the prompt UI reads the red channel, which both forms share.</param>
    public MaskPng(int width, int height, bool alpha = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        _width = width;
        _height = height;
        _alpha = alpha;
        // A binary mask deflates to a few bytes per edge crossing: start small, the buffer grows by re-renting.
        _idat = new PooledBytes(64 * 1024);
        _idatStream = new BufferWriterStream(_idat);
        _zlib = new ZLibStream(_idatStream, CompressionLevel.Optimal, leaveOpen: true);
        _row = ArrayPool<byte>.Shared.Rent((alpha ? 2 * width : width) + 1);
    }

    /// <summary>Encodes a whole W×H mask (one byte per pixel, row-major; non-zero is foreground).</summary>
    /// <returns>The PNG bytes; the caller disposes them.</returns>
    /// <param name="alpha">See <see cref="MaskPng(int, int, bool)"/>.</param>
    public static PooledBytes Encode(ReadOnlySpan<byte> mask, int width, int height, bool alpha = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, width * height, nameof(mask));
        using var png = new MaskPng(width, height, alpha);
        for (var y = 0; y < height; y++) png.AppendRow(mask.Slice(y * width, width));
        return png.Finish();
    }

    /// <summary>Encodes a predicted mask, streaming its rows (batches of about 256 KiB) without the W×H mask.</summary>
    /// <returns>The PNG bytes; the caller disposes them.</returns>
    /// <param name="alpha">See <see cref="MaskPng(int, int, bool)"/>.</param>
    public static PooledBytes Encode(MaskPrediction mask, bool alpha = false)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.HasPixels) return Encode(mask.Pixels, mask.Width, mask.Height, alpha);
        var batch = Math.Clamp(RowBatchBytes / mask.Width, 1, mask.Height);
        var rows = ArrayPool<byte>.Shared.Rent(batch * mask.Width);
        try
        {
            using var png = new MaskPng(mask.Width, mask.Height, alpha);
            for (var y = 0; y < mask.Height; y += batch)
            {
                var end = Math.Min(y + batch, mask.Height);
                mask.WriteRows(y, end, rows);
                for (var r = 0; r < end - y; r++) png.AppendRow(rows.AsSpan(r * mask.Width, mask.Width));
            }
            return png.Finish();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rows);
        }
    }

    /// <summary>Adds the next row (width bytes; non-zero is foreground).</summary>
    public void AppendRow(ReadOnlySpan<byte> mask)
    {
        var row = _row ?? throw new ObjectDisposedException(nameof(MaskPng));
        if (mask.Length < _width) throw new ArgumentException("the row is shorter than the image width", nameof(mask));
        if (_rows == _height) throw new InvalidOperationException("all rows were already written");
        row[0] = 0; // filter type None
        var source = mask[.._width];
        int length;
        if (_alpha)
        {
            WriteGrayAlpha(source, MemoryMarshal.Cast<byte, ushort>(row.AsSpan(1, 2 * _width)));
            length = 2 * _width;
        }
        else
        {
            WriteGray(source, row.AsSpan(1, _width));
            length = _width;
        }

        _zlib.Write(row, 0, length + 1);
        _rows++;
    }

    // Non-zero → 255: the wire format is 0/255 whatever the caller's foreground value.
    private static void WriteGray(ReadOnlySpan<byte> source, Span<byte> target)
    {
        var x = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; x <= source.Length - Vector<byte>.Count; x += Vector<byte>.Count)
                Vector.OnesComplement(Vector.Equals(new Vector<byte>(source[x..]), Vector<byte>.Zero)).CopyTo(target[x..]);
        }
        for (; x < source.Length; x++) target[x] = source[x] == 0 ? (byte)0 : (byte)255;
    }

    // One (gray, alpha) pair per pixel, both bytes equal: 0x0000 or 0xFFFF, so byte order does not matter.
    private static void WriteGrayAlpha(ReadOnlySpan<byte> source, Span<ushort> target)
    {
        var x = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; x <= source.Length - Vector<byte>.Count; x += Vector<byte>.Count)
            {
                Vector.Widen(new Vector<byte>(source[x..]), out var low, out var high);
                Vector.OnesComplement(Vector.Equals(low, Vector<ushort>.Zero)).CopyTo(target[x..]);
                Vector.OnesComplement(Vector.Equals(high, Vector<ushort>.Zero)).CopyTo(target[(x + Vector<ushort>.Count)..]);
            }
        }
        for (; x < source.Length; x++) target[x] = source[x] == 0 ? (ushort)0 : ushort.MaxValue;
    }

    /// <summary>Ends the stream and returns the PNG; every row must have been appended.</summary>
    /// <returns>The PNG bytes; the caller owns and disposes them.</returns>
    public PooledBytes Finish()
    {
        if (_rows != _height) throw new InvalidOperationException($"{_rows} of {_height} rows were written");
        _zlib.Dispose(); // flushes the deflate stream and writes the Adler-32 trailer
        var idat = _idat.WrittenMemory.Span;
        var png = new PooledBytes(idat.Length + 64);
        png.Write(Signature);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, _width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], _height);
        header[8] = 8;  // bit depth
        header[9] = _alpha ? (byte)4 : (byte)0; // colour type: grayscale, or grayscale with alpha
        header[10] = 0; // deflate
        header[11] = 0; // adaptive filtering
        header[12] = 0; // no interlace
        WriteChunk(png, "IHDR"u8, header);
        WriteChunk(png, "IDAT"u8, idat);
        WriteChunk(png, "IEND"u8, []);
        return png;
    }

    public void Dispose()
    {
        var row = Interlocked.Exchange(ref _row, null);
        if (row is null) return;
        ArrayPool<byte>.Shared.Return(row);
        _zlib.Dispose();
        _idat.Dispose();
    }

    private static void WriteChunk(PooledBytes png, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        png.Write(type);
        png.Write(data);
        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        png.Write(word);
    }

    /// <summary>A write-only stream over a buffer writer (what <see cref="ZLibStream"/> needs).</summary>
    private sealed class BufferWriterStream(IBufferWriter<byte> writer) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => writer.Write(buffer);

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
