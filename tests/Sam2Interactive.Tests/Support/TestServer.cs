using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Sam2Interactive.Api;
using Sam2Interactive.Cache;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;
using Sam2Interactive.Tests.Api;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// A real server instance (Kestrel on a free loopback port, stand-in models) talking to a Label Studio stand-in.
/// Several can share one Label Studio and one Redis to act as replicas.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, HttpClient http)
    {
        App = app;
        Http = http;
    }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    public long EncoderRuns => App.Services.GetRequiredService<Sam2Encoder>().Runs;

    public EmbeddingStore Store => App.Services.GetRequiredService<EmbeddingStore>();

    /// <summary>Whether this instance holds the embedding of a task image in tier 1.</summary>
    public bool HasEmbedding(string imageUri) => App.Services.GetRequiredService<Sam2Interactive.Api.Segmentation.SegmentationService>().IsCached(imageUri);

    /// <summary>Starts a server and waits until /health says UP.</summary>
    public static async Task<TestServer> StartAsync(LabelStudioStandIn ls, IReadOnlyDictionary<string, string?>? extra = null, StandInFormat format = StandInFormat.SamExporter)
    {
        var models = StandInModelSet.Options(format);
        var settings = new Dictionary<string, string?>
        {
            ["ENCODER_PATH"] = models.EncoderPath,
            ["DECODER_PATH"] = models.DecoderPath,
            ["LABEL_STUDIO_URL"] = ls.Url.ToString().TrimEnd('/'),
            ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        var app = Server.Build(["--urls", "http://127.0.0.1:0"], settings);
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(60) };
        for (var i = 0; i < 400 && (await http.GetAsync("/health")).StatusCode != HttpStatusCode.OK; i++) await Task.Delay(25);
        return new TestServer(app, http);
    }

    public async Task<(HttpStatusCode Status, JsonDocument Json)> PostAsync(string path, string body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "{}" : text));
    }

    /// <summary>The value of one metric sample from /metrics, e.g. <c>sam2_encoder_runs_total</c>; 0 when absent.</summary>
    public async Task<double> MetricAsync(string sample)
    {
        var text = await Http.GetStringAsync("/metrics");
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
                return double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Request bodies shaped as Label Studio sends them (docs/label-studio-protocol.md §1.2), for a W×H image.</summary>
internal static class PredictBodies
{
    public static string KeyPoint(float px, float py, bool? positive, int w, int h, string label = "defect") =>
        $$$"""{"id":"{{{Guid.NewGuid():N}}}","from_name":"tag2","to_name":"image","type":"keypointlabels","origin":"manual","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{px / w * 100}}},"y":{{{py / h * 100}}},"width":0.3,"keypointlabels":["{{{label}}}"]}{{{(positive is null ? "" : $",\"is_positive\":{positive.Value.ToString().ToLowerInvariant()}")}}}}""";

    public static string Rectangle(SkiaSharp.SKRect r, int w, int h, float pad = 5, double rotation = 0) =>
        $$$"""{"id":"{{{Guid.NewGuid():N}}}","from_name":"tag3","to_name":"image","type":"rectanglelabels","origin":"manual","original_width":{{{w}}},"original_height":{{{h}}},"image_rotation":0,"value":{"x":{{{(r.Left - pad) / w * 100}}},"y":{{{(r.Top - pad) / h * 100}}},"width":{{{(r.Width + 2 * pad) / w * 100}}},"height":{{{(r.Height + 2 * pad) / h * 100}}},"rotation":{{{rotation}}},"rectanglelabels":["defect"]}}""";

    /// <summary>An interactive body (context with <paramref name="items"/>) or, with null, a task-open body (context null).</summary>
    public static string Predict(string image, string? items, string? labelConfig = null, long taskId = 21)
    {
        var context = items is null ? "null" : "{\"result\":[" + items + "]}";
        return "{\"tasks\":[{\"id\":" + taskId + ",\"data\":{\"image\":\"" + image + "\"},\"annotations\":[],\"drafts\":[],\"predictions\":[]}]," +
            "\"project\":\"3.1746612998\",\"label_config\":" + JsonSerializer.Serialize(labelConfig ?? LabelStudioSamples.SeedLabelConfig) + "," +
            "\"params\":{\"login\":null,\"password\":null,\"context\":" + context + "}}";
    }

    public static string Webhook(params (long Id, string Image)[] tasks) =>
        "{\"action\":\"TASKS_CREATED\",\"tasks\":[" + string.Join(",", tasks.Select(t => "{\"id\":" + t.Id + ",\"data\":{\"image\":\"" + t.Image + "\"}}")) + "],\"project\":{\"id\":3}}";
}
