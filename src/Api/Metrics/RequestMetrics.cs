using System.Diagnostics;

namespace Sam2Interactive.Api.Metrics;

/// <summary>Request count and latency per endpoint (<c>sam2_http_requests_total</c>, <c>sam2_http_request_seconds</c>).</summary>
internal static class RequestMetrics
{
    /// <summary>
    /// Labels each request with its route pattern (<c>/predict</c>, <c>/api/v1/images/{image_id}</c>), so the series count
    /// stays bounded; a path that matches no route is <c>other</c>, so a scanner cannot blow it up.
    /// </summary>
    public static IApplicationBuilder UseRequestMetrics(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var pattern = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
            var endpoint = pattern is null ? "other" : pattern.StartsWith('/') ? pattern : "/" + pattern;
            context.RequestServices.GetRequiredService<ApiMetrics>().HttpRequest(endpoint, context.Response.StatusCode, Stopwatch.GetElapsedTime(start));
        }
    });
}
