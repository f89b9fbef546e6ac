using System.Diagnostics;
using System.Net;
using NUnit.Framework;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// Label Studio misbehaving while annotators click, through the real server: slow beyond FETCH_TIMEOUT, HTTP 500,
/// connections reset, the access token of a personal access token expiring or being revoked mid-session. Each failure
/// answers with a status and a message saying what is wrong, caches nothing, and the next good click works.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class LabelStudioFaultTests() : LabelStudioPerTest("7")
{
    private static string ClickOn(string image) => LabelStudioBodies.Predict(image, LabelStudioBodies.KeyPoint(10, 10, true, 64, 48));

    [TestCase("/slow", 504, "took longer than 1 s")]
    [TestCase("/status/500", 502, "answered HTTP 500 after 3 attempts")]
    [TestCase("/status/503", 502, "answered HTTP 503 after 3 attempts")]
    [TestCase("/reset/img.png", 502, "could not reach")]
    public async Task Predict_LabelStudioFails_GatewayStatusWithMessageAndNextClickWorks(string image, int status, string message)
    {
        await using var server = await TestServer.StartAsync(Ls, new Dictionary<string, string?> { ["FETCH_TIMEOUT"] = "1" });
        var clock = Stopwatch.StartNew();

        var (actual, json) = await server.PostAsync("/predict", ClickOn(image));

        var elapsed = clock.Elapsed;
        using (json)
        {
            Assert.That((int)actual, Is.EqualTo(status), json.RootElement.ToString());
            Assert.That(json.RootElement.GetProperty("detail").GetString(), Does.Contain(message));
        }
        Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "FETCH_TIMEOUT=1 bounds the whole fetch, retries included");
        Assert.That(server.Store.Count, Is.Zero, "nothing cached from a failed fetch");
        Assert.That((await Traffic.HealthFieldAsync(server.Http, "status")).Value, Is.EqualTo("UP"));
        var (path, scene) = NewImage();
        await Traffic.ClickAndCheckAsync(server, path, scene);
    }

    [Test]
    public async Task Predict_ConnectionReset_RetriedBeforeGivingUp()
    {
        await using var server = await TestServer.StartAsync(Ls);

        var (status, json) = await server.PostAsync("/predict", ClickOn("/reset/img.png"));

        json.Dispose();
        Assert.That((int)status, Is.EqualTo(502));
        Assert.That(Ls.Resets, Is.EqualTo(3), "one attempt and two retries");
    }

    [Test]
    public async Task Predict_ImageFailsThenLabelStudioRecovers_FailureWasNotCached()
    {
        await using var server = await TestServer.StartAsync(Ls);
        var (path, scene) = NewImage();
        var bytes = Ls.Files[path];
        Ls.Files.TryRemove(path, out _);

        var (status, json) = await server.PostAsync("/predict", Traffic.ClickBody(path, scene));
        json.Dispose();
        Assert.That(status, Is.EqualTo(HttpStatusCode.NotFound));

        Ls.Files[path] = bytes;
        await Traffic.ClickAndCheckAsync(server, path, scene);
    }

    [Test]
    public async Task Predict_AccessTokenExpiresMidSession_NextClickRefreshesAndWorks()
    {
        Ls.AccessLifetime = TimeSpan.FromSeconds(2);
        await using var server = await TestServer.StartAsync(Ls, new Dictionary<string, string?> { ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.PersonalAccessToken });
        var (first, firstScene) = NewImage();
        var (second, secondScene) = NewImage();

        await Traffic.ClickAndCheckAsync(server, first, firstScene);
        var refreshesBefore = Ls.Refreshes;
        await Task.Delay(TimeSpan.FromSeconds(2.3));
        await Traffic.ClickAndCheckAsync(server, second, secondScene);

        Assert.That(refreshesBefore, Is.EqualTo(1));
        Assert.That(Ls.Refreshes, Is.EqualTo(2), "the expired access token was replaced");
        Assert.That(Ls.LsRequests.Where(r => r.Path.StartsWith("/data/", StringComparison.Ordinal)).Select(r => r.Authorization),
            Has.All.StartsWith("Bearer ").And.All.Not.Contains(LabelStudioStandIn.PersonalAccessToken), "only access tokens are sent for media");
    }

    [Test]
    public async Task Predict_AccessTokenRevokedMidSession_401RefreshedAndClickWorks()
    {
        await using var server = await TestServer.StartAsync(Ls, new Dictionary<string, string?> { ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.PersonalAccessToken });
        var (first, firstScene) = NewImage();
        var (second, secondScene) = NewImage();
        await Traffic.ClickAndCheckAsync(server, first, firstScene);
        Ls.RevokedAccess[Ls.LsRequests.Last(r => r.Path == first).Authorization![7..]] = true;

        await Traffic.ClickAndCheckAsync(server, second, secondScene);

        Assert.That(Ls.Refreshes, Is.EqualTo(2));
    }
}
