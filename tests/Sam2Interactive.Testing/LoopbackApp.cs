using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Sam2Interactive.Testing;

/// <summary>Kestrel apps for stand-in servers: slim, silent, on a free 127.0.0.1 port (read it from <c>Urls</c> after start).</summary>
internal static class LoopbackApp
{
    public static WebApplication Create()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        return app;
    }
}
