using System.Collections.Concurrent;
using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using NUnit.Framework;
using Sam2Interactive.Api.Cli;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
public sealed class ModelsCommandTests
{
    private const string Model = "sam2.1_hiera_tiny";
    private const string EncoderName = Model + ".encoder.onnx";
    private const string DecoderName = Model + ".decoder.onnx";

    private static readonly byte[] s_encoderBytes = StandInBytes(200_000, seed: 1);
    private static readonly byte[] s_decoderBytes = StandInBytes(50_000, seed: 2);

    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "sam2i-models-" + Guid.NewGuid().ToString("N"));
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    public async Task PullAsync_RangeCapableServer_WritesBothFilesAndNoPartFiles()
    {
        await using var server = await ModelServer.StartAsync();
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk), output.ToString());
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, EncoderName)), Is.EqualTo(s_encoderBytes));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, DecoderName)), Is.EqualTo(s_decoderBytes));
        Assert.That(Directory.GetFiles(_dir, "*.part"), Is.Empty);
        Assert.That(server.Requests.Select(r => r.Range), Is.All.Null);
    }

    [Test]
    public async Task PullAsync_HalfWrittenPart_ResumesWithRangeRequestAndCompletesFile()
    {
        await using var server = await ModelServer.StartAsync();
        Directory.CreateDirectory(_dir);
        await File.WriteAllBytesAsync(Path.Combine(_dir, EncoderName + ".part"), s_encoderBytes.AsSpan(0, 100_000).ToArray());
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk), output.ToString());
        Assert.That(server.Requests, Has.One.EqualTo(new Request("/" + EncoderName, "bytes=100000-", 206, 100_000)));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, EncoderName)), Is.EqualTo(s_encoderBytes));
        Assert.That(File.Exists(Path.Combine(_dir, EncoderName + ".part")), Is.False);
        Assert.That(output.ToString(), Does.Contain("resuming at 0.1 MB"));
    }

    [Test]
    public async Task PullAsync_ServerIgnoresRange_RestartsFromZero()
    {
        await using var server = await ModelServer.StartAsync(ServeMode.IgnoreRanges);
        Directory.CreateDirectory(_dir);
        // Wrong bytes in the .part: appending to them would corrupt the file, so an equal result proves the restart.
        await File.WriteAllBytesAsync(Path.Combine(_dir, EncoderName + ".part"), new byte[100_000]);
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk), output.ToString());
        Assert.That(server.Requests, Has.One.EqualTo(new Request("/" + EncoderName, "bytes=100000-", 200, s_encoderBytes.Length)));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, EncoderName)), Is.EqualTo(s_encoderBytes));
        Assert.That(output.ToString(), Does.Contain("server ignored the range request"));
    }

    [Test]
    public async Task PullAsync_TruncatedResponse_FailsWithoutFinalFileAndRerunResumes()
    {
        await using var server = await ModelServer.StartAsync(ServeMode.Truncate);
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitFailed), output.ToString());
        Assert.That(File.Exists(Path.Combine(_dir, EncoderName)), Is.False);
        Assert.That(output.ToString(), Does.Contain(EncoderName + ": download interrupted").And.Contain("rerun to resume"));
        Assert.That(output.ToString(), Does.Not.Contain("   at "));
        var part = await File.ReadAllBytesAsync(Path.Combine(_dir, EncoderName + ".part"));
        Assert.That(part, Is.EqualTo(s_encoderBytes.AsSpan(0, part.Length).ToArray()));

        server.Mode = ServeMode.Ranges;
        var rerun = await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, new StringWriter(), CancellationToken.None);

        Assert.That(rerun, Is.EqualTo(ModelsCommand.ExitOk));
        Assert.That(server.Requests.Last(r => r.Path == "/" + EncoderName).Range, Is.EqualTo($"bytes={part.Length}-"));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, EncoderName)), Is.EqualTo(s_encoderBytes));
    }

    [Test]
    public async Task PullAsync_ConnectionRefused_Exit2WithOneClearLine()
    {
        var port = UnusedPort();
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, new Uri($"http://127.0.0.1:{port}/"), output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitUnavailable));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("cannot reach 127.0.0.1: "));
        Assert.That(lines[0], Does.Contain("; download the files by hand into " + Path.GetFullPath(_dir)));
        Assert.That(lines[0], Does.Contain($"http://127.0.0.1:{port}/{EncoderName}"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }

    [Test]
    public async Task PullAsync_UnresolvableHost_Exit2WithOneClearLine()
    {
        // RFC 2606: .invalid never resolves.
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(Model, _dir, new Uri("http://models.sam2i.invalid/v2.5.0/"), output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitUnavailable));
        Assert.That(output.ToString(), Does.StartWith("cannot reach models.sam2i.invalid: "));
        Assert.That(output.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public async Task PullAsync_UnknownName_Exit2AndListsKnownNames()
    {
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync("sam3_huge", _dir, new Uri("http://127.0.0.1:9/"), output, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitUnavailable));
        Assert.That(output.ToString(), Does.StartWith("unknown model 'sam3_huge'; known models: sam2.1_hiera_tiny, sam2.1_hiera_small, sam2.1_hiera_base_plus, sam2.1_hiera_large"));
    }

    [Test]
    public async Task PullAsync_MissingFileOnServer_FailsWithStatus()
    {
        await using var server = await ModelServer.StartAsync();
        var model = new ModelEntry("other", new ModelFile("other.encoder.onnx", 1), new ModelFile("other.decoder.onnx", 1));
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(model, _dir, server.BaseUrl, output, interactive: false, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitFailed));
        Assert.That(output.ToString(), Does.Contain("answered 404"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }

    [Test]
    public async Task PullAsync_KnownDigestMatches_SavesFile()
    {
        await using var server = await ModelServer.StartAsync();
        var model = new ModelEntry(
            Model,
            new ModelFile(EncoderName, 0.2, Convert.ToHexStringLower(SHA256.HashData(s_encoderBytes))),
            new ModelFile(DecoderName, 0.05, Convert.ToHexString(SHA256.HashData(s_decoderBytes))));

        var exit = await ModelsCommand.PullAsync(model, _dir, server.BaseUrl, new StringWriter(), interactive: false, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk));
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, DecoderName)), Is.EqualTo(s_decoderBytes));
    }

    [Test]
    public async Task PullAsync_DigestMismatch_FailsAndRemovesDownload()
    {
        await using var server = await ModelServer.StartAsync();
        var model = new ModelEntry(
            Model, new ModelFile(EncoderName, 0.2, new string('0', 64)), new ModelFile(DecoderName, 0.05));
        var output = new StringWriter();

        var exit = await ModelsCommand.PullAsync(model, _dir, server.BaseUrl, output, interactive: false, CancellationToken.None);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitFailed));
        Assert.That(output.ToString(), Does.Contain("does not match the expected"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }

    [Test]
    public async Task PullAsync_NonInteractive_ReportsProgressInTenPercentLines()
    {
        await using var server = await ModelServer.StartAsync();
        var output = new StringWriter();

        await ModelsCommand.PullAsync(Model, _dir, server.BaseUrl, output, CancellationToken.None);

        var progress = output.ToString().Split('\n').Where(l => l.StartsWith(EncoderName + ":", StringComparison.Ordinal) && l.Contains('%')).ToArray();
        Assert.That(progress, Is.Not.Empty.And.Length.LessThanOrEqualTo(11));
        Assert.That(progress[^1], Does.Contain("100.0% 0.2/0.2 MB"));
        Assert.That(output.ToString(), Does.Not.Contain('\r'));
    }

    [Test]
    public async Task PullAsync_Interactive_RewritesOneProgressLineWithCarriageReturn()
    {
        await using var server = await ModelServer.StartAsync();
        var output = new StringWriter();

        await ModelsCommand.PullAsync(ModelCatalog.Find(Model)!, _dir, server.BaseUrl, output, interactive: true, CancellationToken.None);

        var text = output.ToString();
        Assert.That(text, Does.StartWith("\r" + EncoderName + ":"));
        Assert.That(text, Does.Contain("\r" + EncoderName + ": 100.0% 0.2/0.2 MB" + Environment.NewLine + EncoderName + ": saved"));
    }

    [Test]
    public void List_SomeFilesPresent_ShowsSizesAndEachFileState()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllBytes(Path.Combine(_dir, EncoderName), [1]);
        File.WriteAllBytes(Path.Combine(_dir, DecoderName + ".part"), new byte[500_000]);
        var output = new StringWriter();

        var exit = ModelsCommand.List(_dir, output);

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk));
        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(6));
        Assert.That(lines[0], Is.EqualTo($"models in {Path.GetFullPath(_dir)}:"));
        Assert.That(lines[2], Does.StartWith(Model).And.Contain("~128.04 MB").And.Contain("~19.68 MB")
            .And.EndWith("encoder present, decoder partial (0.5 MB)"));
        Assert.That(lines[5], Does.StartWith("sam2.1_hiera_large").And.Contain("~848.16 MB")
            .And.EndWith("encoder missing, decoder missing"));
    }

    [Test]
    public void Create_ListCommandLine_WritesListToConfiguredOutput()
    {
        var output = new StringWriter();

        var exit = ModelsCommand.Create().Parse(["list", "--dir", _dir]).Invoke(new InvocationConfiguration { Output = output });

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk));
        Assert.That(output.ToString(), Does.Contain("sam2.1_hiera_base_plus").And.Contain("~324.04 MB"));
    }

    [Test]
    public async Task Create_PullCommandLine_DownloadsFromBaseUrlOption()
    {
        await using var server = await ModelServer.StartAsync();
        var error = new StringWriter();

        var exit = await ModelsCommand.Create()
            .Parse(["pull", Model, "--dir", _dir, "--base-url", server.BaseUrl.AbsoluteUri.TrimEnd('/')])
            .InvokeAsync(new InvocationConfiguration { Error = error, Output = TextWriter.Null });

        Assert.That(exit, Is.EqualTo(ModelsCommand.ExitOk), error.ToString());
        Assert.That(await File.ReadAllBytesAsync(Path.Combine(_dir, DecoderName)), Is.EqualTo(s_decoderBytes));
    }

    private static byte[] StandInBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private enum ServeMode
    {
        /// <summary>Honour Range requests (206 / 416), like GitHub's release storage.</summary>
        Ranges,

        /// <summary>Always answer 200 with the whole file.</summary>
        IgnoreRanges,

        /// <summary>Promise the whole file in Content-Length, send half of it, then drop the connection.</summary>
        Truncate,
    }

    private sealed record Request(string Path, string? Range, int Status, long? BodyLength);

    /// <summary>A real Kestrel server on 127.0.0.1 (ephemeral port) serving the stand-in model files.</summary>
    private sealed class ModelServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private ModelServer(WebApplication app) => _app = app;

        public ServeMode Mode { get; set; }

        public ConcurrentQueue<Request> Requests { get; } = new();

        public Uri BaseUrl => new(_app.Urls.Single() + "/");

        public static async Task<ModelServer> StartAsync(ServeMode mode = ServeMode.Ranges)
        {
            var app = LoopbackApp.Create();
            var server = new ModelServer(app) { Mode = mode };
            var files = new Dictionary<string, byte[]> { [EncoderName] = s_encoderBytes, [DecoderName] = s_decoderBytes };

            app.Use(async (context, next) =>
            {
                await next(context);
                server.Requests.Enqueue(new Request(
                    context.Request.Path.Value!,
                    context.Request.Headers.Range.Count == 0 ? null : context.Request.Headers.Range.ToString(),
                    context.Response.StatusCode,
                    context.Response.ContentLength));
            });
            app.MapGet("/{file}", async (string file, HttpContext context) =>
            {
                if (!files.TryGetValue(file, out var bytes))
                {
                    return Results.NotFound();
                }

                switch (server.Mode)
                {
                    case ServeMode.Truncate:
                        context.Response.ContentLength = bytes.Length;
                        await context.Response.Body.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
                        await context.Response.Body.FlushAsync();
                        context.Abort();
                        return Results.Empty;
                    case ServeMode.IgnoreRanges:
                        return Results.Bytes(bytes, "application/octet-stream");
                    default:
                        return Results.Bytes(bytes, "application/octet-stream", enableRangeProcessing: true);
                }
            });

            await app.StartAsync();
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
