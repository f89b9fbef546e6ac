using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using NUnit.Framework;

namespace Sam2Interactive.Testing;

/// <summary>Images in the Label Studio stand-in and annotator clicks on them, shared by the reliability fixtures.</summary>
internal static class Traffic
{
    /// <summary>Adds a scene of distinct bytes (its size encodes <paramref name="n"/>) under /data/upload/{folder}/; returns its path.</summary>
    public static (string Path, Scene Scene) AddImage(LabelStudioStandIn ls, string folder, int n, int baseWidth = 64, int baseHeight = 48)
    {
        // Width and height both vary so up to 10 000 images of one folder have distinct bytes and stay small.
        var scene = Scenes.Create(baseWidth + n % 100, baseHeight + n / 100);
        return (ls.AddUpload(folder, string.Create(CultureInfo.InvariantCulture, $"img-{n}.png"), scene.Encoded), scene);
    }

    /// <summary>A positive smart keypoint on the scene's blue rectangle.</summary>
    public static string ClickBody(string path, Scene scene, long taskId = 21)
    {
        var blue = Scenes.Centre(Scenes.BlueRect(scene.Width, scene.Height));
        return LabelStudioBodies.Click(path, blue.X, blue.Y, scene.Width, scene.Height, taskId);
    }

    /// <summary>One click; returns the status, the answer and the wall time.</summary>
    public static async Task<(HttpStatusCode Status, JsonDocument Json, TimeSpan Elapsed)> ClickAsync(TestServer server, string path, Scene scene)
    {
        var start = Stopwatch.GetTimestamp();
        var (status, json) = await server.PostAsync("/predict", ClickBody(path, scene));
        return (status, json, Stopwatch.GetElapsedTime(start));
    }

    /// <summary>Clicks and asserts a 200 whose region covers the blue rectangle (IoU ≥ 0.9).</summary>
    public static async Task<TimeSpan> ClickAndCheckAsync(TestServer server, string path, Scene scene)
    {
        var (status, json, elapsed) = await ClickAsync(server, path, scene);
        using (json)
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), json.RootElement.ToString());
            var region = LabelStudioResults.FirstRegion(json.RootElement);
            Assert.That(Scenes.IoU(LabelStudioResults.MaskOf(region, scene.Width, scene.Height), scene.Objects["blue"]), Is.GreaterThanOrEqualTo(0.9));
        }
        return elapsed;
    }

    /// <summary>The /health body's field as a string ("cache_state", "status", "reason").</summary>
    public static async Task<(HttpStatusCode Status, string? Value)> HealthFieldAsync(HttpClient http, string field)
    {
        using var response = await http.GetAsync("/health");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var value = json.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return (response.StatusCode, value);
    }

    /// <summary>Polls <paramref name="condition"/> every 25 ms until true; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (await condition()) return;
            await Task.Delay(25);
        }
        Assert.Fail($"timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
    }
}
