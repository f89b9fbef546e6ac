using Sam2Interactive.Encoder;

namespace Sam2Interactive.Api;

internal static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", Health);
        app.MapGet("/health", Health);
        return app;
    }

    private static IResult Health(Readiness readiness, ModelOptions options)
    {
        if (!readiness.IsReady)
            return Results.Json(new HealthResponse("DOWN", "Sam2Interactive", options.ModelName, options.Device, readiness.Reason), HealthJsonContext.Default.HealthResponse, statusCode: 503);
        return Results.Json(new HealthResponse("UP", "Sam2Interactive", options.ModelName, OrtSessionFactory.ActiveProvider.ToLowerInvariant(), null), HealthJsonContext.Default.HealthResponse);
    }
}

internal sealed record HealthResponse(string Status, string ModelClass, string ModelName, string Device, string? Reason);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HealthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
