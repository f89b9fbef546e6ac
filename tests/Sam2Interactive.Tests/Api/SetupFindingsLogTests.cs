using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// What <c>POST /setup</c> logs about a labeling configuration: the doctor's findings (event ids 1220-1223), once per
/// distinct configuration.
/// </summary>
[TestFixture]
public sealed class SetupFindingsLogTests
{
    private const string NoSmart = """<View><Image name="image" value="$image"/><BrushLabels name="b" toName="image"><Label value="Cat"/></BrushLabels><KeyPointLabels name="k" toName="image"><Label value="Cat"/></KeyPointLabels></View>""";

    [Test]
    public void Report_ConfigWithoutSmart_LogsTheFailureWithFixAndTheCorrectedConfigOnce()
    {
        var logger = new CapturingLogger();
        var log = new SetupFindingsLog(logger);

        var first = log.Report("7.1746612998", NoSmart);
        var second = log.Report("7.1746612998", NoSmart);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.True);
            Assert.That(second, Is.False, "once per distinct configuration");
            Assert.That(logger.Events.Select(e => e.Id), Is.EqualTo(new[] { 1220, 1223 }));
            Assert.That(logger.Events[0].Level, Is.EqualTo(LogLevel.Warning));
            Assert.That(logger.Events[0].Message, Does.Contain("config.smart").And.Contain("Add smart=\"true\" to <KeyPointLabels name=\"k\">"));
            Assert.That(logger.Events[1].Message, Does.Contain("smart=\"true\""));
        });
    }

    [Test]
    public void Report_HealthyConfig_LogsOnePassLine()
    {
        var logger = new CapturingLogger();

        new SetupFindingsLog(logger).Report("3", LabelStudioSamples.BananaLabelConfig);

        Assert.Multiple(() =>
        {
            Assert.That(logger.Events.Select(e => e.Id), Is.EqualTo(new[] { 1222 }));
            Assert.That(logger.Events[0].Level, Is.EqualTo(LogLevel.Information));
        });
    }

    [Test]
    public void Report_NoSharedLabel_LogsAWarning()
    {
        var logger = new CapturingLogger();
        const string Config = """<View><Image name="image" value="$image"/><BrushLabels name="b" toName="image"><Label value="Dog"/></BrushLabels><KeyPointLabels name="k" toName="image" smart="true"><Label value="Cat"/></KeyPointLabels></View>""";

        new SetupFindingsLog(logger).Report("3", Config);

        Assert.That(logger.Events.Select(e => e.Id), Is.EqualTo(new[] { 1221, 1223 }));
    }

    private sealed class CapturingLogger : ILogger<SetupFindingsLog>
    {
        public List<(int Id, LogLevel Level, string Message)> Events { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Events.Add((eventId.Id, logLevel, formatter(state, exception)));
    }
}
