using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Sam2Interactive.Api;
using Sam2Interactive.StandIns;
using Sam2Interactive.Testing;
using Sam2Interactive.Tests.Support;

namespace Sam2Interactive.Tests.Reliability;

/// <summary>
/// A missing or corrupt model file at start: the host stops itself (ApplicationStopping fires), readiness (what /health
/// answers with 503) gives a reason naming the file, a critical log line names it, and the process exit code is 1. <see cref="Server.RunAsync"/>
/// (what Program.Main returns) is driven in-process too.
/// </summary>
[TestFixture]
[NonParallelizable] // sets and restores Environment.ExitCode
public sealed class ModelFileFaultTests : EmbeddingLeakCheck
{
    private string _dir = null!;
    private int _exitCodeBefore;

    [SetUp]
    public void CreateDirectory()
    {
        _dir = Directory.CreateTempSubdirectory("sam2i-models-").FullName;
        _exitCodeBefore = Environment.ExitCode;
    }

    [TearDown]
    public void RemoveDirectory()
    {
        Environment.ExitCode = _exitCodeBefore;
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Encoder and decoder paths with one of them broken as <paramref name="fault"/> says.</summary>
    private (string Encoder, string Decoder, string Broken) Paths(string which, string fault)
    {
        var good = StandInModelSet.Options(StandInFormat.SamExporter);
        var broken = Path.Combine(_dir, which + ".onnx");
        if (fault == "corrupt") File.WriteAllBytes(broken, "\x08\x07this is not an onnx model"u8.ToArray());
        if (fault == "truncated") File.WriteAllBytes(broken, File.ReadAllBytes(which == "encoder" ? good.EncoderPath! : good.DecoderPath!)[..200]);
        return which == "encoder" ? (broken, good.DecoderPath!, broken) : (good.EncoderPath!, broken, broken);
    }

    [TestCase("encoder", "missing")]
    [TestCase("decoder", "missing")]
    [TestCase("encoder", "corrupt")]
    [TestCase("decoder", "corrupt")]
    [TestCase("decoder", "truncated")]
    public async Task StartAsync_BadModelFile_HostStopsNamingTheFile(string which, string fault)
    {
        var (encoder, decoder, broken) = Paths(which, fault);
        var app = Server.Build(["--urls", "http://127.0.0.1:0"], new Dictionary<string, string?>
        {
            ["ENCODER_PATH"] = encoder,
            ["DECODER_PATH"] = decoder,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        var logs = new CapturingLoggerProvider();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        var stopping = app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            try
            {
                await app.StartAsync();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // The warm-up failed before the host finished starting: StartAsync is cancelled by StopApplication.
            }
            await Task.Delay(Timeout.Infinite, stopping).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(30));

            // What /health answers (503 with this reason) while the host shuts down.
            var readiness = app.Services.GetRequiredService<Readiness>();
            Assert.That(readiness.IsReady, Is.False);
            Assert.That(readiness.Reason, Does.Contain(broken));
            Assert.That(logs.Lines, Has.Some.StartsWith("Critical Cannot start: ").And.Contains(broken));
            Assert.That(Environment.ExitCode, Is.EqualTo(1));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [TestCase("encoder", "missing")]
    [TestCase("decoder", "corrupt")]
    public async Task RunAsync_BadModelFile_ReturnsExitCode1(string which, string fault)
    {
        var (encoder, decoder, _) = Paths(which, fault);

        var code = await Server.RunAsync(["--urls", "http://127.0.0.1:0", "--ENCODER_PATH", encoder, "--DECODER_PATH", decoder, "--LOG_LEVEL", "CRITICAL"])
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(code, Is.EqualTo(1), "the process exits non-zero instead of serving without a model");
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(Lines);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{logLevel} {formatter(state, exception)}");
        }
    }
}
