using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using NUnit.Framework;
using Sam2Interactive.StandIns;

namespace Sam2Interactive.Tests.StandIns;

/// <summary>
/// Runs the generated stand-ins in real ONNX Runtime sessions. Scene (1024×1024, RGB in [0,1], ImageNet-normalised):
/// grey background; square A red at x,y ∈ [256,512); square B orange-red at x ∈ [640,896), y ∈ [256,512) (colour
/// distance ≈ 0.67 from A, i.e. inside mask 1'S tolerance 1.0, outside mask 0'S 0.5); square C blue at x ∈ [256,512),
/// y ∈ [640,896). On the 256 grid a square [a,b) in pixels is cells [a/4, b/4).
/// </summary>
[TestFixture]
public sealed class StandInModelsTests
{
    private const int Grid = 256, Cells = Grid * Grid;

    private static readonly float[] s_mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] s_std = [0.229f, 0.224f, 0.225f];

    private static readonly (int X0, int Y0, int X1, int Y1) s_squareA = (256, 256, 512, 512);
    private static readonly (int X0, int Y0, int X1, int Y1) s_squareB = (640, 256, 896, 512);
    private static readonly (int X0, int Y0, int X1, int Y1) s_squareC = (256, 640, 512, 896);

    private static readonly float[] s_expectedIou = [0.80f, 0.93f, 0.87f];

    private string _root = "";
    private readonly Dictionary<StandInFormat, (string Encoder, string Decoder)> _paths = [];
    private readonly Dictionary<StandInFormat, Features> _features = [];
    private readonly Dictionary<StandInFormat, (string Encoder, string Decoder)> _realisticPaths = [];

    /// <summary>Encoder outputs for the scene, [1,32,256,256], [1,64,128,128], [1,256,64,64].</summary>
    private sealed record Features(float[] Feats0, float[] Feats1, float[] Embed);

    [OneTimeSetUp]
    public void GenerateAndEncode()
    {
        _root = Path.Combine(Path.GetTempPath(), "sam2i-standins-" + Guid.NewGuid().ToString("N"));
        var scene = Scene();
        foreach (var format in Enum.GetValues<StandInFormat>())
        {
            _paths[format] = StandInModels.Write(Path.Combine(_root, StandInModels.FolderName(format)), format);
            _features[format] = Encode(format, scene);
        }
    }

    [OneTimeTearDown]
    public void DeleteModels() => Directory.Delete(_root, recursive: true);

    // ---------------------------------------------------------------- signatures

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OnnxCommunity)]
    [TestCase(StandInFormat.OrigImSizeInt32)]
    [TestCase(StandInFormat.OrigImSizeInt64)]
    public void Write_EachFormat_SessionsExposeRealExportSignature(StandInFormat format)
    {
        var (encoderPath, decoderPath) = _paths[format];
        using var encoder = new InferenceSession(encoderPath);
        using var decoder = new InferenceSession(decoderPath);
        var community = format == StandInFormat.OnnxCommunity;
        var b = community ? -1 : 1;
        var f = typeof(float);

        (string, Type, int[])[] encoderInputs = [(community ? "pixel_values" : "image", f, [b, 3, 1024, 1024])];
        (string, Type, int[])[] encoderOutputs = community
            ? [("image_embeddings.0", f, [-1, 32, 256, 256]), ("image_embeddings.1", f, [-1, 64, 128, 128]), ("image_embeddings.2", f, [-1, 256, 64, 64])]
            : [("high_res_feats_0", f, [1, 32, 256, 256]), ("high_res_feats_1", f, [1, 64, 128, 128]), ("image_embed", f, [1, 256, 64, 64])];

        (string, Type, int[])[] decoderInputs;
        (string, Type, int[])[] decoderOutputs;
        if (community)
        {
            decoderInputs =
            [
                ("input_points", f, [-1, -1, -1, 2]), ("input_labels", typeof(long), [-1, -1, -1]), ("input_boxes", f, [-1, -1, 4]),
                ("image_embeddings.0", f, [-1, 32, 256, 256]), ("image_embeddings.1", f, [-1, 64, 128, 128]), ("image_embeddings.2", f, [-1, 256, 64, 64]),
            ];
            decoderOutputs = [("iou_scores", f, [-1, -1, 3]), ("pred_masks", f, [-1, -1, 3, 256, 256]), ("object_score_logits", f, [-1, -1, 1])];
        }
        else
        {
            List<(string, Type, int[])> inputs =
            [
                ("image_embed", f, [1, 256, 64, 64]), ("high_res_feats_0", f, [1, 32, 256, 256]), ("high_res_feats_1", f, [1, 64, 128, 128]),
                ("point_coords", f, [-1, -1, 2]), ("point_labels", f, [-1, -1]),
            ];
            if (format != StandInFormat.SamExporter)
            {
                inputs.Add(("orig_im_size", format == StandInFormat.OrigImSizeInt32 ? typeof(int) : typeof(long), [2]));
            }

            inputs.Add(("mask_input", f, [-1, 1, 256, 256]));
            inputs.Add(("has_mask_input", f, [-1]));
            decoderInputs = [.. inputs];
            decoderOutputs = format == StandInFormat.SamExporter
                ? [("masks", f, [-1, 3, 256, 256]), ("iou_predictions", f, [-1, 3])]
                : [("masks", f, [-1, 3, -1, -1]), ("iou_predictions", f, [-1, 3]), ("low_res_masks", f, [-1, 3, 256, 256])];
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Signature(encoder.InputNames, encoder.InputMetadata), Is.EqualTo(Describe(encoderInputs)), "encoder inputs");
            Assert.That(Signature(encoder.OutputNames, encoder.OutputMetadata), Is.EqualTo(Describe(encoderOutputs)), "encoder outputs");
            Assert.That(Signature(decoder.InputNames, decoder.InputMetadata), Is.EqualTo(Describe(decoderInputs)), "decoder inputs");
            Assert.That(Signature(decoder.OutputNames, decoder.OutputMetadata), Is.EqualTo(Describe(decoderOutputs)), "decoder outputs");
        }
    }

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OnnxCommunity)]
    [TestCase(StandInFormat.OrigImSizeInt32)]
    [TestCase(StandInFormat.OrigImSizeInt64)]
    public void Write_Realistic_SameSignatureAsSmallWithCostChainAndAttention(StandInFormat format)
    {
        var (encoderPath, decoderPath) = RealisticPaths(format);
        var (smallEncoderPath, smallDecoderPath) = _paths[format];
        using var encoder = new InferenceSession(encoderPath);
        using var decoder = new InferenceSession(decoderPath);
        using var smallEncoder = new InferenceSession(smallEncoderPath);
        using var smallDecoder = new InferenceSession(smallDecoderPath);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Signature(encoder.InputNames, encoder.InputMetadata), Is.EqualTo(Signature(smallEncoder.InputNames, smallEncoder.InputMetadata)));
            Assert.That(Signature(encoder.OutputNames, encoder.OutputMetadata), Is.EqualTo(Signature(smallEncoder.OutputNames, smallEncoder.OutputMetadata)));
            Assert.That(Signature(decoder.InputNames, decoder.InputMetadata), Is.EqualTo(Signature(smallDecoder.InputNames, smallDecoder.InputMetadata)));
            Assert.That(Signature(decoder.OutputNames, decoder.OutputMetadata), Is.EqualTo(Signature(smallDecoder.OutputNames, smallDecoder.OutputMetadata)));
            Assert.That(OpCount(encoderPath, "Conv"), Is.EqualTo(OpCount(smallEncoderPath, "Conv") + 170));
            Assert.That(OpCount(encoderPath, "Softmax"), Is.EqualTo(1), "the encoder's global attention");
            Assert.That(OpCount(decoderPath, "Conv"), Is.EqualTo(7));
        }
    }

    // Realistic runs cost what SAM2.1-tiny costs (encoder ≈ 4 s and ≈ 1 GiB, decoder ≈ 44 ms): the encoder runs once, in
    // the format whose graph the others share (they differ only in names and the batch dimension). Bit-identical outputs
    // mean every mask the tests above prove holds for the benchmarks' models too.
    [Test]
    public void Run_RealisticEncoder_OutputsBitIdenticalToSmall()
    {
        var realistic = Encode(RealisticPaths(StandInFormat.SamExporter).Encoder, StandInFormat.SamExporter, Scene());
        var small = _features[StandInFormat.SamExporter];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirstBitDifference(realistic.Feats0, small.Feats0), Is.EqualTo(-1), "high_res_feats_0: first element whose bits differ");
            Assert.That(FirstBitDifference(realistic.Feats1, small.Feats1), Is.EqualTo(-1), "high_res_feats_1: first element whose bits differ");
            Assert.That(FirstBitDifference(realistic.Embed, small.Embed), Is.EqualTo(-1), "image_embed: first element whose bits differ");
        }
    }

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OrigImSizeInt32)]
    [TestCase(StandInFormat.OrigImSizeInt64)]
    public void Run_RealisticDecoder_MasksAndScoresBitIdenticalToSmall(StandInFormat format)
    {
        // A positive click on C, a negative one on A, a box around C, and the previous-mask input: every term of the logits.
        (float, float, float)[] points = [(384, 768, 1), (300, 300, 0), (250, 634, 2), (518, 902, 3)];
        var previous = new float[Cells];
        for (var i = 0; i < Cells; i++) previous[i] = ((i % 7) - 3) * 0.5f;
        var (masks, iou) = Decode(format, points, previous, hasMask: 1f);
        var (realisticMasks, realisticIou) = Decode(format, points, previous, hasMask: 1f, decoderPath: RealisticPaths(format).Decoder);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirstBitDifference(realisticMasks, masks), Is.EqualTo(-1), "masks: first element whose bits differ");
            Assert.That(FirstBitDifference(realisticIou, iou), Is.EqualTo(-1), "iou_predictions: first element whose bits differ");
            Assert.That(MaskIou(realisticMasks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void Run_RealisticDecoderOnnxCommunity_MasksAndScoresBitIdenticalToSmall()
    {
        (float, float, long)[][] points = [[(384, 768, 1), (300, 300, 0)]];
        (float, float, float, float)[] boxes = [(250, 634, 518, 902)];
        var small = DecodeCommunity(points, boxes);
        var realistic = DecodeCommunity(points, boxes, RealisticPaths(StandInFormat.OnnxCommunity).Decoder);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirstBitDifference(realistic.Masks, small.Masks), Is.EqualTo(-1), "pred_masks: first element whose bits differ");
            Assert.That(FirstBitDifference(realistic.Iou, small.Iou), Is.EqualTo(-1), "iou_scores: first element whose bits differ");
            Assert.That(FirstBitDifference(realistic.ObjectScores, small.ObjectScores), Is.EqualTo(-1), "object_score_logits: first element whose bits differ");
            Assert.That(MaskIou(realistic.Masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
        }
    }

    /// <summary>The realistic pair of <paramref name="format"/>, written once per fixture.</summary>
    private (string Encoder, string Decoder) RealisticPaths(StandInFormat format)
    {
        if (!_realisticPaths.TryGetValue(format, out var paths))
        {
            paths = StandInModels.Write(Path.Combine(_root, "realistic-" + StandInModels.FolderName(format)), format, size: StandInSize.Realistic);
            _realisticPaths[format] = paths;
        }

        return paths;
    }

    /// <summary>Index of the first element whose bits differ, the shorter length when only the lengths differ, or -1 when
    /// the arrays are bit-identical.</summary>
    private static int FirstBitDifference(float[] actual, float[] expected)
    {
        var common = MemoryMarshal.Cast<float, int>(actual.AsSpan()).CommonPrefixLength(MemoryMarshal.Cast<float, int>(expected.AsSpan()));
        return common == actual.Length && common == expected.Length ? -1 : common;
    }

    private static int OpCount(string path, string opType)
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        return model.Graph.Node.Count(n => n.OpType == opType);
    }

    [Test]
    public void Write_SamExporterSymbolicDims_AreNamedLikeTheRealExport()
    {
        using var decoder = new InferenceSession(_paths[StandInFormat.SamExporter].Decoder);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(decoder.InputMetadata["point_coords"].SymbolicDimensions, Is.EqualTo(new[] { "num_labels", "num_points", "" }));
            Assert.That(decoder.InputMetadata["has_mask_input"].SymbolicDimensions, Is.EqualTo(new[] { "num_labels" }));
            Assert.That(decoder.OutputMetadata["masks"].SymbolicDimensions[0], Is.EqualTo("num_labels"));
        }
    }

    [Test]
    public void Write_OnnxCommunity_WeightsAreExternalAndLoadOnlyBesideTheirDataFile()
    {
        var (encoderPath, decoderPath) = _paths[StandInFormat.OnnxCommunity];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Path.GetRelativePath(_root, encoderPath), Is.EqualTo(Path.Combine("onnx-community", "onnx", "vision_encoder.onnx")));
            Assert.That(Path.GetRelativePath(_root, decoderPath), Is.EqualTo(Path.Combine("onnx-community", "onnx", "prompt_encoder_mask_decoder.onnx")));
            // Encoder convs: (32+64+256)·(3+1) floats; decoder: the two 65536-float cell-centre grids.
            Assert.That(new FileInfo(encoderPath + "_data").Length, Is.EqualTo((32 + 64 + 256) * 4 * sizeof(float)));
            Assert.That(new FileInfo(decoderPath + "_data").Length, Is.EqualTo(2 * Cells * sizeof(float)));
        }

        // Bytes alone (no directory to resolve "location" against) must not load.
        Assert.That(() => new InferenceSession(File.ReadAllBytes(decoderPath)).Dispose(), Throws.InstanceOf<OnnxRuntimeException>());
    }

    // ---------------------------------------------------------------- encoder

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OnnxCommunity)]
    public void Encoder_ConstantColour_Channels012CarryTheColourExactly(StandInFormat format)
    {
        float[] colour = [0.25f, -1.5f, 2.125f];
        var image = new float[3 * 1024 * 1024];
        for (var c = 0; c < 3; c++)
        {
            image.AsSpan(c * 1024 * 1024, 1024 * 1024).Fill(colour[c]);
        }

        var features = Encode(format, image);
        using (Assert.EnterMultipleScope())
        {
            foreach (var (data, side) in new[] { (features.Feats0, 256), (features.Feats1, 128), (features.Embed, 64) })
            {
                for (var c = 0; c < 3; c++)
                {
                    var plane = data.AsSpan(c * side * side, side * side).ToArray();
                    Assert.That(plane, Is.All.EqualTo(colour[c]), $"side {side} channel {c}");
                }

                // The fixed mix makes channel 3 differ from a plain copy.
                Assert.That(data[3 * side * side], Is.Not.EqualTo(colour[0]).And.Not.EqualTo(colour[1]).And.Not.EqualTo(colour[2]));
            }
        }
    }

    [Test]
    public void Encoder_Scene_Feats0IsTheFourByFourAverage()
    {
        var feats0 = _features[StandInFormat.SamExporter].Feats0;
        var scene = Scene();
        // Cell (r=64, c=64) is inside A: exactly A'S normalised red; cell (0,0) is background grey.
        using (Assert.EnterMultipleScope())
        {
            for (var c = 0; c < 3; c++)
            {
                Assert.That(feats0[(c * Cells) + (64 * Grid) + 64], Is.EqualTo(scene[(c * 1024 * 1024) + (256 * 1024) + 256]).Within(1e-6f));
                Assert.That(feats0[c * Cells], Is.EqualTo(scene[c * 1024 * 1024]).Within(1e-6f));
            }
        }
    }

    // ---------------------------------------------------------------- decoder (formats a / c)

    [TestCase(StandInFormat.SamExporter)]
    [TestCase(StandInFormat.OrigImSizeInt32)]
    [TestCase(StandInFormat.OrigImSizeInt64)]
    public void Decoder_PositiveClickInSquare_BestIouMaskCoversTheSquare(StandInFormat format)
    {
        var (masks, iou) = Decode(format, [(384, 768, 1)]);
        var best = ArgMax(iou.AsSpan(0, 3));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(iou, Is.EqualTo(s_expectedIou).Within(1e-6f));
            Assert.That(best, Is.EqualTo(1));
            Assert.That(MaskIou(masks, best, Cover(s_squareC)), Is.GreaterThanOrEqualTo(0.9));
            Assert.That(MaskIou(masks, best, Cover(s_squareC)), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void Decoder_ToleranceOrder_MaskZeroTightMaskOneTakesNearColour()
    {
        var (masks, _) = Decode(StandInFormat.SamExporter, [(300, 300, 1)]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MaskIou(masks, 0, Cover(s_squareA)), Is.EqualTo(1.0), "mask 0: A only");
            Assert.That(MaskIou(masks, 1, Cover(s_squareA, s_squareB)), Is.EqualTo(1.0), "mask 1: A and the near colour B");
        }
    }

    [Test]
    public void Decoder_NegativeClickOnNearColour_ExcludesIt()
    {
        var (masks, _) = Decode(StandInFormat.SamExporter, [(300, 300, 1), (700, 400, 0)]);
        Assert.That(MaskIou(masks, 1, Cover(s_squareA)), Is.EqualTo(1.0));
    }

    [Test]
    public void Decoder_BoxWithPositiveClick_MaskRestrictedToBox()
    {
        // Box over the left half of A (x ∈ [256,384)); without it mask 1 would be A ∪ B.
        var (masks, _) = Decode(StandInFormat.SamExporter, [(300, 400, 1), (256, 256, 2), (384, 512, 3)]);
        Assert.That(MaskIou(masks, 1, Cover((256, 256, 384, 512))), Is.EqualTo(1.0));
    }

    [Test]
    public void Decoder_BoxOnly_CentreColourSegmentsTheBoxedSquare()
    {
        var (masks, _) = Decode(StandInFormat.SamExporter, [(250, 634, 2), (518, 902, 3)]);
        Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
    }

    [Test]
    public void Decoder_PaddingPoint_IsIgnored()
    {
        var (masks, _) = Decode(StandInFormat.SamExporter, [(384, 768, 1), (0, 0, -1)]);
        Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
    }

    [Test]
    public void Decoder_HasMaskInput_AddsHalfTheMaskInput()
    {
        var previous = new float[Cells];
        for (var i = 0; i < Cells; i++)
        {
            previous[i] = (((i * 7919) % 13) - 6) * 0.5f;   // [-3, 3]
        }

        var (without, _) = Decode(StandInFormat.SamExporter, [(384, 768, 1)], previous, hasMask: 0f);
        var (with, _) = Decode(StandInFormat.SamExporter, [(384, 768, 1)], previous, hasMask: 1f);
        var compared = 0;
        var worst = 0.0;
        for (var m = 0; m < 3; m++)
        {
            for (var i = 0; i < Cells; i++)
            {
                var before = without[(m * Cells) + i];
                if (Math.Abs(before) + 1.5f >= 32f)
                {
                    continue;   // clipped at ±32 either way
                }

                compared++;
                worst = Math.Max(worst, Math.Abs(with[(m * Cells) + i] - before - (0.5 * previous[i])));
            }
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(compared, Is.GreaterThan(Cells), "most cells are unclipped");
            Assert.That(worst, Is.LessThan(1e-5));
        }
    }

    [Test]
    public void Decoder_TwoPromptSets_EachSetSegmentsItsOwnSquare()
    {
        // N = 2 (the real export is traced at 1, the stand-in also handles N > 1).
        var (masks, iou) = Decode(StandInFormat.SamExporter, [(384, 768, 1), (300, 300, 1)], sets: 2);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(iou, Has.Length.EqualTo(6));
            Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
            Assert.That(MaskIou(masks, 3, Cover(s_squareA)), Is.EqualTo(1.0));
        }
    }

    [TestCase(StandInFormat.OrigImSizeInt32, 480, 640)]
    [TestCase(StandInFormat.OrigImSizeInt64, 333, 1000)]
    public void Decoder_OrigImSize_FullMasksAreHalfPixelBilinearOfLowRes(StandInFormat format, int height, int width)
    {
        var features = _features[format];
        using var session = new InferenceSession(_paths[format].Decoder);
        using var sizeValue = format == StandInFormat.OrigImSizeInt32
            ? OrtValue.CreateTensorValueFromMemory(new[] { height, width }, [2])
            : OrtValue.CreateTensorValueFromMemory(new long[] { height, width }, [2]);
        var inputs = SamExporterInputs(features, [(384, 768, 1)], sets: 1, new float[Cells], 0f);
        inputs["orig_im_size"] = sizeValue;
        using var outputs = session.Run(new RunOptions(), inputs, ["masks", "iou_predictions", "low_res_masks"]);
        DisposeAll(inputs, except: sizeValue);

        var full = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var low = outputs[2].GetTensorDataAsSpan<float>().ToArray();
        var expected = BilinearHalfPixel(low, 3, height, width);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outputs[0].GetTensorTypeAndShape().Shape, Is.EqualTo(new long[] { 1, 3, height, width }));
            // ORT computes source coordinates in float; 1e-3 absorbs that at ±32 logits yet is far below the
            // 0.1-scale gaps between half_pixel and align_corners / asymmetric sampling.
            Assert.That(full, Is.EqualTo(expected).Within(1e-3f));
            Assert.That(MaskIou(low, 1, Cover(s_squareC)), Is.EqualTo(1.0));
        }
    }

    // ---------------------------------------------------------------- decoder (format b)

    [Test]
    public void DecoderOnnxCommunity_PointsOnly_SegmentsTheClickedSquare()
    {
        var (masks, iou, objectScores, k) = DecodeCommunity([[(384, 768, 1)]], []);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(k, Is.EqualTo(1));
            Assert.That(iou, Is.EqualTo(s_expectedIou).Within(1e-6f));
            Assert.That(objectScores, Is.EqualTo(new[] { 10f }));
            Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.GreaterThanOrEqualTo(0.9));
        }
    }

    [Test]
    public void DecoderOnnxCommunity_OneBoxNoPoints_SegmentsTheBoxedSquare()
    {
        var (masks, _, _, k) = DecodeCommunity([[]], [(250, 634, 518, 902)]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(k, Is.EqualTo(1));
            Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void DecoderOnnxCommunity_TwoBoxesNoPoints_GivesTwoMasksOnePerBox()
    {
        var (masks, iou, objectScores, k) = DecodeCommunity([[]], [(250, 250, 518, 518), (250, 634, 518, 902)]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(k, Is.EqualTo(2));
            Assert.That(iou, Is.EqualTo(s_expectedIou.Concat(s_expectedIou).ToArray()).Within(1e-6f));
            Assert.That(objectScores, Is.EqualTo(new[] { 10f, 10f }));
            Assert.That(MaskIou(masks, 1, Cover(s_squareA)), Is.EqualTo(1.0), "box 0 → A (B lies outside the box)");
            Assert.That(MaskIou(masks, 3 + 1, Cover(s_squareC)), Is.EqualTo(1.0), "box 1 → C");
        }
    }

    [Test]
    public void DecoderOnnxCommunity_PointsAndOneBox_BoxRestrictsAndPaddingIgnored()
    {
        var (masks, _, _, k) = DecodeCommunity([[(300, 400, 1), (700, 400, -10)]], [(256, 256, 384, 512)]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(k, Is.EqualTo(1));
            Assert.That(MaskIou(masks, 1, Cover((256, 256, 384, 512))), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void DecoderOnnxCommunity_TwoPointBatches_GivesOneMaskSetPerBatch()
    {
        var (masks, _, _, k) = DecodeCommunity([[(384, 768, 1)], [(300, 300, 1)]], []);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(k, Is.EqualTo(2));
            Assert.That(MaskIou(masks, 1, Cover(s_squareC)), Is.EqualTo(1.0));
            Assert.That(MaskIou(masks, 0 + 3, Cover(s_squareA)), Is.EqualTo(1.0), "batch 1, mask 0 → A only");
        }
    }

    // ---------------------------------------------------------------- determinism, speed

    [Test]
    public void Write_TwoGenerations_IdenticalBytesAndUnderOneSecondPerModel()
    {
        var first = Path.Combine(_root, "again-1");
        var second = Path.Combine(_root, "again-2");
        var slowest = TimeSpan.Zero;
        foreach (var format in Enum.GetValues<StandInFormat>())
        {
            var sw = Stopwatch.StartNew();
            StandInModels.Write(Path.Combine(first, StandInModels.FolderName(format)), format);
            slowest = sw.Elapsed > slowest ? sw.Elapsed : slowest;
            StandInModels.Write(Path.Combine(second, StandInModels.FolderName(format)), format);
        }

        var files = Directory.GetFiles(first, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(first, p)).Order().ToArray();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(files, Has.Length.EqualTo(10));
            foreach (var file in files)
            {
                Assert.That(File.ReadAllBytes(Path.Combine(second, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(first, file))), file);
            }

            Assert.That(slowest, Is.LessThan(TimeSpan.FromSeconds(2)), "one format = two models");
            TestContext.Out.WriteLine($"slowest Write (encoder + decoder): {slowest.TotalMilliseconds:F1} ms");
        }
    }

    [Test]
    [Explicit("Timing report for the stand-ins on this machine; prints to the test output.")]
    public void Sessions_RunTimes_Report()
    {
        var scene = Scene();
        foreach (var format in new[] { StandInFormat.SamExporter, StandInFormat.OnnxCommunity, StandInFormat.OrigImSizeInt32 })
        {
            var encode = Median(() => Encode(format, scene));
            var decode = format == StandInFormat.OnnxCommunity
                ? Median(() => DecodeCommunity([[(384, 768, 1)]], []))
                : Median(() => Decode(format, [(384, 768, 1)]));
            TestContext.Out.WriteLine($"{format}: encoder (incl. session load) {encode:F1} ms, decoder (incl. session load) {decode:F1} ms");
            Assert.That(encode + decode, Is.GreaterThan(0));
        }

        using var encoder = new InferenceSession(_paths[StandInFormat.SamExporter].Encoder);
        using var decoder = new InferenceSession(_paths[StandInFormat.SamExporter].Decoder);
        using var image = OrtValue.CreateTensorValueFromMemory(scene, [1, 3, 1024, 1024]);
        var encodeRun = Median(() => encoder.Run(new RunOptions(), new Dictionary<string, OrtValue> { ["image"] = image }, ["high_res_feats_0", "high_res_feats_1", "image_embed"]).Dispose());
        var inputs = SamExporterInputs(_features[StandInFormat.SamExporter], [(384, 768, 1)], sets: 1, new float[Cells], 0f);
        var decodeRun = Median(() => decoder.Run(new RunOptions(), inputs, ["masks", "iou_predictions"]).Dispose());
        DisposeAll(inputs, except: null);
        TestContext.Out.WriteLine($"SamExporter Run only: encoder {encodeRun:F1} ms, decoder {decodeRun:F1} ms (1 point)");
        Assert.That(decodeRun, Is.GreaterThan(0));

        var features = _features[StandInFormat.OnnxCommunity];
        using var community = new InferenceSession(_paths[StandInFormat.OnnxCommunity].Decoder);
        var communityInputs = new Dictionary<string, OrtValue>
        {
            ["input_points"] = OrtValue.CreateTensorValueFromMemory(new[] { 384f, 768f }, [1, 1, 1, 2]),
            ["input_labels"] = OrtValue.CreateTensorValueFromMemory(new[] { 1L }, [1, 1, 1]),
            ["input_boxes"] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, 0, 4]),
            ["image_embeddings.0"] = OrtValue.CreateTensorValueFromMemory(features.Feats0, [1, 32, 256, 256]),
            ["image_embeddings.1"] = OrtValue.CreateTensorValueFromMemory(features.Feats1, [1, 64, 128, 128]),
            ["image_embeddings.2"] = OrtValue.CreateTensorValueFromMemory(features.Embed, [1, 256, 64, 64]),
        };
        var communityRun = Median(() => community.Run(new RunOptions(), communityInputs, ["iou_scores", "pred_masks", "object_score_logits"]).Dispose());
        DisposeAll(communityInputs, except: null);
        TestContext.Out.WriteLine($"OnnxCommunity decoder Run only: {communityRun:F1} ms (1 point, no box)");

        static double Median(Action action)
        {
            var times = new double[7];
            for (var i = 0; i < times.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                action();
                times[i] = sw.Elapsed.TotalMilliseconds;
            }

            Array.Sort(times);
            return times[times.Length / 2];
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>The scene as normalised CHW float [3,1024,1024].</summary>
    private static float[] Scene()
    {
        const int S = 1024;
        var image = new float[3 * S * S];
        float[] grey = [0.5f, 0.5f, 0.5f], red = [1f, 0f, 0f], orange = [1f, 0.15f, 0f], blue = [0f, 0f, 1f];
        for (var y = 0; y < S; y++)
        {
            for (var x = 0; x < S; x++)
            {
                var rgb = Inside(s_squareA, x, y) ? red : Inside(s_squareB, x, y) ? orange : Inside(s_squareC, x, y) ? blue : grey;
                for (var c = 0; c < 3; c++)
                {
                    image[(c * S * S) + (y * S) + x] = (rgb[c] - s_mean[c]) / s_std[c];
                }
            }
        }

        return image;

        static bool Inside((int X0, int Y0, int X1, int Y1) r, int x, int y) => x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1;
    }

    private Features Encode(StandInFormat format, float[] image) => Encode(_paths[format].Encoder, format, image);

    private static Features Encode(string encoderPath, StandInFormat format, float[] image)
    {
        var community = format == StandInFormat.OnnxCommunity;
        using var session = new InferenceSession(encoderPath);
        using var input = OrtValue.CreateTensorValueFromMemory(image, [1, 3, 1024, 1024]);
        string[] names = community
            ? ["image_embeddings.0", "image_embeddings.1", "image_embeddings.2"]
            : ["high_res_feats_0", "high_res_feats_1", "image_embed"];
        using var outputs = session.Run(new RunOptions(), new Dictionary<string, OrtValue> { [community ? "pixel_values" : "image"] = input }, names);
        return new Features(
            outputs[0].GetTensorDataAsSpan<float>().ToArray(),
            outputs[1].GetTensorDataAsSpan<float>().ToArray(),
            outputs[2].GetTensorDataAsSpan<float>().ToArray());
    }

    /// <summary>
    /// Runs a format a/c decoder (the small one unless <paramref name="decoderPath"/> is given). <paramref name="points"/> are
    /// split evenly over <paramref name="sets"/> prompt sets.
    /// Returns low-res masks [sets,3,256,256] (low_res_masks for format c) and iou [sets,3].
    /// </summary>
    private (float[] Masks, float[] Iou) Decode(StandInFormat format, (float X, float Y, float Label)[] points,
        float[]? maskInput = null, float hasMask = 0f, int sets = 1, string? decoderPath = null)
    {
        using var session = new InferenceSession(decoderPath ?? _paths[format].Decoder);
        var inputs = SamExporterInputs(_features[format], points, sets, maskInput ?? new float[sets * Cells], hasMask);
        if (format != StandInFormat.SamExporter)
        {
            inputs["orig_im_size"] = format == StandInFormat.OrigImSizeInt32
                ? OrtValue.CreateTensorValueFromMemory(new[] { 1024, 1024 }, [2])
                : OrtValue.CreateTensorValueFromMemory(new long[] { 1024, 1024 }, [2]);
        }

        var masksName = format == StandInFormat.SamExporter ? "masks" : "low_res_masks";
        using var outputs = session.Run(new RunOptions(), inputs, [masksName, "iou_predictions"]);
        DisposeAll(inputs, except: null);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }

    private static Dictionary<string, OrtValue> SamExporterInputs(Features features, (float X, float Y, float Label)[] points,
        int sets, float[] maskInput, float hasMask)
    {
        var perSet = points.Length / sets;
        var coords = points.SelectMany(p => new[] { p.X, p.Y }).ToArray();
        var labels = points.Select(p => p.Label).ToArray();
        var gate = Enumerable.Repeat(hasMask, sets).ToArray();
        return new Dictionary<string, OrtValue>
        {
            ["image_embed"] = OrtValue.CreateTensorValueFromMemory(features.Embed, [1, 256, 64, 64]),
            ["high_res_feats_0"] = OrtValue.CreateTensorValueFromMemory(features.Feats0, [1, 32, 256, 256]),
            ["high_res_feats_1"] = OrtValue.CreateTensorValueFromMemory(features.Feats1, [1, 64, 128, 128]),
            ["point_coords"] = OrtValue.CreateTensorValueFromMemory(coords, [sets, perSet, 2]),
            ["point_labels"] = OrtValue.CreateTensorValueFromMemory(labels, [sets, perSet]),
            ["mask_input"] = OrtValue.CreateTensorValueFromMemory(maskInput, [sets, 1, 256, 256]),
            ["has_mask_input"] = OrtValue.CreateTensorValueFromMemory(gate, [sets]),
        };
    }

    /// <summary>Runs the format b decoder (the small one unless <paramref name="decoderPath"/> is given) with B = 1. Every point
    /// batch must have the same number of points.</summary>
    private (float[] Masks, float[] Iou, float[] ObjectScores, long K) DecodeCommunity(
        (float X, float Y, long Label)[][] pointBatches, (float X0, float Y0, float X1, float Y1)[] boxes, string? decoderPath = null)
    {
        var features = _features[StandInFormat.OnnxCommunity];
        var perBatch = pointBatches[0].Length;
        var all = pointBatches.SelectMany(b => b).ToArray();
        using var session = new InferenceSession(decoderPath ?? _paths[StandInFormat.OnnxCommunity].Decoder);
        var inputs = new Dictionary<string, OrtValue>
        {
            ["input_points"] = OrtValue.CreateTensorValueFromMemory(all.SelectMany(p => new[] { p.X, p.Y }).ToArray(), [1, pointBatches.Length, perBatch, 2]),
            ["input_labels"] = OrtValue.CreateTensorValueFromMemory(all.Select(p => p.Label).ToArray(), [1, pointBatches.Length, perBatch]),
            ["input_boxes"] = OrtValue.CreateTensorValueFromMemory(boxes.SelectMany(b => new[] { b.X0, b.Y0, b.X1, b.Y1 }).ToArray(), [1, boxes.Length, 4]),
            ["image_embeddings.0"] = OrtValue.CreateTensorValueFromMemory(features.Feats0, [1, 32, 256, 256]),
            ["image_embeddings.1"] = OrtValue.CreateTensorValueFromMemory(features.Feats1, [1, 64, 128, 128]),
            ["image_embeddings.2"] = OrtValue.CreateTensorValueFromMemory(features.Embed, [1, 256, 64, 64]),
        };
        using var outputs = session.Run(new RunOptions(), inputs, ["iou_scores", "pred_masks", "object_score_logits"]);
        DisposeAll(inputs, except: null);
        var shape = outputs[1].GetTensorTypeAndShape().Shape;
        Assert.That(shape, Is.EqualTo(new[] { 1, shape[1], 3, 256, 256 }));
        return (outputs[1].GetTensorDataAsSpan<float>().ToArray(), outputs[0].GetTensorDataAsSpan<float>().ToArray(),
            outputs[2].GetTensorDataAsSpan<float>().ToArray(), shape[1]);
    }

    private static void DisposeAll(Dictionary<string, OrtValue> values, OrtValue? except)
    {
        foreach (var value in values.Values)
        {
            if (!ReferenceEquals(value, except))
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Expected 256-grid mask: cells whose 4×4 pixel block lies in any of the pixel rectangles.</summary>
    private static bool[] Cover(params (int X0, int Y0, int X1, int Y1)[] rects)
    {
        var mask = new bool[Cells];
        foreach (var (x0, y0, x1, y1) in rects)
        {
            for (var r = y0 / 4; r < y1 / 4; r++)
            {
                for (var c = x0 / 4; c < x1 / 4; c++)
                {
                    mask[(r * Grid) + c] = true;
                }
            }
        }

        return mask;
    }

    /// <summary>IoU of (logits of 256×256 plane <paramref name="plane"/> &gt; 0) with <paramref name="expected"/>.</summary>
    private static double MaskIou(float[] masks, int plane, bool[] expected)
    {
        int intersection = 0, union = 0;
        for (var i = 0; i < Cells; i++)
        {
            var on = masks[(plane * Cells) + i] > 0f;
            intersection += on && expected[i] ? 1 : 0;
            union += on || expected[i] ? 1 : 0;
        }

        return union == 0 ? 1.0 : (double)intersection / union;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    /// <summary>PyTorch F.interpolate(bilinear, align_corners=False, antialias=False) of [planes,256,256] to (h, w).</summary>
    private static float[] BilinearHalfPixel(float[] low, int planes, int h, int w)
    {
        var result = new float[planes * h * w];
        for (var p = 0; p < planes; p++)
        {
            for (var y = 0; y < h; y++)
            {
                var sy = Math.Max(((y + 0.5) * Grid / h) - 0.5, 0);
                var y0 = Math.Min((int)sy, Grid - 1);
                var y1 = Math.Min(y0 + 1, Grid - 1);
                var fy = sy - y0;
                for (var x = 0; x < w; x++)
                {
                    var sx = Math.Max(((x + 0.5) * Grid / w) - 0.5, 0);
                    var x0 = Math.Min((int)sx, Grid - 1);
                    var x1 = Math.Min(x0 + 1, Grid - 1);
                    var fx = sx - x0;
                    double At(int yy, int xx) => low[(p * Cells) + (yy * Grid) + xx];
                    var top = (At(y0, x0) * (1 - fx)) + (At(y0, x1) * fx);
                    var bottom = (At(y1, x0) * (1 - fx)) + (At(y1, x1) * fx);
                    result[(p * h * w) + (y * w) + x] = (float)((top * (1 - fy)) + (bottom * fy));
                }
            }
        }

        return result;
    }

    private static (string Name, string Type, string Dims)[] Signature(IReadOnlyList<string> names, IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. names.Select(n => (n, metadata[n].ElementType.Name, string.Join(",", metadata[n].Dimensions)))];

    private static (string Name, string Type, string Dims)[] Describe((string Name, Type Type, int[] Dims)[] expected) =>
        [.. expected.Select(e => (e.Name, e.Type.Name, string.Join(",", e.Dims)))];
}
