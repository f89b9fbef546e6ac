using System.Net;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>The playground's files as the server serves them from its assembly: types, caching, no outside URLs.</summary>
[TestFixture]
[NonParallelizable]
public sealed class PlaygroundEndpointsTests
{
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _server = await TestServer.StartAsync(_ls);
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    [TestCase("/playground/", "text/html; charset=utf-8")]
    [TestCase("/playground/playground.js", "text/javascript; charset=utf-8")]
    [TestCase("/playground/playground.css", "text/css; charset=utf-8")]
    public async Task Get_EmbeddedFile_ContentTypeETagAndRevalidation(string path, string type)
    {
        using var response = await _server.Http.GetAsync(path);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.ToString(), Is.EqualTo(type));
        Assert.That(response.Headers.CacheControl!.NoCache, Is.True, "revalidated on each load, so an upgrade shows at once");
        Assert.That(response.Headers.ETag, Is.Not.Null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(body, Does.Not.Contain("http://").And.Not.Contain("https://").And.Not.Contain("//cdn"), "no outside URL: works offline");

        using var again = new HttpRequestMessage(HttpMethod.Get, path);
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        using var revalidated = await _server.Http.SendAsync(again);
        Assert.That(revalidated.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
    }

    [Test]
    public async Task Get_PlaygroundWithoutSlash_RedirectsToTheFolder()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.Http.BaseAddress };

        using var response = await client.GetAsync("/playground");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(new Uri(new Uri(_server.Url + "/playground"), response.Headers.Location!).AbsolutePath, Is.EqualTo("/playground/"));
    }

    [Test]
    public async Task Get_UnknownFile_404InTheErrorFormat()
    {
        using var response = await _server.Http.GetAsync("/playground/../appsettings.json");
        using var unknown = await _server.Http.GetAsync("/playground/secret.txt");

        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await unknown.Content.ReadAsStringAsync(), Does.Contain("\"status\":404"));
        Assert.That(response.StatusCode, Is.Not.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Get_Index_LoadsOnlyItsOwnFiles()
    {
        var html = await _server.Http.GetStringAsync("/playground/");

        Assert.That(html, Does.Contain("src=\"playground.js\"").And.Contain("href=\"playground.css\""));
    }
}
