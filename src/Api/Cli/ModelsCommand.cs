using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Sam2Interactive.Api.Cli;

/// <summary>
/// <c>models pull NAME [--dir D] [--base-url U]</c> and <c>models list [--dir D]</c>: fetch the ONNX files of a known model
/// (<see cref="ModelCatalog"/>) into a directory, resuming partial downloads.
/// </summary>
internal static class ModelsCommand
{
    /// <summary>Environment variable giving the default model directory (else <c>./models</c>).</summary>
    public const string ModelDirEnvironmentVariable = "MODEL_DIR";

    public const int ExitOk = 0;

    /// <summary>Download started but failed (HTTP error, truncated body, size or digest mismatch); rerun resumes.</summary>
    public const int ExitFailed = 1;

    /// <summary>Nothing could be done: unknown model name or the server is unreachable.</summary>
    public const int ExitUnavailable = 2;

    public const int ExitCancelled = 130;

    private const string PartSuffix = ".part";
    private const int CopyBufferBytes = 1 << 20;
    private const double Megabyte = 1_000_000;

    // A connection that delivers nothing for this long is treated as dead (the .part is kept for a resume).
    private static readonly TimeSpan s_stallTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Builds the <c>models</c> command; the root command adds it as a subcommand.</summary>
    public static Command Create()
    {
        var pullName = new Argument<string>("name")
        {
            Description = "Model to download: " + string.Join(", ", ModelCatalog.Models.Select(m => m.Name)),
        };
        var pullDir = DirOption();
        var baseUrl = new Option<string?>("--base-url")
        {
            Description = $"Server folder holding the files (default: ${ModelCatalog.BaseUrlEnvironmentVariable} or {ModelCatalog.DefaultBaseUrl})",
        };
        var pull = new Command("pull", "Download a model's encoder and decoder ONNX files") { pullName, pullDir, baseUrl };
        pull.SetAction(async (parseResult, ct) =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            Uri url;
            try
            {
                url = ModelCatalog.ResolveBaseUrl(parseResult.GetValue(baseUrl));
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync(e.Message);
                return ExitUnavailable;
            }

            // Rewrite one progress line only when stderr is a real terminal; logs get a line per 10 %.
            var interactive = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
            return await PullAsync(parseResult.GetRequiredValue(pullName), parseResult.GetRequiredValue(pullDir), url, error, interactive, ct);
        });

        var listDir = DirOption();
        var list = new Command("list", "Show the known models and which files are present") { listDir };
        list.SetAction(parseResult => List(parseResult.GetRequiredValue(listDir), parseResult.InvocationConfiguration.Output));

        return new Command("models", "Download and inspect SAM2 ONNX models") { pull, list };
    }

    /// <summary>
    /// Downloads both files of <paramref name="name"/> into <paramref name="dir"/>, writing progress and errors (one line each,
    /// no stack traces) to <paramref name="progress"/>. Files already present are kept.
    /// </summary>
    /// <returns><see cref="ExitOk"/>, <see cref="ExitFailed"/>, <see cref="ExitUnavailable"/> or <see cref="ExitCancelled"/>.</returns>
    internal static Task<int> PullAsync(string name, string dir, Uri baseUrl, TextWriter progress, CancellationToken ct) =>
        PullAsync(name, dir, baseUrl, progress, interactive: false, ct);

    internal static async Task<int> PullAsync(string name, string dir, Uri baseUrl, TextWriter progress, bool interactive, CancellationToken ct)
    {
        var model = ModelCatalog.Find(name);
        if (model is null)
        {
            await progress.WriteLineAsync(
                $"unknown model '{name}'; known models: {string.Join(", ", ModelCatalog.Models.Select(m => m.Name))}");
            return ExitUnavailable;
        }

        return await PullAsync(model, dir, baseUrl, progress, interactive, ct);
    }

    /// <summary>Downloads the files of <paramref name="model"/> (the catalog entry, or a test's own entry with digests).</summary>
    internal static async Task<int> PullAsync(ModelEntry model, string dir, Uri baseUrl, TextWriter progress, bool interactive, CancellationToken ct)
    {
        if (!baseUrl.AbsoluteUri.EndsWith('/'))
        {
            baseUrl = new Uri(baseUrl.AbsoluteUri + "/");
        }

        var fullDir = Path.GetFullPath(dir);
        try
        {
            Directory.CreateDirectory(fullDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await progress.WriteLineAsync($"cannot create {fullDir}: {e.Message}");
            return ExitFailed;
        }

        using var http = CreateHttpClient();
        foreach (var file in model.Files)
        {
            var url = new Uri(baseUrl, file.FileName);
            var target = Path.Combine(fullDir, file.FileName);
            try
            {
                var exit = await DownloadFileAsync(http, url, target, file, progress, interactive, ct);
                if (exit != ExitOk)
                {
                    return exit;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await progress.WriteLineAsync($"cancelled; {file.FileName}{PartSuffix} is kept, rerun to resume");
                return ExitCancelled;
            }
            catch (Exception e) when (IsUnreachable(e))
            {
                var urls = string.Join(" ", model.Files.Select(f => new Uri(baseUrl, f.FileName).AbsoluteUri));
                await progress.WriteLineAsync(
                    $"cannot reach {url.Host}: {Describe(e)}; download the files by hand into {fullDir}: {urls}");
                return ExitUnavailable;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or HttpRequestException)
            {
                await progress.WriteLineAsync($"{file.FileName}: {Describe(e)}");
                return ExitFailed;
            }
        }

        await progress.WriteLineAsync($"{model.Name} is ready in {fullDir}");
        return ExitOk;
    }

    /// <summary>Writes the known models, their approximate sizes and which files exist in <paramref name="dir"/>.</summary>
    /// <returns><see cref="ExitOk"/>.</returns>
    internal static int List(string dir, TextWriter output)
    {
        var fullDir = Path.GetFullPath(dir);
        output.WriteLine($"models in {fullDir}:");
        output.WriteLine($"{"NAME",-24} {"ENCODER",-11} {"DECODER",-11} FILES");
        foreach (var model in ModelCatalog.Models)
        {
            var states = model.Files.Select(f => $"{(f == model.Encoder ? "encoder" : "decoder")} {FileState(fullDir, f.FileName)}");
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{model.Name,-24} {FormatMegabytes(model.Encoder),-11} {FormatMegabytes(model.Decoder),-11} {string.Join(", ", states)}"));
        }

        return ExitOk;
    }

    private static Option<string> DirOption() => new("--dir")
    {
        Description = $"Model directory (default: ${ModelDirEnvironmentVariable} or ./models)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(ModelDirEnvironmentVariable) is { Length: > 0 } d ? d : "models",
    };

    private static HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = s_connectTimeout,
            AutomaticDecompression = DecompressionMethods.None, // byte counts must match Content-Length
        };

        // Whole-download timeout is off (an 848 MB encoder on a slow link); stalls are caught per read instead.
        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Downloads one file to <c>target.part</c>, resuming it if present, verifies it, then renames it into place.</summary>
    private static async Task<int> DownloadFileAsync(
        HttpClient http, Uri url, string target, ModelFile file, TextWriter progress, bool interactive, CancellationToken ct)
    {
        if (File.Exists(target))
        {
            await progress.WriteLineAsync($"{file.FileName}: already present, skipped (delete it to download again)");
            return ExitOk;
        }

        var part = target + PartSuffix;
        var offset = File.Exists(part) ? new FileInfo(part).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }

        using var response = await SendAsync(http, request, ct);
        long? total;
        switch (response.StatusCode)
        {
            case HttpStatusCode.PartialContent when offset > 0 && response.Content.Headers.ContentRange?.From == offset:
                total = response.Content.Headers.ContentRange.Length ?? offset + response.Content.Headers.ContentLength;
                await progress.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture, $"{file.FileName}: resuming at {offset / Megabyte:F1} MB"));
                break;
            case HttpStatusCode.RequestedRangeNotSatisfiable when offset > 0:
                // The .part is at least as long as the file: either complete (verify below) or stale (start over next run).
                total = response.Content.Headers.ContentRange?.Length;
                if (total != offset)
                {
                    File.Delete(part);
                    await progress.WriteLineAsync($"{file.FileName}: partial file does not fit the server's file ({total?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} bytes); removed it, rerun to download again");
                    return ExitFailed;
                }

                return await FinishAsync(part, target, file, offset, progress);
            case HttpStatusCode.OK:
                if (offset > 0)
                {
                    await progress.WriteLineAsync($"{file.FileName}: server ignored the range request; downloading from the start");
                }

                offset = 0;
                total = response.Content.Headers.ContentLength;
                break;
            default:
                await progress.WriteLineAsync(
                    $"{file.FileName}: {url} answered {(int)response.StatusCode} {response.ReasonPhrase}");
                return ExitFailed;
        }

        var received = offset;
        var reporter = new ProgressLine(progress, file.FileName, total, interactive);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            await using (var output = new FileStream(part, offset > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 0))
            await using (var body = await response.Content.ReadAsStreamAsync(ct))
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                while (true)
                {
                    stall.CancelAfter(s_stallTimeout);
                    int read;
                    try
                    {
                        read = await body.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), stall.Token);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new IOException($"no data for {s_stallTimeout.TotalSeconds:F0} s");
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    await output.WriteAsync(buffer.AsMemory(0, read), ct);
                    received += read;
                    reporter.Report(received);
                }
            }
        }
        catch (IOException e)
        {
            reporter.End();
            await progress.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"{file.FileName}: download interrupted after {received} of {total?.ToString(CultureInfo.InvariantCulture) ?? "?"} bytes ({Describe(e)}); rerun to resume"));
            return ExitFailed;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        reporter.End();
        if (total is { } expected && received != expected)
        {
            await progress.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"{file.FileName}: got {received} of {expected} bytes; rerun to resume"));
            return ExitFailed;
        }

        return await FinishAsync(part, target, file, received, progress);
    }

    /// <summary>Checks size and (when known) SHA-256 of the complete <paramref name="part"/>, then renames it to <paramref name="target"/>.</summary>
    private static async Task<int> FinishAsync(string part, string target, ModelFile file, long length, TextWriter progress)
    {
        if (length <= 0)
        {
            File.Delete(part);
            await progress.WriteLineAsync($"{file.FileName}: server sent an empty file");
            return ExitFailed;
        }

        if (file.Sha256 is { } expected)
        {
            string actual;
            await using (var stream = new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferBytes, FileOptions.SequentialScan))
            {
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
            }

            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(part);
                await progress.WriteLineAsync($"{file.FileName}: SHA-256 {actual} does not match the expected {expected}; removed the download");
                return ExitFailed;
            }
        }

        // Same directory, so the rename is atomic: a reader sees either no model file or the complete one.
        File.Move(part, target, overwrite: false);
        await progress.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture, $"{file.FileName}: saved ({length / Megabyte:F2} MB)"));
        return ExitOk;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken ct)
    {
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            // SocketsHttpHandler.ConnectTimeout surfaces as a cancellation that the caller did not request.
            throw new HttpRequestException(HttpRequestError.ConnectionError, "connection timed out", e);
        }
    }

    private static bool IsUnreachable(Exception e) => e is HttpRequestException
    {
        HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError
            or HttpRequestError.ProxyTunnelError or HttpRequestError.SecureConnectionError,
    };

    /// <summary>The innermost useful message, e.g. "Connection refused (127.0.0.1:5)" rather than the HttpClient wrapper.</summary>
    private static string Describe(Exception e)
    {
        var message = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
                message = inner.Message;
            }
        }

        return message;
    }

    private static string FileState(string dir, string fileName)
    {
        var path = Path.Combine(dir, fileName);
        if (File.Exists(path))
        {
            return "present";
        }

        return File.Exists(path + PartSuffix)
            ? string.Create(CultureInfo.InvariantCulture, $"partial ({new FileInfo(path + PartSuffix).Length / Megabyte:F1} MB)")
            : "missing";
    }

    private static string FormatMegabytes(ModelFile file) =>
        string.Create(CultureInfo.InvariantCulture, $"~{file.ApproximateMegabytes:F2} MB");

    /// <summary>
    /// Download progress on stderr: one line rewritten with '\r' on a terminal, otherwise a line per 10 % (or per 100 MB when
    /// the size is unknown) so logs stay short.
    /// </summary>
    private sealed class ProgressLine(TextWriter writer, string label, long? total, bool interactive)
    {
        private const long UnknownTotalStep = 100_000_000;
        private long _lastReported = -1;
        private bool _lineOpen;

        public void Report(long received)
        {
            var step = total is > 0 ? (interactive ? received * 1000 / total.Value : received * 10 / total.Value) : received / UnknownTotalStep;
            if (step == _lastReported)
            {
                return;
            }

            _lastReported = step;
            var text = total is > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{label}: {100.0 * received / total.Value,5:F1}% {received / Megabyte:F1}/{total.Value / Megabyte:F1} MB")
                : string.Create(CultureInfo.InvariantCulture, $"{label}: {received / Megabyte:F1} MB");
            if (interactive)
            {
                writer.Write("\r" + text);
                _lineOpen = true;
            }
            else
            {
                writer.WriteLine(text);
            }
        }

        public void End()
        {
            if (_lineOpen)
            {
                writer.WriteLine();
                _lineOpen = false;
            }
        }
    }
}
