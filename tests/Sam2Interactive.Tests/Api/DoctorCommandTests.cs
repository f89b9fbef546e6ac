using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Api.Cli;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// <c>sam2i doctor</c> in process against the Label Studio stand-in and a real server (stand-in models): a healthy
/// project passes every check with the click times; each known cause of "nothing happens" is reported as a fail or warn
/// naming it with its fix; <c>--fix</c> repairs the webhook and interactive mode in the stand-in's state.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed partial class DoctorCommandTests
{
    private const int W = 160, H = 120;
    private LabelStudioStandIn _ls = null!;
    private TestServer _server = null!;
    private Scene _scene = null!;
    private long _nextProject = 500;

    [OneTimeSetUp]
    public async Task Start()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _server = await TestServer.StartAsync(_ls);
        _scene = Scenes.Create(W, H);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _ls.DisposeAsync();
    }

    /// <summary>A project with 3 tasks, an interactive ML backend at the test server and LS's auto-created webhook to it.</summary>
    private long Project(string? config = null, string? image = null, bool backend = true, bool interactive = true, bool webhook = true)
    {
        var project = Interlocked.Increment(ref _nextProject);
        _ls.Projects[project] = ("project " + project, config ?? LabelStudioSamples.BananaLabelConfig);
        for (var i = 0; i < 3; i++)
        {
            var path = image ?? _ls.AddUpload(project.ToString(System.Globalization.CultureInfo.InvariantCulture), i + ".png", _scene.Encoded);
            _ls.Tasks[project * 1000 + i] = (project, $$"""{"image":"{{path}}"}""", 0);
        }
        if (backend) _ls.AddMlBackend(project, _server.Url, interactive);
        if (webhook) _ls.AddWebhook(project, _server.Url + "/webhook");
        return project;
    }

    private Sam2Settings Settings(Dictionary<string, string?>? overrides = null)
    {
        var models = StandInModelSet.Options(StandInFormat.SamExporter);
        var values = new Dictionary<string, string?>
        {
            ["ENCODER_PATH"] = models.EncoderPath,
            ["DECODER_PATH"] = models.DecoderPath,
            ["LABEL_STUDIO_URL"] = _ls.Url.ToString().TrimEnd('/'),
            ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey,
            ["CACHE_MEMORY_MB"] = "64",
        };
        foreach (var (k, v) in overrides ?? []) values[k] = v;
        return Sam2Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
    }

    private sealed record Line(string Level, string Check, string Detail, string? Fix);

    private static async Task<(int Exit, string Text, List<Line> Lines)> Doctor(Sam2Settings settings, DoctorOptions options)
    {
        using var output = new StringWriter();
        var exit = await DoctorCommand.RunAsync(settings, options, output, CancellationToken.None);
        var text = output.ToString();
        await TestContext.Out.WriteLineAsync(text);
        var lines = new List<Line>();
        var rows = text.Split('\n');
        for (var i = 0; i < rows.Length; i++)
        {
            var m = LineRegex().Match(rows[i]);
            if (!m.Success) continue;
            var fix = i + 1 < rows.Length && rows[i + 1].StartsWith("      fix: ", StringComparison.Ordinal) ? rows[i + 1][11..] : null;
            lines.Add(new Line(m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, fix));
        }
        return (exit, text, lines);
    }

    [GeneratedRegex(@"^(pass|warn|fail)\s+([a-z.\-]+): (.*)$")]
    private static partial Regex LineRegex();

    private static Line Single(List<Line> lines, string check) =>
        lines.SingleOrDefault(l => l.Check == check) ?? throw new AssertionException($"no '{check}' line in:\n{string.Join('\n', lines)}");

    [Test]
    public async Task RunAsync_HealthyProject_EveryCheckPassesInOrderWithClickTimes()
    {
        var project = Project();

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, text);
            Assert.That(lines.Select(l => l.Level), Is.All.EqualTo("pass"), text);
            Assert.That(lines.Select(l => l.Check), Is.EqualTo(new[]
            {
                "settings.models", "settings.redis", "label-studio.reachable", "label-studio.key", "config.image", "config.smart", "config.mask",
                "config.labels", "config.data", "ml-backend.entry", "ml-backend.interactive", "ml-backend.state", "webhook", "webhook.delivery", "task",
            }), text);
            Assert.That(Single(lines, "label-studio.key").Detail, Does.Contain("legacy token"));
            Assert.That(Single(lines, "task").Detail, Does.Match(@"upload /data/upload/.*fetched in \d+ ms; 160×120 decoded and encoded in \d+ ms; click at the centre decoded in [\d.]+ ms"));
        });
    }

    [Test]
    public async Task RunAsync_Json_IsOneDocumentWithTheSameChecks()
    {
        var project = Project();
        using var output = new StringWriter();

        var exit = await DoctorCommand.RunAsync(Settings(), new DoctorOptions(project, Json: true), output, CancellationToken.None);

        using var doc = JsonDocument.Parse(output.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(doc.RootElement.GetProperty("exit_code").GetInt32(), Is.Zero);
            Assert.That(doc.RootElement.GetProperty("checks").GetArrayLength(), Is.EqualTo(15));
            Assert.That(doc.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("level").GetString()), Is.All.EqualTo("pass"));
        });
    }

    [TestCase("""<View><Image name="image" value="$image"/><BrushLabels name="b" toName="image"><Label value="Cat"/></BrushLabels><KeyPointLabels name="k" toName="image"><Label value="Cat"/></KeyPointLabels></View>""",
        "config.smart", "fail", "smart=\"true\"", TestName = "RunAsync_NoSmartAttribute_FailsConfigSmart")]
    [TestCase("""<View><Image name="image" value="$image"/><KeyPointLabels name="k" toName="image" smart="true"><Label value="Cat"/></KeyPointLabels></View>""",
        "config.mask", "fail", "<BrushLabels", TestName = "RunAsync_NoMaskControl_FailsConfigMask")]
    [TestCase("""<View><Image name="image" value="$image"/><Image name="other" value="$other"/><BrushLabels name="b" toName="other"><Label value="Cat"/></BrushLabels><KeyPointLabels name="k" toName="image" smart="true"><Label value="Cat"/></KeyPointLabels></View>""",
        "config.mask", "fail", "toName=\"image\"", TestName = "RunAsync_MaskControlOnAnotherImage_FailsConfigMask")]
    [TestCase("""<View><Image name="image" value="$image"/><BrushLabels name="b" toName="image"><Label value="Dog"/></BrushLabels><KeyPointLabels name="k" toName="image" smart="true"><Label value="Cat"/></KeyPointLabels></View>""",
        "config.labels", "warn", "<Label value=\"Cat\"/>", TestName = "RunAsync_NoSharedLabel_WarnsConfigLabels")]
    public async Task RunAsync_ConfigProblem_NamedWithFixAndCorrectedConfig(string config, string check, string level, string fixText)
    {
        var project = Project(config);

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        var line = Single(lines, check);
        Assert.Multiple(() =>
        {
            Assert.That(line.Level, Is.EqualTo(level), text);
            Assert.That(line.Fix, Does.Contain(fixText), text);
            Assert.That(exit, Is.EqualTo(level == "fail" ? 1 : 0), text);
            Assert.That(lines.Where(l => l.Check != check).Select(l => l.Level), Is.All.Not.EqualTo("fail"), text);
            Assert.That(text, Does.Contain("A labeling configuration with the fixes above"), text);
        });
        // The printed configuration is the fix applied: analysed again, it has no failure and no warning.
        var corrected = text[(text.IndexOf("Code):\n", StringComparison.Ordinal) + 7)..text.IndexOf("\n\n", text.IndexOf("Code):\n", StringComparison.Ordinal), StringComparison.Ordinal)];
        Assert.That(Sam2Interactive.Api.LabelStudio.LabelConfigFindings.Analyze(corrected).Findings.Select(f => f.Level.ToString()), Is.All.EqualTo("Pass"), corrected);
    }

    [Test]
    public async Task RunAsync_LegacyKeyWhereOnlyPersonalAccessTokensAreEnabled_FailsKeyNamingLegacyTokens()
    {
        var project = Project();
        _ls.LegacyTokensEnabled = false;
        try
        {
            var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

            var key = Single(lines, "label-studio.key");
            Assert.Multiple(() =>
            {
                Assert.That(exit, Is.EqualTo(1));
                Assert.That(key.Level, Is.EqualTo("fail"));
                Assert.That(key.Detail, Does.Contain("legacy tokens are disabled"), text);
                Assert.That(key.Fix, Does.Contain("personal access token"), text);
            });
        }
        finally
        {
            _ls.LegacyTokensEnabled = true;
        }
    }

    [Test]
    public async Task RunAsync_ExpiredPersonalAccessToken_FailsKeyNamingExpiry()
    {
        var project = Project();
        var expired = LabelStudioStandIn.Jwt(new { token_type = "refresh", exp = 1_600_000_000L, user_id = 1 });

        var (exit, text, lines) = await Doctor(Settings(new() { ["LABEL_STUDIO_API_KEY"] = expired }), new DoctorOptions(project));

        var key = Single(lines, "label-studio.key");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(key.Level, Is.EqualTo("fail"));
            Assert.That(key.Detail, Does.Contain("personal access token").And.Contain("expired"), text);
            Assert.That(key.Fix, Does.Contain("Create a new personal access token"), text);
        });
    }

    [Test]
    public async Task RunAsync_WrongKey_FailsKey()
    {
        var project = Project();

        var (exit, text, lines) = await Doctor(Settings(new() { ["LABEL_STUDIO_API_KEY"] = "not-a-real-key" }), new DoctorOptions(project));

        var key = Single(lines, "label-studio.key");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(key.Level, Is.EqualTo("fail"), text);
            Assert.That(key.Detail, Does.Contain("rejected the legacy token"), text);
            Assert.That(lines.Select(l => l.Check), Does.Not.Contain("config.smart"), "later checks need the project");
        });
    }

    [Test]
    public async Task RunAsync_LabelStudioUnreachable_FailsReachable()
    {
        var project = Project();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var (exit, text, lines) = await Doctor(Settings(new() { ["LABEL_STUDIO_URL"] = $"http://127.0.0.1:{port}" }), new DoctorOptions(project));

        var reachable = Single(lines, "label-studio.reachable");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(reachable.Level, Is.EqualTo("fail"), text);
            Assert.That(reachable.Detail, Does.Contain("cannot be reached"), text);
            Assert.That(reachable.Fix, Does.Contain("LABEL_STUDIO_URL"), text);
        });
    }

    [Test]
    public async Task RunAsync_NoMlBackend_FailsEntry()
    {
        var project = Project(backend: false);

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        var entry = Single(lines, "ml-backend.entry");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(entry.Level, Is.EqualTo("fail"), text);
            Assert.That(entry.Detail, Does.Contain("no ML backend"), text);
            Assert.That(entry.Fix, Does.Contain("Connect Model"), text);
        });
    }

    [Test]
    public async Task RunAsync_InteractiveOff_FailsInteractive()
    {
        var project = Project(interactive: false);

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        var interactive = Single(lines, "ml-backend.interactive");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(interactive.Level, Is.EqualTo("fail"), text);
            Assert.That(interactive.Fix, Does.Contain("Interactive preannotations"), text);
            Assert.That(_ls.MlBackends.Values.Single(b => b.Project == project).IsInteractive, Is.False, "without --fix nothing changes");
        });
    }

    [TestCase("missing", "no webhook to", TestName = "RunAsync_WebhookMissing_FailsWebhook")]
    [TestCase("inactive", "inactive", TestName = "RunAsync_WebhookInactive_FailsWebhook")]
    [TestCase("old", "points at an old backend URL", TestName = "RunAsync_WebhookAtOldUrl_FailsWebhook")]
    public async Task RunAsync_WebhookProblem_FailsWebhook(string problem, string detail)
    {
        var project = Project(webhook: false);
        if (problem == "inactive") _ls.AddWebhook(project, _server.Url + "/webhook", active: false);
        if (problem == "old") _ls.AddWebhook(project, "http://old-backend:9090/webhook");

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        var webhook = Single(lines, "webhook");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(webhook.Level, Is.EqualTo("fail"), text);
            Assert.That(webhook.Detail, Does.Contain(detail), text);
            Assert.That(webhook.Fix, Does.Contain(_server.Url + "/webhook"), text);
        });
    }

    [Test]
    public async Task RunAsync_BasicAuthInFrontOfBackendAndWebhookWithout_FailsDelivery()
    {
        // A proxy that demands Basic auth on every path, /webhook included, in front of the backend.
        var proxy = LoopbackApp.Create();
        proxy.Run(ctx =>
        {
            ctx.Response.StatusCode = 401;
            ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"sam2\"";
            return Task.CompletedTask;
        });
        await proxy.StartAsync();
        try
        {
            var url = proxy.Urls.First().TrimEnd('/');
            var project = Project(backend: false, webhook: false);
            _ls.AddMlBackend(project, url);
            _ls.AddWebhook(project, url + "/webhook");

            var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

            var delivery = Single(lines, "webhook.delivery");
            Assert.Multiple(() =>
            {
                Assert.That(exit, Is.EqualTo(1));
                Assert.That(delivery.Level, Is.EqualTo("fail"), text);
                Assert.That(delivery.Detail, Does.Contain("demands Basic auth, and the webhook carries none"), text);
                Assert.That(delivery.Fix, Does.Contain("Exempt /webhook from Basic auth"), text);
            });
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    [Test]
    public async Task RunAsync_TaskImageRefusedByNetworkPolicy_FailsTaskWithTheRefusal()
    {
        var project = Project(image: "http://10.255.0.7/images/a.png");

        var (exit, text, lines) = await Doctor(Settings(), new DoctorOptions(project));

        var task = Single(lines, "task");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(task.Level, Is.EqualTo("fail"), text);
            Assert.That(task.Detail, Does.Contain("URL http://10.255.0.7/images/a.png cannot be fetched").And.Contain("IMAGE_URL"), text);
            Assert.That(task.Fix, Does.Contain("IMAGE_URL_ALLOWLIST"), text);
        });
    }

    [Test]
    public async Task RunAsync_ModelFilesMissing_FailsModelsAndSkipsTheTask()
    {
        var project = Project();
        var missing = Path.Combine(Path.GetTempPath(), "sam2i-doctor-missing", "encoder.onnx");

        var (exit, text, lines) = await Doctor(Settings(new() { ["ENCODER_PATH"] = missing }), new DoctorOptions(project));

        var models = Single(lines, "settings.models");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(models.Level, Is.EqualTo("fail"), text);
            Assert.That(models.Detail, Does.Contain(missing), text);
            Assert.That(models.Fix, Does.Contain("sam2i models pull"), text);
            Assert.That(lines.Select(l => l.Check), Does.Not.Contain("task"), text);
            Assert.That(Single(lines, "webhook").Level, Is.EqualTo("pass"), "the Label Studio checks still run");
        });
    }

    [Test]
    public async Task RunAsync_Fix_CreatesWebhookWithSecretAndTurnsInteractiveOn_SecondRunPasses()
    {
        var project = Project(interactive: false, webhook: false);
        var settings = Settings(new() { ["WEBHOOK_SECRET"] = "s3cret" });

        var (exit, text, _) = await Doctor(settings, new DoctorOptions(project, Fix: true));

        var hook = _ls.Webhooks.Values.Single(h => h.Project == project);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, "every failure was repaired:\n" + text);
            Assert.That(text, Does.Contain("fixed ml-backend.interactive: turned interactive pre-annotations on"));
            Assert.That(text, Does.Contain("fixed webhook: created webhook"));
            Assert.That(_ls.MlBackends.Values.Single(b => b.Project == project).IsInteractive, Is.True);
            Assert.That(hook.Url, Is.EqualTo(_server.Url + "/webhook"));
            Assert.That(hook.IsActive, Is.True);
            Assert.That(hook.Actions, Is.EqualTo(new[] { "TASKS_CREATED" }));
            Assert.That(hook.Headers, Is.EqualTo(new Dictionary<string, string> { ["X-Webhook-Secret"] = "s3cret" }));
            Assert.That(_ls.Projects[project].LabelConfig, Is.EqualTo(LabelStudioSamples.BananaLabelConfig), "the labeling configuration is never changed");
        });

        var (again, text2, lines) = await Doctor(settings, new DoctorOptions(project));
        Assert.Multiple(() =>
        {
            Assert.That(again, Is.Zero, text2);
            Assert.That(Single(lines, "ml-backend.interactive").Level, Is.EqualTo("pass"));
            Assert.That(Single(lines, "webhook").Level, Is.EqualTo("pass"));
            Assert.That(Single(lines, "webhook.delivery").Level, Is.EqualTo("pass"));
        });
    }

    [Test]
    public async Task RunAsync_FixOnInactiveWebhookWithoutSecret_ReactivatesItAndAddsTheHeader()
    {
        var project = Project(webhook: false);
        var existing = _ls.AddWebhook(project, _server.Url + "/webhook", active: false);

        var (exit, text, _) = await Doctor(Settings(new() { ["WEBHOOK_SECRET"] = "s3cret" }), new DoctorOptions(project, Fix: true));

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, text);
            Assert.That(text, Does.Contain($"fixed webhook: re-activated webhook {existing.Id}, set X-Webhook-Secret"));
            Assert.That(_ls.Webhooks.Values.Count(h => h.Project == project), Is.EqualTo(1), "no second webhook");
            Assert.That(existing.IsActive, Is.True);
            Assert.That(existing.SendForAllActions, Is.True, "LS's own webhook keeps its actions");
            Assert.That(existing.Headers["X-Webhook-Secret"], Is.EqualTo("s3cret"));
        });
    }
}
