using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>Runs the middleware and the webhook filter in a real Kestrel app on loopback.</summary>
[TestFixture]
public sealed class BasicAuthMiddlewareTests
{
    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(BasicAuthCredentials? credentials, string? webhookSecret)
    {
        var app = LoopbackApp.Create();
        app.UseLabelStudioBasicAuth(credentials);
        app.MapGet("/health", () => Results.Text("{\"status\":\"UP\"}", "application/json"));
        app.MapPost("/webhook", () => Results.Text("{\"status\":\"ok\"}", "application/json")).AddEndpointFilter(new WebhookSecretFilter(webhookSecret));
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.First()) });
    }

    private static AuthenticationHeaderValue Basic(string user, string pass) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + pass)));

    private static async Task<HttpStatusCode> Get(HttpClient client, AuthenticationHeaderValue? auth, string path = "/health")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = auth } };
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> PostWebhook(HttpClient client, string? secret, AuthenticationHeaderValue? auth = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/webhook") { Content = new StringContent("""{"action":"TASKS_CREATED"}""", Encoding.UTF8, "application/json") };
        request.Headers.Authorization = auth;
        if (secret is not null)
            request.Headers.Add(WebhookSecretFilter.HeaderName, secret);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    [Test]
    public async Task InvokeAsync_BasicAuthOn_AcceptsOnlyMatchingCredentials()
    {
        var (app, client) = await StartAsync(new BasicAuthCredentials("ls", "päss:word"), null);
        await using var _ = app;
        using var __ = client;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Get(client, Basic("ls", "päss:word")), Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await Get(client, null), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await Get(client, Basic("ls", "päss:wor")), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await Get(client, Basic("LS", "päss:word")), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await Get(client, new AuthenticationHeaderValue("Basic", "not base64!")), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await Get(client, new AuthenticationHeaderValue("Bearer", "x")), Is.EqualTo(HttpStatusCode.Unauthorized));
        }
    }

    [Test]
    public async Task InvokeAsync_Unauthorized_SendsBasicChallenge()
    {
        var (app, client) = await StartAsync(new BasicAuthCredentials("u", "p"), null);
        await using var _ = app;
        using var __ = client;

        using var response = await client.GetAsync("/health");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(response.Headers.WwwAuthenticate.Single().Scheme, Is.EqualTo("Basic"));
            Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("BASIC_AUTH_USER"));
        }
    }

    [Test]
    public async Task InvokeAsync_Webhook_IsExemptFromBasicAuthButCheckedAgainstSecret()
    {
        var (app, client) = await StartAsync(new BasicAuthCredentials("u", "p"), "hook-secret");
        await using var _ = app;
        using var __ = client;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await PostWebhook(client, "hook-secret"), Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await PostWebhook(client, null), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await PostWebhook(client, "hook-secreT"), Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(await PostWebhook(client, null, Basic("u", "p")), Is.EqualTo(HttpStatusCode.Unauthorized), "Basic auth does not replace the webhook secret");
        }
    }

    [Test]
    public async Task InvokeAsync_NoCredentialsNoSecret_EverythingPasses()
    {
        var (app, client) = await StartAsync(null, null);
        await using var _ = app;
        using var __ = client;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Get(client, null), Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await PostWebhook(client, null), Is.EqualTo(HttpStatusCode.OK));
        }
    }

    [TestCase("/webhook", true)]
    [TestCase("/WEBHOOK/", true)]
    [TestCase("/webhooks", false)]
    [TestCase("/predict", false)]
    public void IsExempt_Path_OnlyWebhook(string path, bool expected) =>
        Assert.That(BasicAuthMiddleware.IsExempt(new PathString(path)), Is.EqualTo(expected));
}
