using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Sam2Interactive.Decoder;

/// <summary>
/// Label Studio BrushLabels RLE, byte-exact with the SDK's <c>mask2rle</c> (converter/brush.py) called on a 2-D uint8 mask.
/// </summary>
/// <remarks>
/// Stream layout (all fields unsigned, MSB first, packed MSB-first into bytes):
/// header <c>N:32</c> (value count = 4·pixels), <c>wordsize-1:5</c> (7), four tier widths <c>w-1:4</c> (3, 4, 8, 16 → 2, 3, 7, 15);
/// then records <c>flag:1 tier:2 count:width[tier]</c> covering <c>count+1</c> values, followed by one value (flag 1, a run)
/// or <c>count+1</c> values (flag 0, literals); then <c>8 - bits % 8</c> zero bits, i.e. a whole zero byte when the payload is
/// byte-aligned. Every pixel contributes four equal values (R, G, B, A = v), so runs are multiples of 4 values and the encoder
/// never emits literals; runs longer than 65536 values are split into 65536-value chunks and the remainder is always written
/// in the 16-bit tier. See docs/label-studio-protocol.md §4.
/// </remarks>
public static class BrushRle
{
    /// <summary>Largest pixel count whose value count 4·n still fits the 32-bit header field.</summary>
    public const int MaxPixelCount = (int)(uint.MaxValue / 4);

    private const int HeaderBits = 53;
    private const int WordSize = 8;

    // wordsize-1 = 7 (5 bits), then tier widths minus one: 2, 3, 7, 15 (4 bits each). 21 bits.
    private const uint HeaderTail = (7u << 16) | (2u << 12) | (3u << 8) | (7u << 4) | 15u;
    private const int HeaderTailBits = 21;

    private const int MaxChunkValues = 65536;

    // Run records as one bit pattern each: flag 1, tier, count, value (value ORed in at the call site).
    private const int Tier0Bits = 1 + 2 + 3 + WordSize;   // 2..8 values
    private const int Tier1Bits = 1 + 2 + 4 + WordSize;   // 9..16 values
    private const int Tier2Bits = 1 + 2 + 8 + WordSize;   // 17..256 values
    private const int Tier3Bits = 1 + 2 + 16 + WordSize;  // 257.. values, chunked
    private const uint Tier0Prefix = 0b100u << (3 + WordSize);
    private const uint Tier1Prefix = 0b101u << (4 + WordSize);
    private const uint Tier2Prefix = 0b110u << (8 + WordSize);
    private const uint Tier3Prefix = 0b111u << (16 + WordSize);
    private const uint FullChunkPattern = Tier3Prefix | (ushort.MaxValue << WordSize);

    /// <summary>
    /// Encodes a mask exactly as <c>mask2rle</c> does.
    /// </summary>
    /// <param name="pixels">One byte per pixel, row-major (index y·W + x), W·H long; each value v is emitted as RGBA v,v,v,v.
    /// Pass 0/255 (Label Studio only tests alpha ≠ 0, but exports and other tools expect 255).</param>
    /// <returns>The RLE bytes; allocates only the exactly sized result.</returns>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> is empty or longer than <see cref="MaxPixelCount"/>.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> pixels)
    {
        var result = new byte[GetEncodedLength(pixels)];
        var written = Encode(pixels, result);
        Debug.Assert(written == result.Length, "GetEncodedLength and Encode disagree");
        return result;
    }

    /// <summary>
    /// Upper bound on the encoded size of any mask of <paramref name="pixelCount"/> pixels: 53 header bits, at most 14 bits
    /// per pixel (a one-pixel run), up to 8 pad bits. O(1). Up to 1.75 bytes per pixel, so for large masks prefer
    /// <see cref="GetEncodedLength(ReadOnlySpan{byte})"/> (one vectorised pass) to size the buffer exactly.
    /// </summary>
    public static int GetMaxEncodedLength(int pixelCount)
    {
        ValidatePixelCount(pixelCount);
        return (int)((HeaderBits + (long)Tier0Bits * pixelCount + 8) / 8);
    }

    /// <summary>Exact number of bytes <see cref="Encode(ReadOnlySpan{byte}, Span{byte})"/> writes for this mask. Cost is one
    /// vectorised scan, proportional to the number of runs plus pixels/vector width.</summary>
    public static int GetEncodedLength(ReadOnlySpan<byte> pixels)
    {
        ValidatePixelCount(pixels.Length);
        long bits = HeaderBits;
        var i = 0;
        while (i < pixels.Length)
        {
            var runPixels = RunLength(pixels, i);
            bits += RecordBits(4L * runPixels);
            i += runPixels;
        }

        // Padding is 1..8 bits, so the byte count is floor(bits / 8) + 1.
        return checked((int)(bits / 8 + 1));
    }

    /// <summary>
    /// Encodes into a caller buffer without allocating. <paramref name="destination"/> must hold at least
    /// <see cref="GetEncodedLength(ReadOnlySpan{byte})"/> bytes (<see cref="GetMaxEncodedLength"/> always suffices).
    /// </summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="ArgumentException">Empty or oversized <paramref name="pixels"/>, or <paramref name="destination"/> too small
    /// (its contents are then unspecified).</exception>
    public static int Encode(ReadOnlySpan<byte> pixels, Span<byte> destination)
    {
        ValidatePixelCount(pixels.Length);
        var writer = new BitWriter(destination);
        writer.Write(4u * (uint)pixels.Length, 32);
        writer.Write(HeaderTail, HeaderTailBits);

        var i = 0;
        while (i < pixels.Length)
        {
            uint value = pixels[i];
            var runPixels = RunLength(pixels, i);
            WriteRun(ref writer, 4L * runPixels, value);
            i += runPixels;
        }

        return writer.Finish();
    }

    /// <summary>
    /// Encodes a predicted mask exactly as <see cref="Encode(ReadOnlySpan{byte})"/> encodes its <see cref="MaskPrediction.Pixels"/>,
    /// without producing the W×H mask: rows are upsampled into runs (bands of rows across cores when costly) and the runs
    /// written as the bit stream.
    /// </summary>
    /// <returns>The RLE bytes; allocates only the exactly sized result.</returns>
    public static byte[] Encode(MaskPrediction mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.HasPixels) return Encode(mask.Pixels);
        var runs = mask.RentRuns(out var bands);
        try
        {
            var result = new byte[GetEncodedLength(runs.AsSpan(0, bands))];
            var written = Encode(runs.AsSpan(0, bands), result);
            Debug.Assert(written == result.Length, "GetEncodedLength and Encode disagree");
            return result;
        }
        finally
        {
            MaskPrediction.ReturnRuns(runs, bands);
        }
    }

    /// <summary>As <see cref="Encode(MaskPrediction)"/>, into <paramref name="destination"/>: no allocation once the pools and
    /// the caller's writer are warm.</summary>
    /// <returns>Bytes written (and advanced).</returns>
    public static int Encode(MaskPrediction mask, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(destination);
        int written;
        if (mask.HasPixels)
        {
            var pixels = mask.Pixels;
            written = Encode(pixels, destination.GetSpan(GetEncodedLength(pixels)));
        }
        else
        {
            var runs = mask.RentRuns(out var bands);
            try
            {
                var span = runs.AsSpan(0, bands);
                written = Encode(span, destination.GetSpan(GetEncodedLength(span)));
            }
            finally
            {
                MaskPrediction.ReturnRuns(runs, bands);
            }
        }
        destination.Advance(written);
        return written;
    }

    /// <summary>Exact encoded size of the mask whose runs are <paramref name="bands"/>, in order (equal runs at band
    /// boundaries are one run).</summary>
    internal static int GetEncodedLength(ReadOnlySpan<MaskRuns> bands)
    {
        long bits = HeaderBits;
        var pixels = 0L;
        var runs = new RunCoalescer();
        foreach (ref readonly var band in bands)
        {
            var values = band.Values;
            var lengths = band.Lengths;
            for (var i = 0; i < lengths.Length; i++)
            {
                pixels += lengths[i];
                if (runs.Add(values[i], lengths[i], out var value, out var length)) bits += RecordBits(4L * length);
            }
        }
        if (runs.Finish(out _, out var last)) bits += RecordBits(4L * last);
        ValidatePixelCount(pixels > int.MaxValue ? -1 : (int)pixels);
        return checked((int)(bits / 8 + 1));
    }

    /// <summary>Encodes runs (see <see cref="GetEncodedLength(ReadOnlySpan{MaskRuns})"/>) into <paramref name="destination"/>.</summary>
    /// <returns>Bytes written.</returns>
    internal static int Encode(ReadOnlySpan<MaskRuns> bands, Span<byte> destination)
    {
        var pixels = 0L;
        foreach (ref readonly var band in bands)
        {
            foreach (var length in band.Lengths) pixels += length;
        }
        ValidatePixelCount(pixels > int.MaxValue ? -1 : (int)pixels);

        var writer = new BitWriter(destination);
        writer.Write(4u * (uint)pixels, 32);
        writer.Write(HeaderTail, HeaderTailBits);
        var runs = new RunCoalescer();
        foreach (ref readonly var band in bands)
        {
            var values = band.Values;
            var lengths = band.Lengths;
            for (var i = 0; i < lengths.Length; i++)
            {
                if (runs.Add(values[i], lengths[i], out var value, out var length)) WriteRun(ref writer, 4L * length, value);
            }
        }
        if (runs.Finish(out var lastValue, out var last)) WriteRun(ref writer, 4L * last, lastValue);
        return writer.Finish();
    }

    /// <summary>
    /// Decodes any stream in this format (both run and literal records, any word size up to 8 bits), as the SDK's
    /// <c>decode_rle</c> and the frontend's thi.ng <c>decodeBinary</c> do. Bits after the N-th value are ignored.
    /// </summary>
    /// <returns>The N values (for <c>mask2rle</c> output: 4·W·H RGBA bytes, row-major).</returns>
    /// <exception cref="InvalidDataException">The stream is truncated or a record overruns N.</exception>
    /// <exception cref="NotSupportedException">Word size above 8 bits, or N larger than an array can hold.</exception>
    public static byte[] Decode(ReadOnlySpan<byte> rle)
    {
        var reader = new BitReader(rle);
        var count = reader.Read(32);
        var wordSize = (int)reader.Read(5) + 1;
        if (wordSize > 8)
        {
            throw new NotSupportedException($"Word size {wordSize} does not fit a byte.");
        }

        if (count > Array.MaxLength)
        {
            throw new NotSupportedException($"{count} values exceed the maximum array length.");
        }

        Span<int> tierWidths = stackalloc int[4];
        for (var t = 0; t < tierWidths.Length; t++)
        {
            tierWidths[t] = (int)reader.Read(4) + 1;
        }

        var result = new byte[count];
        long i = 0;
        while (i < count)
        {
            var isRun = reader.Read(1) == 1;
            var tier = (int)reader.Read(2);
            var end = i + 1 + reader.Read(tierWidths[tier]);
            if (end > count)
            {
                throw new InvalidDataException($"Record covering values [{i}, {end}) overruns the declared count {count}.");
            }

            if (isRun)
            {
                result.AsSpan((int)i, (int)(end - i)).Fill((byte)reader.Read(wordSize));
            }
            else
            {
                for (var k = i; k < end; k++)
                {
                    result[k] = (byte)reader.Read(wordSize);
                }
            }

            i = end;
        }

        return result;
    }

    /// <summary>Length in pixels of the run of equal values starting at <paramref name="start"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RunLength(ReadOnlySpan<byte> pixels, int start)
    {
        var rest = pixels[start..];
        var next = rest.IndexOfAnyExcept(rest[0]);
        return next < 0 ? rest.Length : next;
    }

    /// <summary>Bits of the record(s) for a run of <paramref name="values"/> (≥ 2) values.</summary>
    private static long RecordBits(long values) => values switch
    {
        <= 8 => Tier0Bits,
        <= 16 => Tier1Bits,
        <= 256 => Tier2Bits,
        _ => Tier3Bits * ((values - 1) / MaxChunkValues + 1),
    };

    private static void WriteRun(ref BitWriter writer, long values, uint value)
    {
        switch (values)
        {
            case <= 8:
                writer.Write(Tier0Prefix | ((uint)(values - 1) << WordSize) | value, Tier0Bits);
                break;
            case <= 16:
                writer.Write(Tier1Prefix | ((uint)(values - 1) << WordSize) | value, Tier1Bits);
                break;
            case <= 256:
                writer.Write(Tier2Prefix | ((uint)(values - 1) << WordSize) | value, Tier2Bits);
                break;
            default:
                // mask2rle: while t > 65536 emit a full chunk; the remainder (1..65536) always goes to tier 3.
                for (; values > MaxChunkValues; values -= MaxChunkValues)
                {
                    writer.Write(FullChunkPattern | value, Tier3Bits);
                }

                writer.Write(Tier3Prefix | ((uint)(values - 1) << WordSize) | value, Tier3Bits);
                break;
        }
    }

    private static void ValidatePixelCount(int pixelCount)
    {
        // mask2rle fails on an empty mask; above MaxPixelCount the 32-bit header would overflow.
        if (pixelCount is <= 0 or > MaxPixelCount)
        {
            throw new ArgumentException($"A mask needs 1..{MaxPixelCount} pixels, got {pixelCount}.", nameof(pixelCount));
        }
    }

    /// <summary>Joins runs of equal value that meet at a band boundary: a run is complete once a different value follows.</summary>
    private struct RunCoalescer
    {
        private long _pending;
        private byte _value;

        /// <summary>Adds a run; returns true with the previous run when this one has another value.</summary>
        public bool Add(byte value, int length, out byte completedValue, out long completedLength)
        {
            completedValue = _value;
            completedLength = _pending;
            if (_pending > 0 && value == _value)
            {
                _pending += length;
                return false;
            }

            var completed = _pending > 0;
            _value = value;
            _pending = length;
            return completed;
        }

        /// <summary>The last run, if any.</summary>
        public readonly bool Finish(out byte value, out long length)
        {
            value = _value;
            length = _pending;
            return _pending > 0;
        }
    }

    /// <summary>MSB-first bit packer with a 64-bit accumulator, flushing 32 bits at a time.</summary>
    private ref struct BitWriter
    {
        private readonly Span<byte> _destination;
        private int _position;
        private ulong _accumulator; // the low _pending bits are unwritten output; higher bits are stale
        private int _pending;       // 0..31 between calls

        public BitWriter(Span<byte> destination) => _destination = destination;

        /// <summary>Appends the low <paramref name="count"/> (1..32) bits of <paramref name="bits"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Write(uint bits, int count)
        {
            // _pending ≤ 31 and count ≤ 32, so the 63 live bits never lose their top.
            _accumulator = (_accumulator << count) | bits;
            _pending += count;
            if (_pending >= 32)
            {
                _pending -= 32;
                if (_destination.Length - _position < 4)
                {
                    ThrowDestinationTooSmall();
                }

                BinaryPrimitives.WriteUInt32BigEndian(_destination[_position..], (uint)(_accumulator >> _pending));
                _position += 4;
            }
        }

        /// <summary>Appends mask2rle's 1..8 zero pad bits, flushes, and returns the total byte count.</summary>
        public int Finish()
        {
            Write(0, 8 - (_pending % 8));
            var tailBytes = _pending / 8;
            if (_destination.Length - _position < tailBytes)
            {
                ThrowDestinationTooSmall();
            }

            while (_pending > 0)
            {
                _pending -= 8;
                _destination[_position++] = (byte)(_accumulator >> _pending);
            }

            return _position;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ThrowDestinationTooSmall() =>
            throw new ArgumentException("Destination is smaller than the encoded mask; size it with GetEncodedLength.", "destination");
    }

    /// <summary>MSB-first bit reader; throws on reads past the end like thi.ng's BitInputStream.</summary>
    private ref struct BitReader
    {
        private readonly ReadOnlySpan<byte> _source;
        private long _bitPosition;

        public BitReader(ReadOnlySpan<byte> source) => _source = source;

        /// <summary>Reads <paramref name="count"/> (1..32) bits as an unsigned number.</summary>
        public uint Read(int count)
        {
            if (_bitPosition + count > 8L * _source.Length)
            {
                throw new InvalidDataException("Attempt to read past the end of the RLE stream.");
            }

            // shift + count ≤ 39 bits, so 5 bytes starting at the current byte always cover the field.
            var byteIndex = (int)(_bitPosition >> 3);
            var shift = (int)(_bitPosition & 7);
            ulong window = 0;
            for (var k = 0; k < 5; k++)
            {
                window = (window << 8) | (byteIndex + k < _source.Length ? _source[byteIndex + k] : 0u);
            }

            _bitPosition += count;
            return (uint)((window << (24 + shift)) >> (64 - count));
        }
    }
}
