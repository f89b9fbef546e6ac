using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
[Category("Fast")]
public sealed class LabelStudioJsonContextTests
{
    private static PredictRequest ReadPredict(string json) =>
        JsonSerializer.Deserialize(json, LabelStudioJsonContext.Default.PredictRequest)!;

    [Test]
    public void PredictRequest_CurrentInteractiveShape_ReadsContextItems()
    {
        var Body = LabelStudioBodies.InteractivePredict(LabelStudioSamples.KeyPointItem + "," + LabelStudioSamples.RectangleItem);

        var req = ReadPredict(Body);

        var items = req.Context!.Result!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(req.Project, Is.EqualTo("3.1746612998"));
            Assert.That(req.ProjectId, Is.EqualTo("3"));
            Assert.That(req.ModelVersion, Is.Null);
            Assert.That(req.Tasks!.Single().Id, Is.EqualTo(21));
            Assert.That(req.Tasks![0].GetDataString("image"), Is.EqualTo("/data/upload/2/abc.jpg"));
            Assert.That(req.LabelConfig, Does.Contain("<BrushLabels name=\"tag\""));
            Assert.That(req.Context.Event, Is.Null);
            Assert.That(items, Has.Count.EqualTo(2));
            Assert.That(items[0].Id, Is.EqualTo("fBWv1t0S2L"));
            Assert.That(items[0].FromName, Is.EqualTo("tag2"));
            Assert.That(items[0].ToName, Is.EqualTo("image"));
            Assert.That(items[0].Type, Is.EqualTo("keypointlabels"));
            Assert.That(items[0].OriginalWidth, Is.EqualTo(1080));
            Assert.That(items[0].OriginalHeight, Is.EqualTo(1080));
            Assert.That(items[0].ImageRotation, Is.Zero);
            Assert.That(items[0].IsPositive, Is.True);
            Assert.That(items[0].Value!.X, Is.EqualTo(49.44));
            Assert.That(items[0].Value!.Y, Is.EqualTo(59.97));
            Assert.That(items[0].Value!.KeyPointLabels, Is.EqualTo(new[] { "Banana" }));
            Assert.That(items[1].Type, Is.EqualTo("rectanglelabels"));
            Assert.That(items[1].IsPositive, Is.Null);
            Assert.That(items[1].Value!.Width, Is.EqualTo(30.1));
            Assert.That(items[1].Value!.Height, Is.EqualTo(25.7));
            Assert.That(items[1].Value!.Rotation, Is.Zero);
            Assert.That(items[1].Value!.RectangleLabels, Is.EqualTo(new[] { "Banana" }));
        }
    }

    [Test]
    public void PredictRequest_BatchShapeWithNullContext_HasNoContext()
    {
        var req = ReadPredict(LabelStudioSamples.BatchPredictBody);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(req.Params, Is.Not.Null);
            Assert.That(req.Context, Is.Null);
            Assert.That(req.Tasks!.Select(t => t.GetDataString("image")), Is.EqualTo(new[] { "s3://bucket/a.jpg", "/data/local-files/?d=dataset/b.png" }));
        }
    }

    [Test]
    public void PredictRequest_OlderShapeWithModelVersionAndNoParams_Reads()
    {
        var req = ReadPredict(LabelStudioSamples.OldPredictBody);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(req.ModelVersion, Is.EqualTo("0.0.1"));
            Assert.That(req.Project, Is.EqualTo("3"));
            Assert.That(req.Params, Is.Null);
            Assert.That(req.Context, Is.Null);
            Assert.That(req.Tasks!.Single().GetDataString("image"), Is.EqualTo("http://example.com/x.jpg"));
        }
    }

    [Test]
    public void PredictRequest_NewerProtocolItemWithEventAndValuePositive_Reads()
    {
        const string Body = """
            {"tasks":[{"id":1,"data":{"image":"/data/upload/1/a.png"}}],"project":"1.1",
             "params":{"context":{"event":"prewarm","result":[
               {"type":"keypointlabels","to_name":"image","original_width":10,"original_height":20,
                "value":{"x":1,"y":2,"positive":false},"is_positive":"1"}]}}}
            """;

        var ctx = ReadPredict(Body).Context!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ctx.Event, Is.EqualTo("prewarm"));
            Assert.That(ctx.Result![0].Value!.Positive, Is.False);
            Assert.That(ctx.Result![0].IsPositive, Is.True);
        }
    }

    [Test]
    public void PredictRequest_QuotedNaNLiteral_ReadsAsNaNForValidation()
    {
        const string Body = """{"params":{"context":{"result":[{"type":"keypointlabels","value":{"x":"NaN","y":"Infinity"}}]}}}""";

        var value = ReadPredict(Body).Context!.Result![0].Value!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(value.X, Is.NaN);
            Assert.That(value.Y, Is.EqualTo(double.PositiveInfinity));
        }
    }

    [Test]
    public void PredictRequest_BareNaNToken_IsAJsonError()
    {
        // Python's json.dumps writes bare NaN; System.Text.Json cannot read it, so the endpoint answers 400 from the JsonException.
        const string Body = """{"params":{"context":{"result":[{"type":"keypointlabels","value":{"x":NaN,"y":1}}]}}}""";

        Assert.That(() => ReadPredict(Body), Throws.InstanceOf<JsonException>());
    }

    [Test]
    public void SetupRequest_ExtraParamsAsObject_ReturnsObject()
    {
        const string Body = """
            {"project":"3.1746612998","schema":"<View/>","hostname":"http://localhost:8080","access_token":"abc","extra_params":{"threshold":0.5}}
            """;

        var req = JsonSerializer.Deserialize(Body, LabelStudioJsonContext.Default.SetupRequest)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(req.Project, Is.EqualTo("3.1746612998"));
            Assert.That(req.Schema, Is.EqualTo("<View/>"));
            Assert.That(req.Hostname, Is.EqualTo("http://localhost:8080"));
            Assert.That(req.AccessToken, Is.EqualTo("abc"));
            Assert.That(req.GetExtraParamsObject()!.Value.GetProperty("threshold").GetDouble(), Is.EqualTo(0.5));
        }
    }

    [Test]
    public void SetupRequest_ExtraParamsAsJsonString_ReturnsParsedObject()
    {
        const string Body = """{"project":"3.1","schema":"<View/>","extra_params":"{\"threshold\": 0.7}"}""";

        var req = JsonSerializer.Deserialize(Body, LabelStudioJsonContext.Default.SetupRequest)!;

        Assert.That(req.GetExtraParamsObject()!.Value.GetProperty("threshold").GetDouble(), Is.EqualTo(0.7));
    }

    [TestCase("""{"extra_params":null}""")]
    [TestCase("""{"extra_params":""}""")]
    [TestCase("""{}""")]
    public void SetupRequest_ExtraParamsMissingOrEmpty_ReturnsNull(string Body)
    {
        var req = JsonSerializer.Deserialize(Body, LabelStudioJsonContext.Default.SetupRequest)!;

        Assert.That(req.GetExtraParamsObject(), Is.Null);
    }

    [Test]
    public void SetupRequest_ExtraParamsNotJson_ThrowsValidationNamingField()
    {
        var req = JsonSerializer.Deserialize("""{"extra_params":"threshold=1"}""", LabelStudioJsonContext.Default.SetupRequest)!;

        Assert.That(() => req.GetExtraParamsObject(),
            Throws.TypeOf<LabelStudioValidationException>().With.Property("Field").EqualTo("extra_params"));
    }

    [Test]
    public void WebhookPayload_TasksCreated_ReadsTasksAndProject()
    {
        const string Body = """
            {"action":"TASKS_CREATED",
             "tasks":[{"id":21,"data":{"image":"/data/upload/2/abc.jpg"},"meta":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z",
                       "is_labeled":false,"overlap":1,"inner_id":1,"project":2,"file_upload":46}],
             "project":{"id":2,"title":"Fruit","label_config":"<View></View>","model_version":"","created_at":"2026-01-01T00:00:00Z","task_number":1}}
            """;

        var payload = JsonSerializer.Deserialize(Body, LabelStudioJsonContext.Default.WebhookPayload)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(payload.Action, Is.EqualTo("TASKS_CREATED"));
            Assert.That(payload.Tasks!.Single().Id, Is.EqualTo(21));
            Assert.That(payload.Tasks![0].GetDataString("image"), Is.EqualTo("/data/upload/2/abc.jpg"));
            Assert.That(payload.Project!.Id, Is.EqualTo(2));
            Assert.That(payload.Project.Title, Is.EqualTo("Fruit"));
            Assert.That(payload.Project.LabelConfig, Is.EqualTo("<View></View>"));
        }
    }

    [Test]
    public void WebhookPayload_ActionOnlyAndAnnotationEvent_Read()
    {
        var bare = JsonSerializer.Deserialize("""{"action":"PROJECT_UPDATED"}""", LabelStudioJsonContext.Default.WebhookPayload)!;
        var annotation = JsonSerializer.Deserialize(
            """{"action":"ANNOTATION_CREATED","task":{"id":9,"data":{"image":"gs://b/c.jpg"}},"annotation":{"id":1},"project":{"id":4}}""",
            LabelStudioJsonContext.Default.WebhookPayload)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bare.Action, Is.EqualTo("PROJECT_UPDATED"));
            Assert.That(bare.Tasks, Is.Null);
            Assert.That(annotation.Task!.Id, Is.EqualTo(9));
            Assert.That(annotation.Task.GetDataString("image"), Is.EqualTo("gs://b/c.jpg"));
            Assert.That(annotation.Project!.Id, Is.EqualTo(4));
        }
    }

    [Test]
    public void PredictResponse_BrushRegion_SerialisesExactWireShape()
    {
        var response = new PredictResponse
        {
            Results =
            [
                new PredictionResult
                {
                    Score = 0.93,
                    ModelVersion = "sam2.1_hiera_tiny",
                    Result =
                    [
                        new Region
                        {
                            Id = "a1b2", FromName = "tag", ToName = "image", OriginalWidth = 1080, OriginalHeight = 1080,
                            ImageRotation = 0, Score = 0.93,
                            Value = new BrushValue { Rle = new byte[] { 0, 0, 0, 4, 57, 27, 252, 127, 224 }, BrushLabels = ["Banana"] },
                        },
                    ],
                },
            ],
        };

        var json = JsonSerializer.Serialize(response, LabelStudioJsonContext.Default.PredictResponse);

        Assert.That(json, Is.EqualTo(
            """{"results":[{"result":[{"id":"a1b2","from_name":"tag","to_name":"image","type":"brushlabels","original_width":1080,"original_height":1080,"image_rotation":0,"value":{"format":"rle","rle":[0,0,0,4,57,27,252,127,224],"brushlabels":["Banana"]},"score":0.93,"readonly":false}],"score":0.93,"model_version":"sam2.1_hiera_tiny"}]}"""));
    }

    [Test]
    public void PredictResponse_PolygonRegion_SerialisesLabelStudiosPolygonShape()
    {
        var region = new Region
        {
            Id = "p1",
            FromName = "poly",
            ToName = "image",
            Type = "polygonlabels",
            OriginalWidth = 640,
            OriginalHeight = 480,
            Score = 0.9,
            Value = new PolygonValue { Points = [[12.5, 3.125], [50, 3.125], [50, 40.0001]], PolygonLabels = ["Banana"] },
        };

        var json = JsonSerializer.Serialize(new PredictResponse { Results = [new PredictionResult { ModelVersion = "m", Result = [region] }] },
            LabelStudioJsonContext.Default.PredictResponse);

        Assert.That(json, Is.EqualTo(
            """{"results":[{"result":[{"id":"p1","from_name":"poly","to_name":"image","type":"polygonlabels","original_width":640,"original_height":480,"image_rotation":0,"value":{"points":[[12.5,3.125],[50,3.125],[50,40.0001]],"closed":true,"polygonlabels":["Banana"]},"score":0.9,"readonly":false}],"score":0,"model_version":"m"}]}"""));
    }

    [Test]
    public void PredictResponse_UnlabeledControls_WriteNoLabelList()
    {
        Region[] regions =
        [
            new() { Id = "b", FromName = "b", ToName = "image", Type = "brush", Value = new BrushValue { Rle = new byte[] { 1, 2 }, BrushLabels = null } },
            new() { Id = "p", FromName = "p", ToName = "image", Type = "polygon", Value = new PolygonValue { Points = [[1, 2], [3, 4], [5, 6]], PolygonLabels = null } },
        ];

        var json = JsonSerializer.Serialize(new PredictResponse { Results = [new PredictionResult { ModelVersion = "m", Result = regions }] },
            LabelStudioJsonContext.Default.PredictResponse);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(json, Does.Contain("""
                "type":"brush","original_width":0,"original_height":0,"image_rotation":0,"value":{"format":"rle","rle":[1,2]},"score"
                """));
            Assert.That(json, Does.Contain("""
                "type":"polygon","original_width":0,"original_height":0,"image_rotation":0,"value":{"points":[[1,2],[3,4],[5,6]],"closed":true},"score"
                """));
        }
    }

    [Test]
    public void PredictResponse_RoundTrip_KeepsRleBytes()
    {
        var rle = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        var response = new PredictResponse
        {
            Results = [new PredictionResult { ModelVersion = "m", Result = [new Region { Id = "1", FromName = "t", ToName = "i", Value = new BrushValue { Rle = rle, BrushLabels = ["L"] } }] }],
        };

        // Responses are only written (region values are polymorphic without a discriminator): read the wire form back.
        using var back = JsonDocument.Parse(JsonSerializer.Serialize(response, LabelStudioJsonContext.Default.PredictResponse));
        var written = back.RootElement.GetProperty("results")[0].GetProperty("result")[0].GetProperty("value").GetProperty("rle")
            .EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();

        Assert.That(written, Is.EqualTo(rle));
    }

    [Test]
    public void SmallResponses_Serialise_AsLabelStudioReadsThem()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(JsonSerializer.Serialize(PredictResponse.Empty, LabelStudioJsonContext.Default.PredictResponse), Is.EqualTo("""{"results":[]}"""));
            Assert.That(JsonSerializer.Serialize(new SetupResponse { ModelVersion = "sam2.1_hiera_tiny" }, LabelStudioJsonContext.Default.SetupResponse),
                Is.EqualTo("""{"model_version":"sam2.1_hiera_tiny"}"""));
            Assert.That(JsonSerializer.Serialize(new VersionsResponse { Versions = ["a", "b"] }, LabelStudioJsonContext.Default.VersionsResponse),
                Is.EqualTo("""{"versions":["a","b"]}"""));
            Assert.That(JsonSerializer.Serialize(new HealthResponse { Status = "UP", ModelClass = "Sam2Interactive", Device = "cpu" }, LabelStudioJsonContext.Default.HealthResponse),
                Is.EqualTo("""{"status":"UP","model_class":"Sam2Interactive","device":"cpu"}"""));
        }
    }
}
