using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Benchmarks;

/// <summary>Label Studio's media endpoint on loopback: <c>GET /data/upload/{name}</c> serves <see cref="Files"/>.</summary>
internal sealed class ImageHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ImageHost(WebApplication app) => _app = app;

    /// <summary>JPEG bytes by file name.</summary>
    public ConcurrentDictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    public string Url => _app.Urls.First().TrimEnd('/');

    /// <summary>The task data value Label Studio would send for <paramref name="name"/>.</summary>
    public static string TaskUri(string name) => "/data/upload/1/" + name;

    public static async Task<ImageHost> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var host = new ImageHost(app);
        app.MapGet("/data/upload/1/{name}", (string name) =>
            host.Files.TryGetValue(name, out var bytes) ? Results.Bytes(bytes, "image/jpeg") : Results.NotFound());
        await app.StartAsync();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
