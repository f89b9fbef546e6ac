using System.Buffers;
using System.Numerics.Tensors;

namespace Sam2Interactive.Decoder;

/// <summary>
/// The full-resolution mask of one 256×256 logit map, produced row by row without a W×H intermediate:
/// <c>F.interpolate(mode="bilinear", align_corners=False)</c> in float32, then <c>logit &gt; 0</c>, bit for bit the values
/// the per-pixel evaluation gives (<see cref="MaskPostprocessor.UpsampleAndThreshold"/> is this type, whole).
/// </summary>
/// <remarks>
/// <para>Output pixel (x, y) interpolates the four logits of one low-res cell: rows y0(y), y1 = min(y0 + 1, 255), columns
/// x0(x), x1 = min(x0 + 1, 255), with weights that are ≥ 0 and of which the larger per axis is ≥ 0.5. So when all four
/// corners are ≤ 0 every product and sum is ≤ 0 (or NaN) and the pixel is background; when all four lie in
/// [<see cref="PositiveMin"/>, <see cref="PositiveMax"/>] the value is ≥ corner·0.25 &gt; 0 (no underflow, no overflow)
/// and the pixel is foreground. Only the pixels of the remaining (mixed) cells are evaluated, with the exact float32
/// operations of the reference: h = wx0·L[x0] + wx1·L[x1] per source row, then h(y0)·hy0 + h(y1)·hy1 (not fused).</para>
/// <para>An object mask at 4000×3000 has a few hundred mixed cells out of 65 536, so a row costs a handful of spans
/// instead of 4000 evaluations. The classification is the same for every output row that shares a source row pair; the
/// spans and the horizontal terms of its mixed cells are computed once per pair.</para>
/// <para>Ownership: the logits are borrowed (valid while this lives); the tables are rented from
/// <see cref="ArrayPool{T}.Shared"/> and returned by <see cref="Dispose"/>, exactly once. Immutable after construction, so
/// bands of rows may run on several threads, each with its own <see cref="RowScratch"/>.</para>
/// </remarks>
internal readonly struct MaskUpsampler : IDisposable
{
    /// <summary>Smallest corner value for which a cell is proved foreground (a quarter of it is still a normal float).</summary>
    public const float PositiveMin = 1e-30f;

    /// <summary>Largest corner value for which a cell is proved foreground (sums stay finite).</summary>
    public const float PositiveMax = 1e30f;

    /// <summary>Cell and span kinds: every corner ≤ 0 (bit 0), every corner in [PositiveMin, PositiveMax] (bit 1), else mixed.</summary>
    public const byte Mixed = 0, Background = 1, Foreground = 2;

    /// <summary>Below this many mixed-cell pixels, one thread does the whole mask: a band hand-off costs more than it saves.</summary>
    public const long ParallelMixedPixels = 1L << 20;

    /// <summary>Fewest output rows a band gets when the mask is split across cores.</summary>
    public const int MinBandRows = 64;

    private const int N = MaskPostprocessor.LowResSize;

    private readonly float[] _logits;
    private readonly int[] _x0;
    private readonly int[] _x1;
    private readonly float[] _wx0;
    private readonly float[] _wx1;
    private readonly int[] _groupStart;
    private readonly int[] _groupCell;
    private readonly byte[] _cells;
    private readonly float _scaleY;

    /// <param name="logits">256×256 row-major logits, borrowed for this instance's lifetime.</param>
    /// <param name="width">Output width (≥ 1).</param>
    /// <param name="height">Output height (≥ 1).</param>
    public MaskUpsampler(float[] logits, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Length < MaskPostprocessor.LowResLength) throw new ArgumentException("logits must hold 256×256 values", nameof(logits));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        _logits = logits;
        Width = width;
        Height = height;
        _scaleY = (float)N / height;

        _x0 = ArrayPool<int>.Shared.Rent(width);
        _x1 = ArrayPool<int>.Shared.Rent(width);
        _wx0 = ArrayPool<float>.Shared.Rent(width);
        _wx1 = ArrayPool<float>.Shared.Rent(width);
        var groups = Math.Min(width, N);
        _groupStart = ArrayPool<int>.Shared.Rent(groups + 1);
        _groupCell = ArrayPool<int>.Shared.Rent(groups);
        _cells = ArrayPool<byte>.Shared.Rent(MaskPostprocessor.LowResLength);

        // Columns: source indices and weights per output x; groups = maximal ranges of x sharing x0 (x0 never decreases).
        var scaleX = (float)N / width;
        var g = -1;
        for (var x = 0; x < width; x++)
        {
            (_x0[x], _x1[x], _wx0[x], _wx1[x]) = MaskPostprocessor.SourceIndex(scaleX, x, N);
            if (g < 0 || _groupCell[g] != _x0[x])
            {
                g++;
                _groupCell[g] = _x0[x];
                _groupStart[g] = x;
            }
        }
        Groups = g + 1;
        _groupStart[Groups] = width;

        ClassifyCells(logits, _cells);
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Column groups: output columns that share one low-res column x0.</summary>
    public int Groups { get; }

    /// <summary>Source rows (y0, y1) and weights of output row <paramref name="y"/>.</summary>
    public (int Y0, int Y1, float H0, float H1) Row(int y) => MaskPostprocessor.SourceIndex(_scaleY, y, N);

    /// <summary>Pixels that fall in mixed cells over the whole mask: the work left after classification.</summary>
    public long MixedPixels()
    {
        long total = 0;
        var lastRow = -1;
        long rowMixed = 0;
        for (var y = 0; y < Height; y++)
        {
            var y0 = Row(y).Y0;
            if (y0 != lastRow)
            {
                lastRow = y0;
                rowMixed = 0;
                var cells = _cells.AsSpan(y0 * N, N);
                for (var g = 0; g < Groups; g++)
                {
                    if (cells[_groupCell[g]] == Mixed) rowMixed += _groupStart[g + 1] - _groupStart[g];
                }
            }
            total += rowMixed;
        }
        return total;
    }

    /// <summary>How many bands of rows to split this mask into: 1 unless the mixed cells hold enough work for the cores.</summary>
    public int ChooseBands()
    {
        var cores = Environment.ProcessorCount;
        if (cores == 1 || Height < 2 * MinBandRows) return 1;
        if (MixedPixels() < ParallelMixedPixels) return 1;
        return Math.Min(cores, Height / MinBandRows);
    }

    /// <summary>Rows [<paramref name="yStart"/>, <paramref name="yEnd"/>) as bytes (255 foreground, 0 background), row-major
    /// into <paramref name="destination"/> ((yEnd − yStart)·Width bytes).</summary>
    public void WriteRows(ref RowScratch scratch, int yStart, int yEnd, Span<byte> destination)
    {
        CheckRows(yStart, yEnd);
        if (destination.Length < (long)(yEnd - yStart) * Width) throw new ArgumentException("destination is smaller than the rows", nameof(destination));
        for (var y = yStart; y < yEnd; y++)
        {
            var row = destination.Slice((y - yStart) * Width, Width);
            var (y0, _, h0, h1) = Row(y);
            Prepare(ref scratch, y0);
            for (var s = 0; s < scratch.Spans; s++)
            {
                int a = scratch.SpanStart[s], b = scratch.SpanStart[s + 1];
                switch (scratch.SpanKind[s])
                {
                    case Background: row[a..b].Clear(); break;
                    case Foreground: row[a..b].Fill(MaskPostprocessor.Foreground); break;
                    default: Evaluate(ref scratch, a, b, h0, h1, row[a..b]); break;
                }
            }
        }
    }

    /// <summary>Appends the runs of rows [<paramref name="yStart"/>, <paramref name="yEnd"/>) in raster order.</summary>
    public void AppendRuns(ref RowScratch scratch, int yStart, int yEnd, ref MaskRuns runs)
    {
        CheckRows(yStart, yEnd);
        for (var y = yStart; y < yEnd; y++)
        {
            var (y0, _, h0, h1) = Row(y);
            Prepare(ref scratch, y0);
            for (var s = 0; s < scratch.Spans; s++)
            {
                int a = scratch.SpanStart[s], b = scratch.SpanStart[s + 1];
                switch (scratch.SpanKind[s])
                {
                    case Background: runs.Add(0, b - a); break;
                    case Foreground: runs.Add(MaskPostprocessor.Foreground, b - a); break;
                    default:
                        var bytes = scratch.Bytes.AsSpan(a, b - a);
                        Evaluate(ref scratch, a, b, h0, h1, bytes);
                        runs.AddPixels(bytes);
                        break;
                }
            }
        }
    }

    /// <summary>The whole mask as runs, in <paramref name="bands"/> bands of rows (split across cores when more than one);
    /// <paramref name="runs"/>[i] receives band i. Consumers coalesce equal runs across band boundaries.</summary>
    public void CollectRuns(Span<MaskRuns> runs, int bands)
    {
        if (bands < 1 || bands > Height || runs.Length < bands) throw new ArgumentOutOfRangeException(nameof(bands));
        if (bands == 1)
        {
            var scratch = new RowScratch(this);
            try
            {
                AppendRuns(ref scratch, 0, Height, ref runs[0]);
            }
            finally
            {
                scratch.Dispose();
            }
            return;
        }

        CollectRunsInParallel(runs, bands);
    }

    /// <summary>The whole mask as bytes into <paramref name="destination"/> (Width·Height), in <paramref name="bands"/> bands.</summary>
    public void WriteAll(byte[] destination, int bands)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (bands < 1 || bands > Height) throw new ArgumentOutOfRangeException(nameof(bands));
        if (destination.LongLength < (long)Width * Height) throw new ArgumentException("destination is smaller than Width·Height", nameof(destination));
        if (bands == 1)
        {
            var scratch = new RowScratch(this);
            try
            {
                WriteRows(ref scratch, 0, Height, destination);
            }
            finally
            {
                scratch.Dispose();
            }
            return;
        }

        WriteAllInParallel(destination, bands);
    }

    /// <summary>Rows of band <paramref name="i"/> of <paramref name="bands"/>: consecutive, covering [0, height), sizes differ by ≤ 1.</summary>
    public static (int Start, int End) Band(int height, int bands, int i) =>
        ((int)((long)height * i / bands), (int)((long)height * (i + 1) / bands));

    public void Dispose()
    {
        ArrayPool<int>.Shared.Return(_x0);
        ArrayPool<int>.Shared.Return(_x1);
        ArrayPool<float>.Shared.Return(_wx0);
        ArrayPool<float>.Shared.Return(_wx1);
        ArrayPool<int>.Shared.Return(_groupStart);
        ArrayPool<int>.Shared.Return(_groupCell);
        ArrayPool<byte>.Shared.Return(_cells);
    }

    // The parallel paths live in their own methods: a lambda that captures a parameter makes the compiler allocate its
    // closure on entry to the method, which would cost the single-band path an allocation per mask.
    private void CollectRunsInParallel(Span<MaskRuns> runs, int bands)
    {
        var results = ArrayPool<MaskRuns>.Shared.Rent(bands);
        try
        {
            var plan = this;
            Parallel.For(0, bands, i =>
            {
                var scratch = new RowScratch(plan);
                try
                {
                    var (start, end) = Band(plan.Height, bands, i);
                    var band = new MaskRuns(256);
                    plan.AppendRuns(ref scratch, start, end, ref band);
                    results[i] = band;
                }
                finally
                {
                    scratch.Dispose();
                }
            });
            for (var i = 0; i < bands; i++)
            {
                runs[i].Dispose();
                runs[i] = results[i];
                results[i] = default;
            }
        }
        finally
        {
            for (var i = 0; i < bands; i++) results[i].Dispose();
            ArrayPool<MaskRuns>.Shared.Return(results, clearArray: true);
        }
    }

    private void WriteAllInParallel(byte[] destination, int bands)
    {
        var plan = this;
        Parallel.For(0, bands, i =>
        {
            var scratch = new RowScratch(plan);
            try
            {
                var (start, end) = Band(plan.Height, bands, i);
                plan.WriteRows(ref scratch, start, end, destination.AsSpan(start * plan.Width, (end - start) * plan.Width));
            }
            finally
            {
                scratch.Dispose();
            }
        });
    }

    private void CheckRows(int yStart, int yEnd)
    {
        if (yStart < 0 || yEnd > Height || yStart > yEnd) throw new ArgumentOutOfRangeException(nameof(yStart), $"rows [{yStart}, {yEnd}) are not within [0, {Height})");
    }

    /// <summary>
    /// Cell kinds of every (y0, x0): the AND of the four corners' sign bits (bit 0: ≤ 0, bit 1: in [PositiveMin, PositiveMax];
    /// NaN has neither), so a cell keeps a bit only when all four corners have it.
    /// </summary>
    private static void ClassifyCells(float[] logits, byte[] cells)
    {
        var signs = ArrayPool<byte>.Shared.Rent(MaskPostprocessor.LowResLength);
        var pairs = ArrayPool<byte>.Shared.Rent(MaskPostprocessor.LowResLength);
        try
        {
            for (var i = 0; i < MaskPostprocessor.LowResLength; i++)
            {
                var v = logits[i];
                signs[i] = v <= 0f ? Background : v is >= PositiveMin and <= PositiveMax ? Foreground : Mixed;
            }

            // Horizontal pairs (x0, x1 = min(x0 + 1, 255)) per row, then vertical pairs (y0, y1 = min(y0 + 1, 255)) of those.
            for (var r = 0; r < N; r++)
            {
                var row = signs.AsSpan(r * N, N);
                var pair = pairs.AsSpan(r * N, N);
                TensorPrimitives.BitwiseAnd(row[..(N - 1)], row[1..], pair);
                pair[N - 1] = row[N - 1];
            }
            for (var r = 0; r < N; r++)
            {
                var next = Math.Min(r + 1, N - 1);
                TensorPrimitives.BitwiseAnd(pairs.AsSpan(r * N, N), pairs.AsSpan(next * N, N), cells.AsSpan(r * N, N));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signs);
            ArrayPool<byte>.Shared.Return(pairs);
        }
    }

    /// <summary>Spans of equal cell kind for source row pair (y0, min(y0 + 1, 255)), and the horizontal terms of its mixed
    /// spans; kept while consecutive output rows share the pair.</summary>
    private void Prepare(ref RowScratch scratch, int y0)
    {
        if (scratch.PairRow == y0) return;
        scratch.PairRow = y0;
        var cells = _cells.AsSpan(y0 * N, N);
        var spans = 0;
        for (var g = 0; g < Groups; g++)
        {
            var kind = cells[_groupCell[g]];
            if (spans > 0 && scratch.SpanKind[spans - 1] == kind) continue;
            scratch.SpanKind[spans] = kind;
            scratch.SpanStart[spans] = _groupStart[g];
            spans++;
        }
        scratch.SpanStart[spans] = Width;
        scratch.Spans = spans;

        var y1 = Math.Min(y0 + 1, N - 1);
        for (var s = 0; s < spans; s++)
        {
            if (scratch.SpanKind[s] != Mixed) continue;
            Horizontal(y0, scratch.SpanStart[s], scratch.SpanStart[s + 1], scratch.R0);
            Horizontal(y1, scratch.SpanStart[s], scratch.SpanStart[s + 1], scratch.R1);
        }
    }

    /// <summary>Source row <paramref name="r"/> interpolated to output columns [a, b): wx0·L[x0] + wx1·L[x1].</summary>
    private void Horizontal(int r, int a, int b, float[] destination)
    {
        var src = _logits.AsSpan(r * N, N);
        var x0 = _x0;
        var x1 = _x1;
        var w0 = _wx0;
        var w1 = _wx1;
        for (var x = a; x < b; x++)
        {
            destination[x] = w0[x] * src[x0[x]] + w1[x] * src[x1[x]];
        }
    }

    /// <summary>Columns [a, b) of one output row: h(y0)·h0 + h(y1)·h1, thresholded into <paramref name="destination"/>.</summary>
    private static void Evaluate(ref RowScratch scratch, int a, int b, float h0, float h1, Span<byte> destination)
    {
        var values = scratch.Values.AsSpan(a, b - a);
        TensorPrimitives.Multiply(scratch.R0.AsSpan(a, b - a), h0, values);
        TensorPrimitives.MultiplyAdd(scratch.R1.AsSpan(a, b - a), h1, values, values);
        MaskPostprocessor.Threshold(values, destination);
    }

    /// <summary>Per-thread working memory for one band of rows: Width-long rows and the current pair's spans. Rented; dispose once.</summary>
    internal struct RowScratch : IDisposable
    {
        public RowScratch(in MaskUpsampler plan)
        {
            R0 = ArrayPool<float>.Shared.Rent(plan.Width);
            R1 = ArrayPool<float>.Shared.Rent(plan.Width);
            Values = ArrayPool<float>.Shared.Rent(plan.Width);
            Bytes = ArrayPool<byte>.Shared.Rent(plan.Width);
            SpanStart = ArrayPool<int>.Shared.Rent(plan.Groups + 1);
            SpanKind = ArrayPool<byte>.Shared.Rent(plan.Groups);
            PairRow = -1;
        }

        /// <summary>Horizontal terms of source rows y0 and y1 over the mixed spans' columns.</summary>
        public float[] R0 { get; }

        public float[] R1 { get; }

        /// <summary>Interpolated values of one mixed span.</summary>
        public float[] Values { get; }

        /// <summary>Thresholded bytes of one mixed span, for run extraction.</summary>
        public byte[] Bytes { get; }

        /// <summary>Spans + 1 entries: span s covers output columns [SpanStart[s], SpanStart[s + 1]).</summary>
        public int[] SpanStart { get; }

        public byte[] SpanKind { get; }

        public int Spans { get; set; }

        /// <summary>The source row y0 the spans were built for; −1 before the first row.</summary>
        public int PairRow { get; set; }

        public readonly void Dispose()
        {
            ArrayPool<float>.Shared.Return(R0);
            ArrayPool<float>.Shared.Return(R1);
            ArrayPool<float>.Shared.Return(Values);
            ArrayPool<byte>.Shared.Return(Bytes);
            ArrayPool<int>.Shared.Return(SpanStart);
            ArrayPool<byte>.Shared.Return(SpanKind);
        }
    }
}
