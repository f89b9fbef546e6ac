using System.Net;
using System.Net.Http.Headers;
using System.Text;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>The real server with Basic auth and a webhook secret on, as Label Studio calls it.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ServerAuthTests
{
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _ls.Files["/data/upload/5/a.png"] = Scenes.Create(320, 240).Encoded;
        _server = await TestServer.StartAsync(_ls, new Dictionary<string, string?>
        {
            ["BASIC_AUTH_USER"] = "label-studio",
            ["BASIC_AUTH_PASS"] = "s3cret pass",
            ["WEBHOOK_SECRET"] = "hook-secret",
        });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    private async Task<HttpStatusCode> Send(HttpMethod method, string path, string? body = null, string? basic = null, string? secret = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (basic is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        if (secret is not null) request.Headers.Add("X-Webhook-Secret", secret);
        using var response = await _server.Http.SendAsync(request);
        return response.StatusCode;
    }

    [TestCase("/health")]
    [TestCase("/versions")]
    [TestCase("/metrics")]
    public async Task Get_WithoutCredentials_401(string path) =>
        Assert.That(await Send(HttpMethod.Get, path), Is.EqualTo(HttpStatusCode.Unauthorized));

    [Test]
    public async Task Health_WithCredentials_200() =>
        Assert.That(await Send(HttpMethod.Get, "/health", basic: "label-studio:s3cret pass"), Is.EqualTo(HttpStatusCode.OK));

    [Test]
    public async Task Predict_WrongPassword_401() =>
        Assert.That(await Send(HttpMethod.Post, "/predict", LabelStudioBodies.Predict("/data/upload/5/a.png", null), basic: "label-studio:nope"), Is.EqualTo(HttpStatusCode.Unauthorized));

    [Test]
    public async Task Predict_WithCredentials_200() =>
        Assert.That(await Send(HttpMethod.Post, "/predict", LabelStudioBodies.Predict("/data/upload/5/a.png", LabelStudioBodies.KeyPoint(50, 50, true, 320, 240)), basic: "label-studio:s3cret pass"), Is.EqualTo(HttpStatusCode.OK));

    [Test]
    public async Task Prefetch_WithCredentials_202AndEncoded()
    {
        _ls.Files["/data/upload/5/b.png"] = Scenes.Create(321, 240).Encoded;
        var runs = _server.EncoderRuns;
        Assert.That(await Send(HttpMethod.Post, "/prefetch", "{\"uris\":[\"/data/upload/5/b.png\"]}", basic: "label-studio:s3cret pass"), Is.EqualTo(HttpStatusCode.Accepted));
        for (var i = 0; i < 200 && _server.EncoderRuns == runs; i++) await Task.Delay(25);
        Assert.That(_server.EncoderRuns, Is.EqualTo(runs + 1));
        Assert.That(await Send(HttpMethod.Post, "/prefetch", "{\"uris\":[]}", basic: "label-studio:s3cret pass"), Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task Webhook_NoBasicAuthButRightSecret_200()
    {
        // Label Studio's ML webhook carries no Basic auth; the shared secret guards it instead.
        var status = await Send(HttpMethod.Post, "/webhook", LabelStudioBodies.Webhook((1, "/data/upload/5/a.png")), secret: "hook-secret");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
    }

    [TestCase(null)]
    [TestCase("wrong")]
    public async Task Webhook_MissingOrWrongSecret_Refused(string? secret)
    {
        var status = await Send(HttpMethod.Post, "/webhook", LabelStudioBodies.Webhook((1, "/data/upload/5/a.png")), secret: secret);
        Assert.That((int)status, Is.EqualTo(401).Or.EqualTo(403));
    }
}
