using System.Buffers;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Decoder;

/// <summary>One of the masks the decoder gave for a prompt, before any choice: what the automatic generator filters.</summary>
internal sealed class DecoderCandidate : IDisposable
{
    private float[]? _logits;

    internal DecoderCandidate(int promptIndex, int maskIndex, float score, float[] rentedLogits)
    {
        PromptIndex = promptIndex;
        MaskIndex = maskIndex;
        Score = score;
        _logits = rentedLogits;
    }

    /// <summary>Index of the prompt in the call.</summary>
    public int PromptIndex { get; }

    /// <summary>Which of the export's masks this is (0..M−1).</summary>
    public int MaskIndex { get; }

    /// <summary>The predicted IoU.</summary>
    public float Score { get; }

    /// <summary>The 256×256 low-res logits as the export returned them (samexporter already clamps to ±32 in the graph;
    /// onnx-community does not). Valid until <see cref="Dispose"/>.</summary>
    public Span<float> Logits => (_logits ?? throw new ObjectDisposedException(nameof(DecoderCandidate))).AsSpan(0, MaskPostprocessor.LowResLength);

    /// <summary>This candidate as prompt <paramref name="promptIndex"/> of another call; the logits buffer moves to the
    /// result and this instance is left disposed.</summary>
    public DecoderCandidate Reindex(int promptIndex) =>
        new(promptIndex, MaskIndex, Score, Interlocked.Exchange(ref _logits, null) ?? throw new ObjectDisposedException(nameof(DecoderCandidate)));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _logits, null) is { } l) ArrayPool<float>.Shared.Return(l);
    }
}

public sealed partial class Sam2Decoder
{
    /// <summary>WORKERS: decoder runs at once.</summary>
    public int Workers => _options.Workers;

    /// <summary>Whether one run takes several point prompts (onnx-community); the other exports run one prompt per run.</summary>
    public bool BatchesPoints => _schema.FourDimPoints;

    /// <summary>Whether the export returns the 256×256 logits the automatic generator needs (every format except bool-mask
    /// exports without <c>low_res_masks</c>).</summary>
    public bool HasLowResLogits => _schema.LowResIndex >= 0;

    /// <summary>
    /// One counted session run for single-point positive prompts (SAM2AutomaticMaskGenerator's grid), returning the masks
    /// the decoder gave for each prompt: all of them with <paramref name="multimask"/>, else each prompt's highest-IoU
    /// mask (the ONNX exports always return their three multimask outputs; SAM2's single-mask token is not exported).
    /// Masks whose IoU is not greater than <paramref name="minScoreExclusive"/> are dropped before their logits are copied.
    /// </summary>
    /// <param name="points">One point per prompt, in pixels of the <paramref name="width"/>×<paramref name="height"/> frame.
    /// More than one only when <see cref="BatchesPoints"/>.</param>
    /// <param name="maskInput">The previous low-res logits for a one-point call (SAM2's m2m refinement), or null.</param>
    /// <param name="cancellationToken">Cancelling terminates the session run; <see cref="OperationCanceledException"/>.</param>
    /// <param name="returned">How many masks the decoder returned for all prompts, after the multimask choice and before
    /// the score filter.</param>
    /// <returns>Candidates in prompt order, then mask order; the caller disposes each.</returns>
    internal List<DecoderCandidate> PredictCandidates(ImageEmbedding embedding, IReadOnlyList<PromptPoint> points, int width, int height,
        ReadOnlyMemory<float>? maskInput, bool multimask, float? minScoreExclusive, out int returned, CancellationToken cancellationToken)
    {
        returned = 0;
        ArgumentNullException.ThrowIfNull(embedding);
        if (points.Count == 0) return [];
        if (points.Count > 1 && !BatchesPoints) throw new ArgumentException("this export runs one prompt per run", nameof(points));
        if (maskInput is not null && (points.Count > 1 || !SupportsMaskInput))
            throw new ArgumentException("a mask input needs a one-prompt call on an export with mask_input", nameof(maskInput));
        if (!HasLowResLogits) throw new InvalidOperationException($"the decoder '{Path}' returns no low-res logits; automatic masks need them");
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "frame size must be positive");

        var prompts = new Prompt[points.Count];
        for (var i = 0; i < prompts.Length; i++) prompts[i] = new Prompt([points[i]]);
        // Scores and low-res logits only: an orig_im_size export then skips its full-size masks (W×H floats per mask).
        using var outputs = RunSession(embedding, prompts, width, height, maskInput, count: true, cancellationToken,
            [_schema.Outputs[0], _schema.Outputs[_schema.LowResIndex]]);

        var scores = outputs[0].GetTensorDataAsSpan<float>();
        var perPrompt = scores.Length / prompts.Length;
        var logits = outputs[1].GetTensorDataAsSpan<float>();
        var results = new List<DecoderCandidate>(multimask ? scores.Length : prompts.Length);
        try
        {
            for (var p = 0; p < prompts.Length; p++)
            {
                var first = p * perPrompt;
                var best = first;
                for (var m = first + 1; m < first + perPrompt; m++)
                {
                    if (scores[m] > scores[best]) best = m;
                }
                for (var m = first; m < first + perPrompt; m++)
                {
                    if (!multimask && m != best) continue;
                    returned++;
                    if (minScoreExclusive is { } min && !(scores[m] > min)) continue;
                    var buffer = ArrayPool<float>.Shared.Rent(MaskPostprocessor.LowResLength);
                    logits.Slice(m * MaskPostprocessor.LowResLength, MaskPostprocessor.LowResLength).CopyTo(buffer);
                    results.Add(new DecoderCandidate(p, m - first, scores[m], buffer));
                }
            }
            return results;
        }
        catch
        {
            foreach (var c in results) c.Dispose();
            throw;
        }
    }
}
