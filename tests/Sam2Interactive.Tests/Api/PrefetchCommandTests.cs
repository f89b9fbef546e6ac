using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Api.Cli;
using Sam2Interactive.Api.Configuration;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// <c>sam2i prefetch</c> in process against the Label Studio stand-in and a real server with a prefetch queue of 16:
/// every image encoded once with nothing dropped, a second run encodes nothing, progress lines while it runs, and a
/// cancelled run that a second run completes.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PrefetchCommandTests
{
    private const int W = 64, H = 48;
    private LabelStudioStandIn _ls = null!;
    private long _nextProject = 700;

    [OneTimeSetUp]
    public async Task Start() => _ls = await LabelStudioStandIn.StartAsync();

    [OneTimeTearDown]
    public async Task Stop() => await _ls.DisposeAsync();

    /// <summary>A project of <paramref name="count"/> tasks, each with its own image (distinct bytes, so each is one encode).</summary>
    private long Project(int count, int labeled = 0)
    {
        var project = Interlocked.Increment(ref _nextProject);
        _ls.Projects[project] = ("project " + project, LabelStudioSamples.BananaLabelConfig);
        for (var i = 0; i < count; i++)
        {
            var path = _ls.AddUpload(project.ToString(System.Globalization.CultureInfo.InvariantCulture), i + ".jpg", Scenes.Photo(W, H, (int)project * 1000 + i).Encoded);
            _ls.Tasks[project * 1000 + i] = (project, $$"""{"image":"{{path}}"}""", i < labeled ? 1 : 0);
        }
        return project;
    }

    private Sam2Settings Settings() => Sam2Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["LABEL_STUDIO_URL"] = _ls.Url.ToString().TrimEnd('/'),
        ["LABEL_STUDIO_API_KEY"] = LabelStudioStandIn.LegacyKey,
    }).Build());

    // Each embedding is held in memory (16 MiB): the cache must hold the whole project for a second run to skip it.
    private Task<TestServer> Server(int images) => TestServer.StartAsync(_ls, new Dictionary<string, string?>
    {
        ["PREFETCH_QUEUE"] = "16",
        ["CACHE_MEMORY_MB"] = ((images + 4) * 16).ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    private static Task<int> Prefetch(Sam2Settings settings, PrefetchOptions options, TextWriter output, CancellationToken cancellationToken = default) =>
        PrefetchCommand.RunAsync(settings, options, SettingReader.FromEnvironment(), output, cancellationToken, pollInterval: TimeSpan.FromMilliseconds(20));

    [Test]
    public async Task RunAsync_300TasksQueue16_EveryImageEncodedOnceNoneDroppedSecondRunEncodesNothing()
    {
        const int Tasks = 300;
        var project = Project(Tasks);
        await using var server = await Server(Tasks);
        var runs = server.EncoderRuns;
        var dropped = await server.MetricAsync("sam2_prefetch_dropped_total");
        using var first = new StringWriter();

        var exit = await Prefetch(Settings(), new PrefetchOptions(project, server.Url), first);

        var text = first.ToString();
        await TestContext.Out.WriteLineAsync(text);
        var progress = text.Split('\n').Where(l => l.StartsWith("prefetch: listed", StringComparison.Ordinal)).ToList();
        var droppedAfter = await server.MetricAsync("sam2_prefetch_dropped_total");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, text);
            Assert.That(server.EncoderRuns - runs, Is.EqualTo(Tasks), "every image encoded exactly once");
            Assert.That(droppedAfter, Is.EqualTo(dropped), "nothing dropped");
            Assert.That(Enumerable.Range(0, Tasks).All(i => server.HasEmbedding($"/data/upload/{project}/{i}.jpg")), Is.True);
            // At most 16 per batch: at least 300 / 16 batches, each followed by a progress line.
            Assert.That(progress, Has.Count.GreaterThanOrEqualTo(Tasks / 16), text);
            Assert.That(progress[0], Does.Match(@"^prefetch: listed \d+/300, queued \d+, encoded \d+, already cached \d+, failed 0, [\d.]+ images/s, "));
            Assert.That(text, Does.Contain("prefetch: done: 300 task(s) listed, 300 encoded, 0 already cached, 0 failed"));
        });

        using var second = new StringWriter();
        var again = await Prefetch(Settings(), new PrefetchOptions(project, server.Url), second);

        var droppedAtEnd = await server.MetricAsync("sam2_prefetch_dropped_total");
        Assert.Multiple(() =>
        {
            Assert.That(again, Is.Zero, second.ToString());
            Assert.That(server.EncoderRuns - runs, Is.EqualTo(Tasks), "the second run encodes nothing");
            Assert.That(droppedAtEnd, Is.EqualTo(dropped));
            Assert.That(second.ToString(), Does.Contain("prefetch: done: 300 task(s) listed, 0 encoded, 300 already cached, 0 failed"));
        });
    }

    [Test]
    public async Task RunAsync_CancelledThenRunAgain_ContinuesWhereTheCacheStands()
    {
        const int Tasks = 40;
        var project = Project(Tasks);
        await using var server = await Server(Tasks);
        var runs = server.EncoderRuns;
        using var cts = new CancellationTokenSource();
        // Ctrl+C after the first batch is queued.
        using var first = new SignalWriter(line => line.Contains("queued 16", StringComparison.Ordinal), cts);

        var exit = await Prefetch(Settings(), new PrefetchOptions(project, server.Url), first, cts.Token);

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(130), first.ToString());
            Assert.That(first.ToString(), Does.Contain("prefetch: stopped;"));
        });

        using var second = new StringWriter();
        var again = await Prefetch(Settings(), new PrefetchOptions(project, server.Url), second);

        Assert.Multiple(() =>
        {
            Assert.That(again, Is.Zero, second.ToString());
            Assert.That(server.EncoderRuns - runs, Is.EqualTo(Tasks), "each image encoded once over both runs");
            Assert.That(Enumerable.Range(0, Tasks).All(i => server.HasEmbedding($"/data/upload/{project}/{i}.jpg")), Is.True);
            // Images still queued from the first run may be encoded by either run; none twice.
            Assert.That(second.ToString(), Does.Match(@"prefetch: done: 40 task\(s\) listed, \d+ encoded, \d+ already cached, 0 failed"));
        });
    }

    [Test]
    public async Task RunAsync_UnlabeledOnlyAndLimit_SkipLabeledAndStopAtLimit()
    {
        var project = Project(30, labeled: 10);
        await using var server = await Server(30);
        var runs = server.EncoderRuns;
        using var output = new StringWriter();

        var exit = await Prefetch(Settings(), new PrefetchOptions(project, server.Url, Limit: 25, UnlabeledOnly: true), output);

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, output.ToString());
            Assert.That(server.EncoderRuns - runs, Is.EqualTo(15), "tasks 10..24: the first 25 listed minus 10 labeled");
            Assert.That(server.HasEmbedding($"/data/upload/{project}/0.jpg"), Is.False);
            Assert.That(server.HasEmbedding($"/data/upload/{project}/29.jpg"), Is.False);
            Assert.That(output.ToString(), Does.Contain("25 task(s) listed, 15 encoded, 0 already cached, 0 failed, 0 without an image, 10 skipped as labeled"));
        });
    }

    /// <summary>A StringWriter that cancels <paramref name="cts"/> when a line matching <paramref name="when"/> is written.</summary>
    private sealed class SignalWriter(Func<string, bool> when, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && when(value)) cts.Cancel();
        }

        public override Task WriteLineAsync(string? value)
        {
            WriteLine(value);
            return Task.CompletedTask;
        }
    }
}
