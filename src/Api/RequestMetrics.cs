using System.Diagnostics;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Api;

/// <summary>Request count and latency per endpoint into this instance's registry (see <see cref="Sam2Metrics"/>).</summary>
internal static class RequestMetrics
{
    private static readonly HashSet<string> Endpoints = ["/", "/health", "/setup", "/predict", "/webhook", "/versions", "/metrics", "/prefetch"];

    public static IApplicationBuilder UseRequestMetrics(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            // Unknown paths share one label so a scanner cannot blow up the series count.
            var path = context.Request.Path.Value ?? "/";
            var endpoint = Endpoints.Contains(path) ? path : "other";
            var metrics = context.RequestServices.GetRequiredService<Sam2Metrics>();
            metrics.HttpRequests.WithLabels(endpoint, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            metrics.HttpSeconds.WithLabels(endpoint).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    });
}
