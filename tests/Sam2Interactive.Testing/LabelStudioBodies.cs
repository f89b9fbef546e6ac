using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using SkiaSharp;

namespace Sam2Interactive.Testing;

/// <summary>
/// Request bodies shaped as Label Studio 1.x sends them (docs/label-studio-protocol.md §1.2 /predict, §2 webhooks), for a
/// W×H image: context items (smart keypoints, rectangles) and whole bodies. Numbers are written with the invariant
/// culture and strings JSON-escaped, so every body is valid JSON whatever the current culture (a comma-decimal culture
/// such as de-DE used to turn <c>"x":12.5</c> into <c>"x":12,5</c>). The verbatim protocol samples are in
/// <see cref="LabelStudioSamples"/>.
/// </summary>
internal static class LabelStudioBodies
{
    /// <summary>The project value current Label Studio sends in /predict: "{id}.{label config timestamp}".</summary>
    public const string Project = "3.1746612998";

    /// <summary>The smallest config that turns a smart keypoint into a brush region, labelled "object" (the benchmarks' config).</summary>
    public const string CompactLabelConfig = """
        <View>
          <Image name="image" value="$image"/>
          <BrushLabels name="tag" toName="image"><Label value="object"/></BrushLabels>
          <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="object"/></KeyPointLabels>
        </View>
        """;

    // Escapes what JSON requires and nothing more, so bodies read as Label Studio writes them ("<View>", not "\u003CView\u003E").
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON string literal of <paramref name="value"/>, quotes included.</summary>
    public static string Json(string value) => JsonSerializer.Serialize(value, s_json);

    /// <summary>A smart keypoint at pixel (<paramref name="px"/>, <paramref name="py"/>) of a <paramref name="w"/>×<paramref name="h"/>
    /// image; <paramref name="positive"/> null leaves <c>is_positive</c> out, as older Label Studio does.</summary>
    public static string KeyPoint(float px, float py, bool? positive, int w, int h, string label = "defect", string? id = null)
    {
        var isPositive = positive switch { null => "", true => ",\"is_positive\":true", false => ",\"is_positive\":false" };
        return string.Create(CultureInfo.InvariantCulture,
            $$$"""{"id":{{{Json(id ?? NewId())}}},"from_name":"tag2","to_name":"image","type":"keypointlabels","origin":"manual","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{px / w * 100}}},"y":{{{py / h * 100}}},"width":0.3,"keypointlabels":[{{{Json(label)}}}]}{{{isPositive}}}}""");
    }

    /// <summary>A smart rectangle around <paramref name="r"/> (pixels), grown by <paramref name="pad"/> on every side.</summary>
    public static string Rectangle(SKRect r, int w, int h, float pad = 5, double rotation = 0, string label = "defect", string? id = null) =>
        RectanglePercent((r.Left - pad) / w * 100, (r.Top - pad) / h * 100, (r.Width + 2 * pad) / w * 100, (r.Height + 2 * pad) / h * 100,
            w, h, rotation, label, id);

    /// <summary>A smart rectangle given as Label Studio stores it: top-left corner and size in percent of the image, rotated
    /// by <paramref name="rotation"/> degrees around that corner.</summary>
    public static string RectanglePercent(float x, float y, float width, float height, int w, int h, double rotation = 0, string label = "defect",
        string? id = null) =>
        string.Create(CultureInfo.InvariantCulture,
            $$$"""{"id":{{{Json(id ?? NewId())}}},"from_name":"tag3","to_name":"image","type":"rectanglelabels","origin":"manual","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{x}}},"y":{{{y}}},"width":{{{width}}},"height":{{{height}}},"rotation":{{{rotation}}},"rectanglelabels":[{{{Json(label)}}}]}}""");

    /// <summary>An interactive /predict body (context with <paramref name="items"/>, comma-separated context items) or, with
    /// null, a task-open body (context null). The label config defaults to the seed's (<see cref="LabelStudioSamples.SeedLabelConfig"/>).</summary>
    public static string Predict(string image, string? items, string? labelConfig = null, long taskId = 21)
    {
        var context = items is null ? "null" : "{\"result\":[" + items + "]}";
        return string.Create(CultureInfo.InvariantCulture,
            $$$"""{"tasks":[{"id":{{{taskId}}},"data":{"image":{{{Json(image)}}}},"annotations":[],"drafts":[],"predictions":[]}],"project":"{{{Project}}}","label_config":{{{Json(labelConfig ?? LabelStudioSamples.SeedLabelConfig)}}},"params":{"login":null,"password":null,"context":{{{context}}}}}""");
    }

    /// <summary>One positive smart keypoint at pixel (<paramref name="x"/>, <paramref name="y"/>) as a whole /predict body.</summary>
    public static string Click(string image, float x, float y, int w, int h, long taskId = 21, string? labelConfig = null, string label = "defect") =>
        Predict(image, KeyPoint(x, y, true, w, h, label), labelConfig, taskId);

    /// <summary>A current-LS interactive /predict body (§1.2) whose task carries an annotation, a draft and an empty prediction list,
    /// as Label Studio sends them, around <paramref name="contextResultItems"/>.</summary>
    public static string InteractivePredict(string contextResultItems, string labelConfig = LabelStudioSamples.BananaLabelConfig) => $$"""
        { "tasks": [ {"id": 21, "data": {"image": "/data/upload/2/abc.jpg"}, "meta": {}, "inner_id": 1, "project": 3,
                      "annotations": [ {"id": 7, "result": [ {"id":"x","type":"brushlabels","from_name":"tag","to_name":"image",
                          "value": {"format":"rle","rle":[0,0,0,4,57,27,252,127,224],"brushlabels":["Banana"]} } ]} ],
                      "drafts": [ {"id": 1, "result": [], "user": "a@b.c"} ],
                      "predictions": [] } ],
          "project": "{{Project}}",
          "label_config": {{Json(labelConfig)}},
          "params": { "login": null, "password": null, "context": {"result": [ {{contextResultItems}} ]} }
        }
        """;

    /// <summary>The prompt UI's configuration (§7): one BitmaskLabels control on the Image.</summary>
    public const string BitmaskLabelConfig = """
        <View>
          <BitmaskLabels name="tag" toName="image"><Label value="defect"/></BitmaskLabels>
          <Image name="image" value="$image"/>
        </View>
        """;

    /// <summary>A prompt-UI click (§7) at pixel (<paramref name="px"/>, <paramref name="py"/>) of a W×H image: percent
    /// only, <c>value.positive</c>, no id, names, labels or original size.</summary>
    public static string PromptPoint(float px, float py, bool positive, int w, int h) =>
        string.Create(CultureInfo.InvariantCulture,
            $$$"""{"type":"keypointlabels","value":{"x":{{{px / w * 100}}},"y":{{{py / h * 100}}},"positive":{{{(positive ? "true" : "false")}}}}}""");

    /// <summary>A prompt-UI box (§7) given in percent of the image: top-left corner and size.</summary>
    public static string PromptBox(float x, float y, float width, float height) =>
        string.Create(CultureInfo.InvariantCulture, $$$"""{"type":"rectanglelabels","value":{"x":{{{x}}},"y":{{{y}}},"width":{{{width}}},"height":{{{height}}}}}""");

    /// <summary>
    /// A /predict body as Label Studio forwards a prompt-UI call (§7): the usual task, project and label config, with
    /// <c>params.context</c> = <c>{"event":…}</c> (when <paramref name="event"/> is set) and/or <c>{"result":[items]}</c>.
    /// </summary>
    public static string PromptUi(string image, string? @event, string? items, string labelConfig = BitmaskLabelConfig, long taskId = 21)
    {
        var parts = new List<string>(2);
        if (@event is not null) parts.Add("\"event\":" + Json(@event));
        if (items is not null) parts.Add("\"result\":[" + items + "]");
        return string.Create(CultureInfo.InvariantCulture,
            $$$"""{"tasks":[{"id":{{{taskId}}},"data":{"image":{{{Json(image)}}}},"annotations":[],"drafts":[],"predictions":[]}],"project":"{{{Project}}}","label_config":{{{Json(labelConfig)}}},"params":{"login":null,"password":null,"context":{{{"{" + string.Join(",", parts) + "}"}}}}}""");
    }

    /// <summary>A TASKS_CREATED webhook (§2) for the given tasks of project 3.</summary>
    public static string Webhook(params (long Id, string Image)[] tasks) => WebhookBody(null, tasks);

    /// <summary>A TASKS_CREATED webhook whose project carries its label config, as Label Studio sends it.</summary>
    public static string Webhook(string labelConfig, params (long Id, string Image)[] tasks) => WebhookBody(labelConfig, tasks);

    private static string WebhookBody(string? labelConfig, (long Id, string Image)[] tasks)
    {
        var items = string.Join(",", tasks.Select(t => string.Create(CultureInfo.InvariantCulture, $$$"""{"id":{{{t.Id}}},"data":{"image":{{{Json(t.Image)}}}}}""")));
        var config = labelConfig is null ? "" : ",\"label_config\":" + Json(labelConfig);
        return "{\"action\":\"TASKS_CREATED\",\"tasks\":[" + items + "],\"project\":{\"id\":3" + config + "}}";
    }

    private static string NewId() => Guid.NewGuid().ToString("N");
}
