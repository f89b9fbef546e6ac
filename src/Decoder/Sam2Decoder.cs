using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>
/// The SAM2 prompt encoder + mask decoder: one ONNX session reused across requests. Tensors are bound by the names read at
/// load time; the prompt convention (3-D points with float/int labels, or onnx-community's 4-D points, int64 labels and
/// separate boxes), the optional <c>mask_input</c> and <c>orig_im_size</c>, and low-res versus full-size outputs are all
/// detected from the session (docs/sam2-onnx.md §1). Records its runs and stage timings on <see cref="DecoderMetrics"/>.
/// </summary>
public sealed partial class Sam2Decoder : IDisposable
{
    private const int Side = Sam2Tensors.InputSize;
    private static readonly float[] s_noMask = new float[Sam2Tensors.LowResMaskLength];

    private readonly InferenceSession _session;
    private readonly DecoderOptions _options;
    private readonly DecoderMetrics _metrics;
    private readonly Schema _schema;
    private long _runs;

    /// <param name="metrics">Where runs and timings go; null for a meter no host exports.</param>
    /// <exception cref="InvalidDataException">The file is missing, not loadable, or not a SAM2 decoder; the message names it.</exception>
    public Sam2Decoder(string path, ModelOptions modelOptions, DecoderOptions options, ILogger logger, DecoderMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _metrics = metrics ?? new DecoderMetrics(null);
        _session = OrtSessionFactory.Create(path, modelOptions, logger, out var provider, options.Threads);
        try
        {
            _schema = Schema.Detect(_session, path);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
        Path = path;
        Provider = provider;
        Priority = new DecoderPriority(options.Workers);
        Log.DecoderLoaded(logger, path, _schema.Format, provider);
    }

    /// <summary>Clicks before automatic work: <see cref="Predict"/> and <see cref="PredictMany"/> run in an interactive
    /// section; the automatic generator takes background leases.</summary>
    public DecoderPriority Priority { get; }

    public string Path { get; }

    /// <summary>Execution provider this session runs on: "CUDA" or "CPU".</summary>
    public string Provider { get; }

    /// <summary>Detected export format: samexporter, onnx-community or orig-im-size.</summary>
    public string Format => _schema.Format;

    /// <summary>Whether the export takes the previous low-res logits (<c>mask_input</c>) for refinement.</summary>
    public bool SupportsMaskInput => _schema.MaskInput is not null;

    /// <summary>Decoder session runs since start (one per prompt set, or one per batch on onnx-community; not the warm-up).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>
    /// Predicts one object's mask. Prompt coordinates are pixels of a <paramref name="width"/>×<paramref name="height"/> frame
    /// (normally the embedding's original size; Label Studio may report another), and the mask has that size.
    /// </summary>
    /// <param name="previousLogits">The previous click's <see cref="MaskPrediction.LowResLogits"/> (256×256), or null.</param>
    public MaskPrediction Predict(ImageEmbedding embedding, Prompt prompt, int width, int height, ReadOnlyMemory<float>? previousLogits = null)
    {
        Validate(prompt, width, height);
        if (previousLogits is { } prev && prev.Length != MaskPostprocessor.LowResLength)
            throw new ArgumentException("previous logits must be 256×256", nameof(previousLogits));
        using var interactive = Priority.EnterInteractive();
        return RunBatch(embedding, [prompt], width, height, SupportsMaskInput ? previousLogits : null)[0];
    }

    /// <summary>One uncounted run with a click at the centre, so the first real click pays no session initialisation.</summary>
    public void WarmUp(ImageEmbedding embedding)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        int w = embedding.OriginalWidth, h = embedding.OriginalHeight;
        foreach (var mask in RunBatch(embedding, [new Prompt([new PromptPoint(w / 2f, h / 2f, true)])], w, h, null, count: false)) mask.Dispose();
    }

    /// <summary>One mask per prompt. onnx-community exports take several boxes in one run; the others, whose first axis is
    /// traced at 1, run once per prompt, side by side up to <see cref="DecoderOptions.Workers"/>.</summary>
    public MaskPrediction[] PredictMany(ImageEmbedding embedding, IReadOnlyList<Prompt> prompts, int width, int height)
    {
        foreach (var p in prompts) Validate(p, width, height);
        if (prompts.Count == 0) return [];
        using var interactive = Priority.EnterInteractive();
        if (prompts.Count == 1) return RunBatch(embedding, prompts, width, height, null);
        if (_schema.FourDimPoints && prompts.All(p => p.Points.Count == 0 && p.Box is not null))
            return RunBatch(embedding, prompts, width, height, null);

        var results = new MaskPrediction[prompts.Count];
        try
        {
            Parallel.For(0, prompts.Count, new ParallelOptions { MaxDegreeOfParallelism = _options.Workers },
                i => results[i] = RunBatch(embedding, [prompts[i]], width, height, null)[0]);
            return results;
        }
        catch
        {
            foreach (var r in results) r?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every candidate mask of each prompt (SAM2's multimask output: three with the exports this server loads), highest
    /// predicted IoU first; element [i][0] is what <see cref="PredictMany"/> gives for prompt i. Same runs as
    /// <see cref="PredictMany"/>. The caller disposes every mask.
    /// </summary>
    public MaskPrediction[][] PredictCandidates(ImageEmbedding embedding, IReadOnlyList<Prompt> prompts, int width, int height)
    {
        foreach (var p in prompts) Validate(p, width, height);
        if (prompts.Count == 0) return [];
        if (prompts.Count > 1 && _schema.FourDimPoints && prompts.All(p => p.Points.Count == 0 && p.Box is not null))
        {
            var flat = RunBatch(embedding, prompts, width, height, null, allCandidates: true);
            return flat.Chunk(flat.Length / prompts.Count).ToArray();
        }

        var results = new MaskPrediction[prompts.Count][];
        try
        {
            Parallel.For(0, prompts.Count, new ParallelOptions { MaxDegreeOfParallelism = _options.Workers },
                i => results[i] = RunBatch(embedding, [prompts[i]], width, height, null, allCandidates: true));
            return results;
        }
        catch
        {
            foreach (var r in results) foreach (var m in r ?? []) m.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        Priority.Dispose();
    }

    private static void Validate(Prompt prompt, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "mask size must be positive");
        if (prompt.Points.Count == 0 && prompt.Box is null) throw new ArgumentException("a prompt needs at least one point or a box", nameof(prompt));
    }

    private MaskPrediction[] RunBatch(ImageEmbedding embedding, IReadOnlyList<Prompt> prompts, int width, int height, ReadOnlyMemory<float>? previousLogits,
        bool count = true, bool allCandidates = false)
    {
        using var outputs = RunSession(embedding, prompts, width, height, previousLogits, count, CancellationToken.None);
        return Collect(outputs, prompts.Count, width, height, allCandidates);
    }

    /// <summary>
    /// One session run for <paramref name="prompts"/>: several only on onnx-community, as boxes (one box each, no points)
    /// or as point batches (no boxes, the same number of points each). Outputs are <see cref="Schema.Outputs"/> in order;
    /// the caller disposes them. Cancelling <paramref name="cancellationToken"/> terminates the run (ORT
    /// <c>RunOptions.Terminate</c>) and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="outputs">The outputs to compute, by name; null for <see cref="Schema.Outputs"/>. ORT runs only the nodes
    /// they need, so leaving out an <c>orig_im_size</c> export's full-size masks skips their upsampling.</param>
    private IDisposableReadOnlyCollection<OrtValue> RunSession(ImageEmbedding embedding, IReadOnlyList<Prompt> prompts, int width, int height,
        ReadOnlyMemory<float>? previousLogits, bool count, CancellationToken cancellationToken, string[]? outputs = null)
    {
        var s = _schema;
        var names = new List<string>(9);
        var values = new List<OrtValue>(9);
        try
        {
            Add(s.ImageEmbed, OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.ImageEmbed, Sam2Tensors.ImageEmbedShape.ToArray()));
            Add(s.HighRes0, OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats0, Sam2Tensors.HighResFeats0Shape.ToArray()));
            Add(s.HighRes1, OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.HighResFeats1, Sam2Tensors.HighResFeats1Shape.ToArray()));
            if (s.FourDimPoints) AddFourDimPrompts(prompts, width, height);
            else AddPointPrompt(prompts[0], width, height);
            if (s.MaskInput is not null)
            {
                var mask = previousLogits ?? s_noMask;
                Add(s.MaskInput, OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, MemoryMarshalFloat(mask), [1, 1, 256, 256]));
                Add(s.HasMaskInput!, OrtValue.CreateTensorValueFromMemory(new float[] { previousLogits is null ? 0f : 1f }, [1]));
            }
            if (s.OrigImSize is not null)
            {
                Add(s.OrigImSize, s.OrigImSizeType switch
                {
                    TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(new long[] { height, width }, [2]),
                    TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(new float[] { height, width }, [2]),
                    _ => OrtValue.CreateTensorValueFromMemory(new int[] { height, width }, [2]),
                });
            }

            using var runOptions = new RunOptions();
            cancellationToken.ThrowIfCancellationRequested();
            using var terminate = cancellationToken.CanBeCanceled
                ? cancellationToken.UnsafeRegister(static o => ((RunOptions)o!).Terminate = true, runOptions)
                : default;
            var start = Stopwatch.GetTimestamp();
            IDisposableReadOnlyCollection<OrtValue> results;
            try
            {
                results = _session.Run(runOptions, names, values, outputs ?? s.Outputs);
            }
            catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("the decoder run was terminated", cancellationToken);
            }
            if (count)
            {
                Interlocked.Increment(ref _runs);
                _metrics.Runs.Add(1);
                _metrics.StageSeconds.Record("decode", Stopwatch.GetElapsedTime(start));
            }
            return results;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }

        void Add(string name, OrtValue value)
        {
            names.Add(name);
            values.Add(value);
        }

        void AddPointPrompt(Prompt prompt, int w, int h)
        {
            var n = prompt.Points.Count + (prompt.Box is null ? 0 : 2);
            var coords = new float[n * 2];
            var labels = new float[n];
            var i = 0;
            // SAM2ImagePredictor._predict: box corners (labels 2, 3) come first, then the clicks.
            if (prompt.Box is { } box)
            {
                Put(coords, labels, i++, box.X0, box.Y0, 2f, w, h);
                Put(coords, labels, i++, box.X1, box.Y1, 3f, w, h);
            }
            foreach (var p in prompt.Points) Put(coords, labels, i++, p.X, p.Y, p.Positive ? 1f : 0f, w, h);
            Add(s.Coords, OrtValue.CreateTensorValueFromMemory(coords, [1, n, 2]));
            Add(s.Labels, Labels(labels, s.LabelType, [1, n]));
        }

        void AddFourDimPrompts(IReadOnlyList<Prompt> batch, int w, int h)
        {
            // onnx-community: points [1, PB, N, 2] (int64 labels), boxes [1, nb, 4]. One prompt: PB = 1. Boxes-only batches
            // send N = 0; point batches (no boxes, N points each, the automatic grid) send PB = batch size and no box.
            var pointBatch = batch.Count > 1 && batch.All(p => p.Box is null) ? batch : batch.Count == 1 ? batch : [];
            var perPrompt = pointBatch.Count == 0 ? 0 : pointBatch[0].Points.Count;
            if (pointBatch.Any(p => p.Points.Count != perPrompt))
                throw new ArgumentException("a batch of point prompts needs the same number of points in each", nameof(batch));
            var coords = new float[pointBatch.Count * perPrompt * 2];
            var labels = new float[pointBatch.Count * perPrompt];
            var k = 0;
            foreach (var p in pointBatch)
            {
                foreach (var point in p.Points) Put(coords, labels, k++, point.X, point.Y, point.Positive ? 1f : 0f, w, h);
            }
            var boxes = batch.Where(p => p.Box is not null).Select(p => p.Box!.Value).ToArray();
            var boxValues = new float[boxes.Length * 4];
            for (var i = 0; i < boxes.Length; i++)
            {
                boxValues[4 * i] = Transform(boxes[i].X0, w);
                boxValues[4 * i + 1] = Transform(boxes[i].Y0, h);
                boxValues[4 * i + 2] = Transform(boxes[i].X1, w);
                boxValues[4 * i + 3] = Transform(boxes[i].Y1, h);
            }
            Add(s.Coords, Tensor(coords, [1, Math.Max(pointBatch.Count, 1), perPrompt, 2]));
            Add(s.Labels, Labels(labels, s.LabelType, [1, Math.Max(pointBatch.Count, 1), perPrompt]));
            Add(s.Boxes!, Tensor(boxValues, [1, boxes.Length, 4]));
        }
    }

    /// <summary>(prompt, candidate) pairs to build: per prompt the highest-IoU candidate, or every candidate best first.</summary>
    private static (int Prompt, int Candidate)[] Pick(ReadOnlySpan<float> scores, int count, int candidates, bool allCandidates)
    {
        var picks = new (int, int)[allCandidates ? count * candidates : count];
        for (var k = 0; k < count; k++)
        {
            var kScores = scores.Slice(k * candidates, candidates);
            if (!allCandidates)
            {
                var best = 0;
                for (var m = 1; m < kScores.Length; m++)
                {
                    if (kScores[m] > kScores[best]) best = m;
                }
                picks[k] = (k, best);
                continue;
            }
            var order = Enumerable.Range(0, candidates).ToArray();
            var keys = kScores.ToArray();
            // Stable: equal scores keep the decoder's order.
            var sorted = order.OrderByDescending(m => keys[m]).ToArray();
            for (var m = 0; m < candidates; m++) picks[k * candidates + m] = (k, sorted[m]);
        }
        return picks;
    }

    private MaskPrediction[] Collect(IReadOnlyList<OrtValue> outputs, int count, int width, int height, bool allCandidates)
    {
        var s = _schema;
        var scores = outputs[0].GetTensorDataAsSpan<float>();
        var candidates = scores.Length / count;
        var picks = Pick(scores, count, candidates, allCandidates);
        var results = new MaskPrediction[picks.Length];
        for (var j = 0; j < picks.Length; j++)
        {
            var start = Stopwatch.GetTimestamp();
            var (k, best) = picks[j];
            var kScores = scores.Slice(k * candidates, candidates);

            var hasLowRes = s.LowResIndex >= 0;
            var result = new MaskPrediction(width, height, kScores[best], best, hasLowRes);
            results[j] = result;
            if (hasLowRes)
            {
                var all = outputs[s.LowResIndex].GetTensorDataAsSpan<float>();
                System.Numerics.Tensors.TensorPrimitives.Clamp(
                    all.Slice((k * candidates + best) * MaskPostprocessor.LowResLength, MaskPostprocessor.LowResLength), -32f, 32f, result.LowResBuffer);
            }

            // The full-resolution mask is produced when an output asks for it (MaskPrediction), from the kept logits.
            var fill = _options.MaxHoleArea > 0 || _options.MaxSprinkleArea > 0;
            if (s.FullResIndex >= 0 && !(fill && hasLowRes))
            {
                CopyFullRes(outputs[s.FullResIndex], (k * candidates + best), result.RentPixels());
            }
            else if (fill)
            {
                MaskPostprocessor.FillHolesAndSprinkles(result.RentFilledLogits(), _options.MaxHoleArea, _options.MaxSprinkleArea);
            }
            _metrics.StageSeconds.Record("postprocess", Stopwatch.GetElapsedTime(start));
        }
        return results;
    }

    private static void CopyFullRes(OrtValue masks, int index, Span<byte> destination)
    {
        var length = destination.Length;
        var info = masks.GetTensorTypeAndShape();
        if (info.ElementDataType == TensorElementType.Bool)
        {
            var bools = masks.GetTensorDataAsSpan<bool>().Slice(index * length, length);
            for (var i = 0; i < length; i++) destination[i] = bools[i] ? MaskPostprocessor.Foreground : (byte)0;
        }
        else
        {
            MaskPostprocessor.Threshold(masks.GetTensorDataAsSpan<float>().Slice(index * length, length), destination);
        }
    }

    // SAM2Transforms.transform_coords: x / W · 1024 in float32 (no +0.5: the exported graphs add it).
    private static float Transform(float value, int size) => value / size * Side;

    private static void Put(float[] coords, float[] labels, int i, float x, float y, float label, int w, int h)
    {
        coords[2 * i] = Transform(x, w);
        coords[2 * i + 1] = Transform(y, h);
        labels[i] = label;
    }

    private static OrtValue Tensor(float[] data, long[] shape) =>
        data.Length == 0
            ? OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape)
            : OrtValue.CreateTensorValueFromMemory(data, shape);

    private static OrtValue Labels(float[] labels, TensorElementType type, long[] shape)
    {
        if (labels.Length == 0) return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
        return type switch
        {
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(labels.Select(l => (long)l).ToArray(), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(labels.Select(l => (int)l).ToArray(), shape),
            _ => OrtValue.CreateTensorValueFromMemory(labels, shape),
        };
    }

    // ORT pins the memory for the run and never writes inputs, so handing it the read-only logits is safe.
    private static Memory<float> MemoryMarshalFloat(ReadOnlyMemory<float> memory) => System.Runtime.InteropServices.MemoryMarshal.AsMemory(memory);

    /// <summary>Names and conventions of one decoder export, read from its session.</summary>
    private sealed class Schema
    {
        public required string Format { get; init; }
        public required string ImageEmbed { get; init; }
        public required string HighRes0 { get; init; }
        public required string HighRes1 { get; init; }
        public required string Coords { get; init; }
        public required string Labels { get; init; }
        public required TensorElementType LabelType { get; init; }
        public required bool FourDimPoints { get; init; }
        public string? Boxes { get; init; }
        public string? MaskInput { get; init; }
        public string? HasMaskInput { get; init; }
        public string? OrigImSize { get; init; }
        public TensorElementType OrigImSizeType { get; init; }
        /// <summary>Requested outputs: scores first, then low-res and/or full-res masks.</summary>
        public required string[] Outputs { get; init; }
        public int LowResIndex { get; init; } = -1;
        public int FullResIndex { get; init; } = -1;

        public static Schema Detect(InferenceSession session, string path)
        {
            var inputs = session.InputMetadata;
            var outputs = session.OutputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
            string Need(IReadOnlyCollection<string> names, string what, params string[] candidates) =>
                candidates.FirstOrDefault(names.Contains)
                ?? throw new InvalidDataException($"'{path}' is not a SAM2 decoder this server knows: no {what} ({string.Join(" or ", candidates)}) among [{string.Join(", ", names)}].");
            string? Maybe(IReadOnlyCollection<string> names, params string[] candidates) => candidates.FirstOrDefault(names.Contains);

            var inputNames = inputs.Keys.ToList();
            var fourDim = inputs.ContainsKey("input_points");
            var coords = Need(inputNames, "point input", "point_coords", "input_points");
            var labels = Need(inputNames, "label input", "point_labels", "input_labels");
            var origImSize = Maybe(inputNames, "orig_im_size", "original_image_size");
            var scores = Need(outputs, "score output", "iou_predictions", "iou_scores", "scores");
            var masks = Need(outputs, "mask output", "masks", "pred_masks");
            var lowRes = Maybe(outputs, "low_res_masks", "low_res_mask") ?? (origImSize is null ? masks : null);
            var fullRes = origImSize is not null ? masks : null;
            var wanted = new List<string> { scores };
            if (lowRes is not null) wanted.Add(lowRes);
            if (fullRes is not null) wanted.Add(fullRes);
            return new Schema
            {
                Format = fourDim ? "onnx-community" : origImSize is not null ? "orig-im-size" : "samexporter",
                ImageEmbed = Need(inputNames, "image embedding input", [.. Sam2Tensors.ImageEmbedNames]),
                HighRes0 = Need(inputNames, "high-res feature input", [.. Sam2Tensors.HighResFeats0Names]),
                HighRes1 = Need(inputNames, "high-res feature input", [.. Sam2Tensors.HighResFeats1Names]),
                Coords = coords,
                Labels = labels,
                LabelType = inputs[labels].ElementDataType,
                FourDimPoints = fourDim,
                Boxes = fourDim ? Need(inputNames, "box input", "input_boxes") : null,
                MaskInput = Maybe(inputNames, "mask_input", "input_masks"),
                HasMaskInput = Maybe(inputNames, "has_mask_input", "has_input_masks"),
                OrigImSize = origImSize,
                OrigImSizeType = origImSize is null ? TensorElementType.Int32 : inputs[origImSize].ElementDataType,
                Outputs = wanted.ToArray(),
                LowResIndex = lowRes is null ? -1 : wanted.IndexOf(lowRes),
                FullResIndex = fullRes is null ? -1 : wanted.IndexOf(fullRes),
            };
        }
    }
}
