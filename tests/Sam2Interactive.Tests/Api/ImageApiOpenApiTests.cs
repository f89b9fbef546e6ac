using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// /openapi/v1.json read back with Microsoft.OpenApi's reader (and its default validation rules): valid, and listing every
/// /api/v1 route the server maps with its request and response schemas. Served behind Basic auth like every route.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ImageApiOpenApiTests
{
    private const string User = "annotator", Password = "s3cret";
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private HttpClient _authorized = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _server = await TestServer.StartAsync(_ls, new Dictionary<string, string?> { ["BASIC_AUTH_USER"] = User, ["BASIC_AUTH_PASS"] = Password });
        _authorized = new HttpClient { BaseAddress = _server.Http.BaseAddress };
        _authorized.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        _authorized.Dispose();
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    private async Task<OpenApiDocument> ReadDocument()
    {
        var text = await _authorized.GetStringAsync("/openapi/v1.json");
        var result = OpenApiDocument.Parse(text, "json");
        Assert.That(result.Diagnostic?.Errors, Is.Empty, string.Join("\n", result.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        Assert.That(result.Document, Is.Not.Null);
        return result.Document!;
    }

    [Test]
    public async Task Document_ReadBack_ValidWithNoErrorsOrWarnings()
    {
        var text = await _authorized.GetStringAsync("/openapi/v1.json");

        var result = OpenApiDocument.Parse(text, "json");

        Assert.That(result.Diagnostic!.Errors.Select(e => $"{e.Pointer}: {e.Message}"), Is.Empty);
        Assert.That(result.Diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}"), Is.Empty);
        Assert.That(result.Diagnostic.SpecificationVersion, Is.EqualTo(OpenApiSpecVersion.OpenApi3_1));
    }

    [Test]
    public async Task Document_EveryApiRoute_ListedWithItsSchemas()
    {
        var document = await ReadDocument();
        var routes = _server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api/v1/", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods.Select(m => (Path: e.RoutePattern.RawText!, Method: m)))
            .ToList();
        Assert.That(routes, Has.Count.EqualTo(4), "info, post image, get image, segment");

        foreach (var (path, method) in routes)
        {
            Assert.That(document.Paths.TryGetValue(path, out var item), Is.True, $"{method} {path} is in the document");
            var operation = item!.Operations![HttpMethod.Parse(method)];
            Assert.That(operation.OperationId, Is.Not.Empty, $"{method} {path}");
            var ok = operation.Responses!["200"];
            Assert.That(ok.Content!["application/json"].Schema, Is.Not.Null, $"{method} {path} answers a documented body");
            if (method == "POST")
                Assert.That(operation.RequestBody!.Content!.Values.All(c => c.Schema is not null), Is.True, $"{method} {path} documents its body");
            if (path.Contains("{image_id}", StringComparison.Ordinal))
                Assert.That(operation.Parameters!.Select(p => p.Name), Does.Contain("image_id"));
        }
        Assert.That(document.Paths.Keys.Where(p => !p.StartsWith("/api/v1/", StringComparison.Ordinal)), Is.Empty, "only the HTTP API is described");
    }

    [Test]
    public async Task Document_Schemas_CarryTheWireNames()
    {
        var document = await ReadDocument();
        var schemas = document.Components!.Schemas!;

        Assert.That(schemas["SegmentRequest"].Properties!.Keys, Is.EquivalentTo(new[] { "points", "labels", "boxes", "multimask", "output" }));
        Assert.That(schemas["SegmentRequest"].Properties!["output"].Items!.Enum!.Select(n => n!.ToString()), Is.EquivalentTo(new[] { "png", "coco_rle", "polygons", "ls_brush" }));
        Assert.That(schemas["SegmentResponse"].Properties!.Keys, Is.SupersetOf(new[] { "image_id", "width", "height", "objects", "timings_ms" }));
        Assert.That(schemas["SegmentedObject"].Properties!.Keys, Is.SupersetOf(new[] { "score", "bbox", "area", "png", "coco_rle", "polygons", "ls_brush", "alternatives" }));
        Assert.That(schemas["CocoRleValue"].Properties!.Keys, Is.EquivalentTo(new[] { "size", "counts" }));
        Assert.That(schemas["ImageResponse"].Properties!.Keys, Is.EquivalentTo(new[] { "image_id", "width", "height", "cached" }));
        Assert.That(schemas["ErrorResponse"].Properties!.Keys, Is.EquivalentTo(new[] { "status", "detail" }));
    }

    [TestCase("/openapi/v1.json")]
    [TestCase("/api/v1/info")]
    [TestCase("/playground/")]
    public async Task Get_WithoutBasicAuth_401(string path)
    {
        using var response = await _server.Http.GetAsync(path);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var authorized = await _authorized.GetAsync(path);
        Assert.That(authorized.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
