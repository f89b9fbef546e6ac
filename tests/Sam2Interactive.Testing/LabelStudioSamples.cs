namespace Sam2Interactive.Testing;

/// <summary>Configs, context items and bodies verbatim as docs/label-studio-protocol.md §1.2 / §1.3 / §2 and the seed's README show
/// them. Bodies built from parts are in <see cref="LabelStudioBodies"/>.</summary>
internal static class LabelStudioSamples
{
    /// <summary>The seed's (segment_anything_2_image) labeling config: Style, nested Views, controls before the Image.</summary>
    public const string SeedLabelConfig = """
        <View>
        <Style>
          .main { font-family: Arial, sans-serif; background-color: #f5f5f5; margin: 0; padding: 20px; }
          .container { display: flex; justify-content: space-between; margin-bottom: 20px; }
          .column { flex: 1; padding: 10px; background-color: #fff; border-radius: 5px; text-align: center; }
          .image-container { width: 100%; height: 300px; background-color: #ddd; border-radius: 5px; }
        </Style>
        <View className="main">
          <View className="container">
            <View className="column">
              <View className="title">Choose Label</View>
              <View className="label">
                <BrushLabels name="tag" toName="image">


                <Label value="defect" background="#FFA39E"/></BrushLabels>
              </View>
            </View>
            <View className="column">
              <View className="title">Use Keypoint</View>
              <View className="label">
                <KeyPointLabels name="tag2" toName="image" smart="true">


                <Label value="defect" background="#250dd3"/></KeyPointLabels>
              </View>
            </View>
            <View className="column">
              <View className="title">Use Rectangle</View>
              <View className="label">
                <RectangleLabels name="tag3" toName="image" smart="true">


                <Label value="defect" background="#FFC069"/></RectangleLabels>
              </View>
            </View>
          </View>
          <View className="image-container">
            <Image name="image" value="$image" zoom="true" zoomControl="true"/>
          </View>
        </View>
        </View>
        """;

    /// <summary>A config whose labels match the protocol doc's "Banana" examples.</summary>
    public const string BananaLabelConfig = """
        <View>
          <Image name="image" value="$image"/>
          <BrushLabels name="tag" toName="image"><Label value="Apple"/><Label value="Banana"/></BrushLabels>
          <KeyPointLabels name="tag2" toName="image" smart="true"><Label value="Banana"/><Label value="Pear"/></KeyPointLabels>
          <RectangleLabels name="tag3" toName="image" smartOnly="true"><Label value="Banana"/></RectangleLabels>
        </View>
        """;

    /// <summary>The keypoint context item of docs/label-studio-protocol.md §1.2, verbatim.</summary>
    public const string KeyPointItem = """
        {"id":"fBWv1t0S2L","from_name":"tag2","to_name":"image","type":"keypointlabels","origin":"manual",
         "original_width":1080,"original_height":1080,"image_rotation":0,
         "value":{"x":49.44,"y":59.97,"width":0.32,"keypointlabels":["Banana"],"labels":["Banana"]},
         "is_positive":true}
        """;

    /// <summary>The rectangle context item of docs/label-studio-protocol.md §1.2 (id filled in).</summary>
    public const string RectangleItem = """
        {"id":"r1","from_name":"tag3","to_name":"image","type":"rectanglelabels","origin":"manual",
         "original_width":1080,"original_height":1080,"image_rotation":0,
         "value":{"x":10.5,"y":20.0,"width":30.1,"height":25.7,"rotation":0,"rectanglelabels":["Banana"]}}
        """;

    /// <summary>A batch ("task opened") body: context null.</summary>
    public const string BatchPredictBody = """
        { "tasks": [ {"id": 21, "data": {"image": "s3://bucket/a.jpg"}, "annotations": [], "predictions": []},
                     {"id": 22, "data": {"image": "/data/local-files/?d=dataset/b.png"}} ],
          "project": "3.1746612998",
          "label_config": "<View><Image name=\"image\" value=\"$image\"/></View>",
          "params": { "login": null, "password": null, "context": null } }
        """;

    /// <summary>An older-LS body: top-level model_version, numeric project, no params at all.</summary>
    public const string OldPredictBody = """
        { "tasks": [ {"id": 5, "data": {"image": "http://example.com/x.jpg"}} ],
          "model_version": "0.0.1", "project": 3,
          "label_config": "<View/>" }
        """;
}
