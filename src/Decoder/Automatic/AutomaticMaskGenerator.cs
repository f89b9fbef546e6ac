using System.Diagnostics;
using System.Numerics.Tensors;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder.Automatic;

/// <summary>Encodes one crop of the image being processed; the caller owns the returned embedding's reference.</summary>
public delegate Task<ImageEmbedding> CropEncoder(CropBox crop, CancellationToken cancellationToken);

/// <summary>
/// SAM2AutomaticMaskGenerator (facebookresearch/sam2 <c>sam2/automatic_mask_generator.py</c>, <c>sam2/utils/amg.py</c>)
/// on this server's decoder: a grid of single positive points per crop, every mask the decoder gives for each, filtered by
/// predicted IoU and stability score, thresholded, boxes touching a crop edge dropped, duplicates removed by box NMS per
/// crop and then across crops. Same order of operations, comparisons and output order as SAM2; the deviations (all
/// forced by the ONNX exports or by not holding a full-size float tensor per candidate) are listed in
/// docs/automatic-masks.md.
/// </summary>
/// <remarks>
/// Decoder runs take background leases from <see cref="Sam2Decoder.Priority"/>: at most WORKERS at once, paused while a
/// click is decoding, and run again when a click preempts them. Each candidate's logits are upsampled to the crop size one
/// row at a time (<see cref="LogitRows"/>), so no full-size float array is allocated per candidate; masks are kept as runs.
/// </remarks>
public sealed class AutomaticMaskGenerator(Sam2Decoder decoder)
{
    /// <summary>Generates the masks of the image whose embedding is <paramref name="embedding"/> (the caller keeps its reference).</summary>
    /// <param name="encodeCrop">Encodes crops; required when <see cref="AutomaticMaskOptions.CropNLayers"/> &gt; 0.</param>
    /// <exception cref="ArgumentException">Invalid options, or options the export cannot run (use_m2m without mask_input).</exception>
    public async Task<AutomaticMaskResult> GenerateAsync(ImageEmbedding embedding, AutomaticMaskOptions options, CropEncoder? encodeCrop = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.UseM2m && !decoder.SupportsMaskInput)
            throw new ArgumentException($"use_m2m needs a decoder with a mask input; the {decoder.Format} export has none");
        if (!decoder.HasLowResLogits)
            throw new ArgumentException($"the decoder returns no low-res logits ({decoder.Format}); automatic masks need them");
        if (options.CropNLayers > 0 && encodeCrop is null)
            throw new ArgumentException("crop_n_layers > 0 needs the image to encode its crops", nameof(encodeCrop));

        var started = Stopwatch.GetTimestamp();
        int width = embedding.OriginalWidth, height = embedding.OriginalHeight;
        var grids = options.LayerGrids();
        var (crops, layers) = CropBoxes.Generate(width, height, options.CropNLayers, options.CropOverlapRatio);
        var run = new Run(decoder, options, width, height, cancellationToken);
        var all = new List<Kept>();
        try
        {
            for (var c = 0; c < crops.Count; c++)
            {
                var crop = crops[c];
                if (crop.IsWhole(width, height))
                {
                    all.AddRange(await run.ProcessCropAsync(embedding, crop, grids[layers[c]]).ConfigureAwait(false));
                    continue;
                }
                using var cropEmbedding = await encodeCrop!(crop, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref run.CropEncodes);
                all.AddRange(await run.ProcessCropAsync(cropEmbedding, crop, grids[layers[c]]).ConfigureAwait(false));
            }

            if (crops.Count > 1)
            {
                // Prefer masks from smaller crops: score 1 / area(crop) in float32, NMS on the image-frame boxes.
                var boxes = all.Select(k => k.ImageBox).ToArray();
                var scores = all.Select(k => 1f / ((long)k.Crop.Width * k.Crop.Height)).ToArray();
                all = Reorder(all, BoxNms.Keep(boxes, scores, options.CropNmsThresh));
            }

            var masks = all.Select(k => new AutomaticMask(k.Runs, k.Crop, width, height, k.PredictedIou, k.Stability, k.PointX, k.PointY)).ToList();
            var stats = new AutomaticMaskStats
            {
                Prompts = run.Prompts,
                DecoderRuns = run.DecoderRuns,
                CropEncodes = run.CropEncodes,
                Candidates = run.Candidates,
                AfterPredIou = run.AfterPredIou,
                AfterStability = run.AfterStability,
                AfterEdgeFilter = run.AfterEdgeFilter,
                Masks = masks.Count,
                Preempted = run.Preempted,
                Elapsed = Stopwatch.GetElapsedTime(started),
            };
            return new AutomaticMaskResult(width, height, masks, stats);
        }
        catch
        {
            foreach (var k in all) k.Runs.Dispose();
            throw;
        }
    }

    /// <summary>The items at <paramref name="keep"/>, in that order; the others are disposed.</summary>
    private static List<Kept> Reorder(List<Kept> items, int[] keep)
    {
        var kept = new bool[items.Count];
        var result = new List<Kept>(keep.Length);
        foreach (var i in keep)
        {
            kept[i] = true;
            result.Add(items[i]);
        }
        for (var i = 0; i < items.Count; i++)
        {
            if (!kept[i]) items[i].Runs.Dispose();
        }
        return result;
    }

    /// <summary>A mask that passed a batch's filters. Box and point are in the crop's frame until <see cref="Uncrop"/>.</summary>
    private sealed record Kept(MaskRuns Runs, CropBox Crop, float PredictedIou, float Stability, float PointX, float PointY)
    {
        /// <summary>The box in the image frame (<c>uncrop_boxes_xyxy</c>).</summary>
        public MaskBox ImageBox => Runs.Box.Offset(Crop.X0, Crop.Y0);

        /// <summary><c>uncrop_points</c>: float32 point plus the integer crop origin, in float32.</summary>
        public Kept Uncrop() => this with { PointX = PointX + Crop.X0, PointY = PointY + Crop.Y0 };
    }

    /// <summary>One generation: options, counters and the per-crop work.</summary>
    private sealed class Run(Sam2Decoder decoder, AutomaticMaskOptions options, int imageWidth, int imageHeight, CancellationToken cancellationToken)
    {
        public long Prompts;
        public long DecoderRuns;
        public int CropEncodes;
        public long Candidates;
        public long AfterPredIou;
        public long AfterStability;
        public long AfterEdgeFilter;
        public long Preempted;

        private readonly float _predIou = (float)options.PredIouThresh;
        private readonly float _stability = (float)options.StabilityScoreThresh;
        private readonly float _maskThreshold = (float)options.MaskThreshold;
        private readonly (float High, float Low) _stabilityThresholds = StabilityScore.Thresholds(options.MaskThreshold, options.StabilityScoreOffset);

        /// <summary><c>_process_crop</c>: the crop's grid in batches, then NMS within the crop, then back to the image frame.</summary>
        public async Task<List<Kept>> ProcessCropAsync(ImageEmbedding embedding, CropBox crop, double[] grid)
        {
            // points_for_image = grid * [w, h] in float64, then torch.as_tensor(..., dtype=float32).
            var points = new PromptPoint[grid.Length / 2];
            for (var k = 0; k < points.Length; k++)
            {
                points[k] = new PromptPoint((float)(grid[2 * k] * crop.Width), (float)(grid[2 * k + 1] * crop.Height), true);
            }
            Interlocked.Add(ref Prompts, points.Length);

            var perRun = decoder.BatchesPoints ? options.PointsPerBatch : 1;
            var runs = (points.Length + perRun - 1) / perRun;
            var results = new List<Kept>[runs];
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, runs),
                    new ParallelOptions { MaxDegreeOfParallelism = decoder.Workers, CancellationToken = cancellationToken },
                    async (r, _) =>
                    {
                        var batch = points.AsMemory(r * perRun, Math.Min(perRun, points.Length - r * perRun));
                        results[r] = await ProcessBatchAsync(embedding, crop, batch).ConfigureAwait(false);
                    }).ConfigureAwait(false);
            }
            catch
            {
                foreach (var list in results)
                {
                    if (list is null) continue;
                    foreach (var k in list) k.Runs.Dispose();
                }
                throw;
            }

            var data = results.SelectMany(r => r).ToList();
            // Remove duplicates within this crop: batched_nms on the crop-frame boxes, scored by predicted IoU.
            var keep = BoxNms.Keep(data.Select(k => k.Runs.Box).ToArray(), data.Select(k => k.PredictedIou).ToArray(), options.BoxNmsThresh);
            return Reorder(data, keep).Select(k => k.Uncrop()).ToList();
        }

        /// <summary><c>_process_batch</c>: one decoder run (or one per point), filters, threshold, box, edge filter.</summary>
        private async Task<List<Kept>> ProcessBatchAsync(ImageEmbedding embedding, CropBox crop, ReadOnlyMemory<PromptPoint> points)
        {
            var prompts = points.ToArray();
            // Without m2m the IoU filter runs before anything is copied; with m2m the refined IoU is filtered below.
            float? minScore = !options.UseM2m && options.PredIouThresh > 0 ? _predIou : null;
            var candidates = await DecodeAsync(embedding, prompts, crop, null, options.MultimaskOutput, minScore).ConfigureAwait(false);
            var kept = new List<Kept>();
            try
            {
                if (options.UseM2m)
                {
                    var refined = new List<DecoderCandidate>(candidates.Count);
                    try
                    {
                        foreach (var c in candidates)
                        {
                            // refine_with_m2m: the candidate's own clamped low-res logits as mask_input, multimask_output=False.
                            var input = new float[MaskPostprocessor.LowResLength];
                            TensorPrimitives.Clamp(c.Logits, -32f, 32f, input);
                            var one = await DecodeAsync(embedding, [prompts[c.PromptIndex]], crop, input, multimask: false, minScore: null).ConfigureAwait(false);
                            refined.Add(one[0].Reindex(c.PromptIndex));
                        }
                    }
                    catch
                    {
                        foreach (var r in refined) r.Dispose();
                        throw;
                    }
                    finally
                    {
                        foreach (var c in candidates) c.Dispose();
                    }
                    candidates = refined;
                    if (options.PredIouThresh > 0) candidates = Filter(candidates, c => c.Score > _predIou);
                }
                Interlocked.Add(ref AfterPredIou, candidates.Count);

                foreach (var c in candidates)
                {
                    // Background post-processing yields to clicks between candidates.
                    await decoder.Priority.WhenInteractiveIdleAsync(cancellationToken).ConfigureAwait(false);
                    if (Postprocess(c, crop, prompts[c.PromptIndex]) is { } k) kept.Add(k);
                }
                return kept;
            }
            catch
            {
                foreach (var k in kept) k.Runs.Dispose();
                throw;
            }
            finally
            {
                foreach (var c in candidates) c.Dispose();
            }
        }

        /// <summary>Stability score and filter, threshold, box and crop-edge filter for one candidate; null when dropped.</summary>
        private Kept? Postprocess(DecoderCandidate candidate, CropBox crop, PromptPoint point)
        {
            var logits = candidate.Logits;
            // SAM2ImagePredictor(max_hole_area=min_mask_region_area, max_sprinkle_area=min_mask_region_area) fills the
            // low-res logits before upsampling (SAM2Transforms.postprocess_masks).
            if (options.MinMaskRegionArea > 0) MaskPostprocessor.FillHolesAndSprinkles(logits, options.MinMaskRegionArea, options.MinMaskRegionArea);

            using var bounds = new LogitRows.Bounds(logits);
            var (high, low) = LogitRows.StabilityCounts(logits, bounds, crop.Width, crop.Height, _stabilityThresholds.High, _stabilityThresholds.Low);
            var stability = StabilityScore.FromCounts(high, low);
            if (options.StabilityScoreThresh > 0 && !(stability >= _stability)) return null;
            Interlocked.Increment(ref AfterStability);

            var runs = LogitRows.Binarize(logits, bounds, crop.Width, crop.Height, _maskThreshold);
            if (CropBoxes.IsNearCropEdge(runs.Box, crop, imageWidth, imageHeight))
            {
                runs.Dispose();
                return null;
            }
            Interlocked.Increment(ref AfterEdgeFilter);
            return new Kept(runs, crop, candidate.Score, stability, point.X, point.Y);
        }

        /// <summary>One decoder call under a background lease; preempted runs are run again.</summary>
        private async Task<List<DecoderCandidate>> DecodeAsync(ImageEmbedding embedding, PromptPoint[] prompts, CropBox crop, float[]? maskInput,
            bool multimask, float? minScore)
        {
            while (true)
            {
                using var lease = await decoder.Priority.EnterBackgroundAsync(cancellationToken).ConfigureAwait(false);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Token);
                try
                {
                    ReadOnlyMemory<float>? input = null;
                    if (maskInput is not null) input = maskInput;
                    var result = decoder.PredictCandidates(embedding, prompts, crop.Width, crop.Height, input, multimask, minScore, out var returned, linked.Token);
                    Interlocked.Increment(ref DecoderRuns);
                    // The m2m refinements replace masks already counted.
                    if (maskInput is null) Interlocked.Add(ref Candidates, returned);
                    return result;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref Preempted);
                }
            }
        }

        private static List<DecoderCandidate> Filter(List<DecoderCandidate> candidates, Func<DecoderCandidate, bool> keep)
        {
            var result = new List<DecoderCandidate>(candidates.Count);
            foreach (var c in candidates)
            {
                if (keep(c)) result.Add(c);
                else c.Dispose();
            }
            return result;
        }
    }
}
