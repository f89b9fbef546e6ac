using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Sam2Interactive.Api;
using Sam2Interactive.Api.Segmentation;
using Sam2Interactive.Cache;
using Sam2Interactive.Decoder;
using Sam2Interactive.Encoder;
using Sam2Interactive.StandIns;

namespace Sam2Interactive.Testing;

/// <summary>
/// A real server instance (<c>Server.Build</c>, Kestrel on a free loopback port) talking to a Label Studio stand-in, with
/// stand-in models or any model pair. Several can share one Label Studio and one Redis to act as replicas.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    /// <summary>How long <see cref="StartAsync(LabelStudioStandIn, IReadOnlyDictionary{string, string}, StandInFormat)"/> waits for
    /// /health to say UP (stand-in models warm up in well under a second).</summary>
    public static readonly TimeSpan DefaultReadyTimeout = TimeSpan.FromSeconds(30);

    private TestServer(WebApplication app, HttpClient http)
    {
        App = app;
        Http = http;
    }

    public WebApplication App { get; }

    /// <summary>A client with the server as base address (60 s timeout).</summary>
    public HttpClient Http { get; }

    /// <summary>The server's base URL without a trailing slash, e.g. "http://127.0.0.1:41234".</summary>
    public string Url => App.Urls.First().TrimEnd('/');

    public Sam2Encoder Encoder => App.Services.GetRequiredService<Sam2Encoder>();

    public Sam2Decoder Decoder => App.Services.GetRequiredService<Sam2Decoder>();

    public SegmentationService Segmentation => App.Services.GetRequiredService<SegmentationService>();

    public long EncoderRuns => Encoder.Runs;

    public EmbeddingStore Store => App.Services.GetRequiredService<EmbeddingStore>();

    /// <summary>Whether this instance holds the embedding of a task image in tier 1.</summary>
    public bool HasEmbedding(string imageUri) => Segmentation.IsCached(imageUri);

    /// <summary>Starts a server with the stand-in models of <paramref name="format"/> and waits until /health says UP.</summary>
    public static Task<TestServer> StartAsync(LabelStudioStandIn ls, IReadOnlyDictionary<string, string?>? extra = null, StandInFormat format = StandInFormat.SamExporter)
    {
        var models = StandInModelSet.Options(format);
        return StartAsync(ls, models.EncoderPath!, models.DecoderPath!, extra, DefaultReadyTimeout);
    }

    /// <summary>
    /// Starts a server with the given model files, fetching task images from <paramref name="ls"/> with its legacy token,
    /// and waits until /health says UP (the models are loaded and warmed). <paramref name="extra"/> adds or overrides settings
    /// (environment keys, docs/configuration.md); with BASIC_AUTH_USER/BASIC_AUTH_PASS set, the health check sends them.
    /// </summary>
    /// <exception cref="TimeoutException">/health did not say UP within <paramref name="readyTimeout"/>.</exception>
    public static async Task<TestServer> StartAsync(LabelStudioStandIn ls, string encoderPath, string decoderPath,
        IReadOnlyDictionary<string, string?>? extra, TimeSpan readyTimeout)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ENCODER_PATH"] = encoderPath,
            ["DECODER_PATH"] = decoderPath,
            ["LABEL_STUDIO_URL"] = ls.Url.ToString().TrimEnd('/'),
            ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        var app = Server.Build(["--urls", "http://127.0.0.1:0"], settings);
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(60) };
        var server = new TestServer(app, http);
        try
        {
            await server.WaitUntilReadyAsync(BasicAuth(settings), readyTimeout);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    // /health answers 503 until the models are loaded and warmed (one encoder run); behind Basic auth it needs the credentials.
    private async Task WaitUntilReadyAsync(AuthenticationHeaderValue? auth, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health") { Headers = { Authorization = auth } };
            using var response = await Http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.OK) return;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"the server at {Url} was not ready after {timeout.TotalSeconds:0} s: /health answers {(int)response.StatusCode}");
            await Task.Delay(25);
        }
    }

    private static AuthenticationHeaderValue? BasicAuth(Dictionary<string, string?> settings) =>
        settings.GetValueOrDefault("BASIC_AUTH_USER") is { Length: > 0 } user && settings.GetValueOrDefault("BASIC_AUTH_PASS") is { } pass
            ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass)))
            : null;

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
                return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
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
