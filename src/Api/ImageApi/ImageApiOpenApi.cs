using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Sam2Interactive.Api.ImageApi;

/// <summary>
/// What ASP.NET Core's OpenAPI generator cannot infer from the handlers, which read their bodies themselves (to answer
/// errors in the API's own format): the upload's three body kinds, and the brush RLE's wire type.
/// </summary>
internal static class ImageApiOpenApi
{
    /// <summary>Only the HTTP API is described; the Label Studio protocol has its own document (docs/label-studio-protocol.md).</summary>
    public static void Configure(OpenApiOptions options)
    {
        options.ShouldInclude = d => d.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Sam2Interactive HTTP API";
            document.Info.Description = "SAM2 interactive segmentation: post an image once, then segment points and boxes against its image_id. See docs/api.md.";
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer((schema, context, _) =>
        {
            // ReadOnlyMemory<byte> with RleJsonConverter: a JSON array of numbers 0..255.
            if (context.JsonPropertyInfo?.PropertyType == typeof(ReadOnlyMemory<byte>?))
            {
                schema.Type = JsonSchemaType.Array | JsonSchemaType.Null;
                schema.Items = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0", Maximum = "255" };
                schema.Properties?.Clear();
                schema.Required?.Clear();
            }
            // The output names as an enum.
            if (context.JsonPropertyInfo is { Name: "output" } output && output.DeclaringType == typeof(SegmentRequest) && schema.Items is OpenApiSchema items)
                items.Enum = [.. MaskOutputs.Names.Select(n => (System.Text.Json.Nodes.JsonNode)n)];
            return Task.CompletedTask;
        });
    }

    /// <summary>The request body of <c>POST /api/v1/images</c>: a multipart file, raw image bytes, or a URL to fetch.</summary>
    public static Task UploadBody(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var binary = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "The image (JPEG, PNG, WebP, GIF, BMP), at most MAX_IMAGE_BYTES.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema> { ["image"] = binary },
                        Required = new HashSet<string> { "image" },
                    },
                },
                ["application/octet-stream"] = new() { Schema = binary },
                ["image/*"] = new() { Schema = binary },
                ["application/json"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["url"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri", Description = "http(s) URL of the image." },
                        },
                        Required = new HashSet<string> { "url" },
                    },
                },
            },
        };
        operation.Parameters ??= [];
        return Task.CompletedTask;
    }
}
