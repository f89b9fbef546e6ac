using System.Globalization;
using System.Text.Json;

namespace Sam2Interactive.Benchmarks;

/// <summary>Request bodies shaped as Label Studio 1.x sends them (docs/label-studio-protocol.md): a smart-keypoint click and a
/// TASKS_CREATED webhook.</summary>
internal static class LabelStudioBodies
{
    public const string LabelConfig = """
        <View>
          <Image name="image" value="$image"/>
          <BrushLabels name="tag" toName="image"><Label value="object"/></BrushLabels>
          <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="object"/></KeyPointLabels>
        </View>
        """;

    /// <summary>/predict body for one positive smart keypoint at pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public static string Click(string imageUri, long taskId, int width, int height, float x, float y)
    {
        var px = (x / width * 100).ToString("R", CultureInfo.InvariantCulture);
        var py = (y / height * 100).ToString("R", CultureInfo.InvariantCulture);
        var keypoint = $$"""{"id":"k{{taskId}}","from_name":"tag2","to_name":"image","type":"keypointlabels","origin":"manual","original_width":{{width}},"original_height":{{height}},"image_rotation":0,"value":{"x":{{px}},"y":{{py}},"width":0.3,"keypointlabels":["object"]},"is_positive":true}""";
        return "{\"tasks\":[" + Task(imageUri, taskId) + "],\"project\":\"1.1\",\"label_config\":" + JsonSerializer.Serialize(LabelConfig)
            + ",\"params\":{\"login\":null,\"password\":null,\"context\":{\"result\":[" + keypoint + "]}}}";
    }

    public static string TasksCreated(string imageUri, long taskId) =>
        "{\"action\":\"TASKS_CREATED\",\"tasks\":[" + Task(imageUri, taskId) + "],\"project\":{\"id\":1,\"label_config\":"
        + JsonSerializer.Serialize(LabelConfig) + "}}";

    private static string Task(string imageUri, long taskId) =>
        $$"""{"id":{{taskId}},"data":{"image":{{JsonSerializer.Serialize(imageUri)}}},"annotations":[],"drafts":[],"predictions":[]}""";
}
