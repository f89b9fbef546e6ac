using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// An image's bytes in a buffer rented from <see cref="ArrayPool{T}.Shared"/>. The owner disposes it exactly once,
/// which returns the buffer; <see cref="Bytes"/> must not be used afterwards.
/// </summary>
internal sealed class FetchedImage : IMemoryOwner<byte>
{
    private byte[]? _buffer;

    internal FetchedImage(byte[] buffer, int length, string identity)
    {
        _buffer = buffer;
        Length = length;
        Identity = identity;
    }

    /// <summary>Stable cache key of the image: see <see cref="ImageFetcher.GetIdentity"/>.</summary>
    public string Identity { get; }

    public int Length { get; }

    /// <summary>The encoded image (JPEG/PNG/...), <see cref="Length"/> bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => Memory;

    /// <summary>The same bytes as <see cref="Bytes"/>, for owners that take an <see cref="IMemoryOwner{T}"/> (the embedding store).</summary>
    public Memory<byte> Memory => (_buffer ?? throw new ObjectDisposedException(nameof(FetchedImage))).AsMemory(0, Length);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
            ArrayPool<byte>.Shared.Return(buffer);
    }
}

/// <summary>
/// Reads a task's image like the SDK's <c>get_local_path</c> (docs/label-studio-protocol.md §3.1):
/// <list type="bullet">
/// <item><c>/data/upload/..</c>, <c>upload/..</c> and other relative paths → LABEL_STUDIO_URL + path, with the LS token;</item>
/// <item><c>/data/local-files/?d=p</c> → LOCAL_FILES_DOCUMENT_ROOT/p when set and present (never outside the root,
/// symlinks included), else via Label Studio;</item>
/// <item>http(s) URLs → directly; the token only to the Label Studio origin (scheme, host, port);</item>
/// <item><c>s3://</c>, <c>gs://</c>, <c>azure-blob://</c> → <c>{LS}/tasks/{id}/presign/?fileuri=&lt;base64url&gt;</c>,
/// following the 303 to the presigned URL without the token.</item>
/// </list>
/// Redirects are followed here (at most 5), attaching the token only on the Label Studio origin. Every request and
/// redirect hop passes <see cref="ImageUrlGuard"/> (IMAGE_URL_POLICY, IMAGE_URL_ALLOWLIST): loopback, private,
/// link-local and similar addresses are refused unless they are Label Studio's or allowlisted, checked on the addresses
/// actually connected to. No HTTP proxy is used, so the checked address is the one connected to. One fetch is bounded by
/// <see cref="LabelStudioOptions.FetchTimeout"/>; connect errors, 5xx, 408 and 429 are retried with jittered
/// exponential backoff; a 401 with a personal access token refreshes the access token once. Thread-safe; one instance
/// per process (it owns its HttpClient).
/// </summary>
internal sealed class ImageFetcher : IDisposable
{
    private const int MaxRedirects = 5;
    private const int InitialBufferBytes = 256 * 1024;
    private static readonly string[] s_cloudSchemes = ["s3://", "gs://", "azure-blob://"];

    private readonly LabelStudioOptions _options;
    private readonly HttpClient _http;
    private readonly LabelStudioAuth _auth;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger? _logger;
    private readonly string? _lsBase;
    private readonly ImageUrlGuard _guard;

    public ImageFetcher(LabelStudioOptions options, ILogger<ImageFetcher>? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger;
        var time = timeProvider ?? TimeProvider.System;
        _lsBase = options.Url?.AbsoluteUri.TrimEnd('/');
        _guard = new ImageUrlGuard(options.Url, options.UrlPolicy, options.Allowlist);
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectCallback = _guard.ConnectAsync,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sam2i/1.0");
        _auth = new LabelStudioAuth(_http, options.Url, options.ApiKey, time);

        var builder = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(options.FetchTimeout);
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder()
                    .Handle<HttpRequestException>(e => e.InnerException is not ImageFetchException)
                    .Handle<IOException>()
                    .Handle<TransientStatusException>(),
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                OnRetry = args =>
                {
                    if (_logger is not null) Log.FetchRetry(_logger, args.AttemptNumber + 1, args.Outcome.Exception?.Message, (int)args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>The kind of LABEL_STUDIO_API_KEY configured.</summary>
    public LabelStudioTokenKind TokenKind => _auth.Kind;

    /// <summary>How many access tokens were obtained by refreshing the personal access token.</summary>
    public int TokenRefreshCount => _auth.RefreshCount;

    /// <summary>
    /// A stable key for caching an image: an http(s) URL as is; anything else as <c>"&lt;LABEL_STUDIO_URL&gt;|&lt;uri&gt;"</c>
    /// with <c>upload/..</c> normalised to <c>/data/upload/..</c>, so the same task URI from two LS instances differs.
    /// </summary>
    public string GetIdentity(string imageUri)
    {
        var uri = imageUri.Trim();
        if (IsHttp(uri))
            return uri;
        return (_lsBase ?? string.Empty) + "|" + NormalizeUpload(uri);
    }

    /// <summary>Fetches the image a task's data refers to.</summary>
    /// <param name="imageUri">The unresolved value from task data.</param>
    /// <param name="taskId">The task id; required for cloud-storage URIs.</param>
    /// <param name="cancellationToken">Cancels the fetch.</param>
    /// <returns>The bytes, owned by the caller (dispose to return the buffer).</returns>
    /// <exception cref="ImageFetchException">The image cannot be read; the message says what to fix.</exception>
    public async Task<FetchedImage> FetchAsync(string imageUri, long? taskId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(imageUri);
        var uri = imageUri.Trim();
        if (uri.Length == 0)
            throw new ImageFetchException(ImageFetchFailure.InvalidUri, "the task's image value is empty; check the task data.");
        var identity = GetIdentity(uri);

        if (IsHttp(uri))
        {
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var url))
                throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"the task's image URL '{Describe(uri)}' is not a valid URL.");
            return await FetchHttpAsync(url, uri, identity, cancellationToken).ConfigureAwait(false);
        }

        if (s_cloudSchemes.Any(s => uri.StartsWith(s, StringComparison.OrdinalIgnoreCase)))
        {
            if (taskId is null)
                throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"{Describe(uri)} is a cloud-storage URI; it can only be resolved for a task with an id.");
            var fileUri = Convert.ToBase64String(Encoding.UTF8.GetBytes(uri)).Replace('+', '-').Replace('/', '_');
            var presign = LabelStudioUrl($"/tasks/{taskId.Value}/presign/?fileuri={Uri.EscapeDataString(fileUri)}", uri);
            return await FetchHttpAsync(presign, uri, identity, cancellationToken).ConfigureAwait(false);
        }

        if (uri.Contains("://", StringComparison.Ordinal) || uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"the task's image '{Describe(uri)}' uses a scheme this backend cannot fetch (use http(s), /data/upload, /data/local-files, s3, gs or azure-blob).");

        var path = NormalizeUpload(uri);
        if (!path.StartsWith('/'))
            path = "/" + path;
        if (path.StartsWith("/data/local-files", StringComparison.Ordinal) && _options.LocalFilesDocumentRoot is { } root)
        {
            var local = await TryReadLocalFileAsync(root, path, identity, cancellationToken).ConfigureAwait(false);
            if (local is not null)
                return local;
        }

        return await FetchHttpAsync(LabelStudioUrl(path, uri), uri, identity, cancellationToken).ConfigureAwait(false);
    }

    private Uri LabelStudioUrl(string pathAndQuery, string original)
    {
        if (_lsBase is null)
        {
            throw new ImageFetchException(ImageFetchFailure.NotConfigured,
                $"LABEL_STUDIO_URL is not set; it is needed to fetch '{Describe(original)}' (set it to the URL this backend can reach Label Studio at, e.g. http://label-studio:8080).");
        }

        return Uri.TryCreate(_lsBase + pathAndQuery, UriKind.Absolute, out var url)
            ? url
            : throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"the task's image path '{Describe(original)}' does not form a valid URL.");
    }

    private async Task<FetchedImage> FetchHttpAsync(Uri url, string original, string identity, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(
                static (state, ct) => new ValueTask<FetchedImage>(state.Self.SendAndReadAsync(state.Url, state.Identity, ct)),
                (Self: this, Url: url, Identity: identity),
                cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException ex)
        {
            throw new ImageFetchException(ImageFetchFailure.Timeout,
                $"fetching the image {Describe(original)} took longer than {_options.FetchTimeout.TotalSeconds:0.#} s; check that {url.Host} answers quickly.", ex);
        }
        catch (HttpRequestException ex) when (ex.InnerException is ImageFetchException refused)
        {
            // Raised by ImageUrlGuard.ConnectAsync after resolving the host.
            throw new ImageFetchException(refused.Failure, refused.Message, ex);
        }
        catch (TransientStatusException ex)
        {
            throw new ImageFetchException(ImageFetchFailure.Unreachable,
                $"{Describe(url)} answered HTTP {ex.StatusCode} after {_options.MaxRetries + 1} attempts; try again later.", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            var hint = IsLabelStudio(url)
                ? " check LABEL_STUDIO_URL is reachable from this backend (inside Docker, localhost is the container itself)."
                : string.Empty;
            var reason = ex is HttpRequestException { InnerException: SocketException se } ? se.SocketErrorCode.ToString() : ex.GetType().Name;
            throw new ImageFetchException(ImageFetchFailure.Unreachable, $"could not reach {Describe(url)} ({reason});{hint}", ex);
        }
    }

    // One attempt: send, follow redirects, refresh the token once on 401, read the body.
    private async Task<FetchedImage> SendAndReadAsync(Uri url, string identity, CancellationToken cancellationToken)
    {
        var current = url;
        Uri? redirectedBy = null;
        string? rejected = null;
        for (var hop = 0; ;)
        {
            await _guard.CheckUrlAsync(current, redirectedBy, cancellationToken).ConfigureAwait(false);
            var toLabelStudio = IsLabelStudio(current);
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            string? authorization = null;
            if (toLabelStudio)
            {
                authorization = await _auth.GetAuthorizationAsync(rejected, cancellationToken).ConfigureAwait(false);
                if (authorization is not null)
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                if (++hop > MaxRedirects)
                    throw new ImageFetchException(ImageFetchFailure.Unreachable, $"too many redirects (more than {MaxRedirects}) fetching {Describe(url)}.");
                redirectedBy = current;
                current = location.IsAbsoluteUri ? location : new Uri(current, location);
                rejected = null;
                continue;
            }

            if (status == 401 && toLabelStudio && _auth.CanRefresh && rejected is null)
            {
                rejected = authorization;
                continue;
            }

            if (status is 401 or 403)
                throw Rejected(current, status, toLabelStudio);
            if (status == 404)
            {
                var hint = toLabelStudio
                    ? "; check LABEL_STUDIO_URL (and LABEL_STUDIO_API_KEY: Label Studio answers 404 to media requests without valid credentials)"
                    : "; check the task's image URL";
                throw new ImageFetchException(ImageFetchFailure.NotFound, $"image not found at {Describe(current)}{hint}.");
            }

            if (TransientStatusException.IsTransient(status))
                throw new TransientStatusException(status, current);
            if (!response.IsSuccessStatusCode)
                throw new ImageFetchException(ImageFetchFailure.Unreachable, $"{Describe(current)} answered HTTP {status}.");

            if (response.Content.Headers.ContentLength is { } declared && declared > _options.MaxImageBytes)
                throw TooLarge(current);
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var initial = (int)Math.Min(_options.MaxImageBytes, response.Content.Headers.ContentLength ?? InitialBufferBytes);
                return await ReadBoundedAsync(stream, initial, current, identity, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private ImageFetchException Rejected(Uri url, int status, bool toLabelStudio)
    {
        if (!toLabelStudio)
        {
            return new ImageFetchException(ImageFetchFailure.Rejected,
                $"{url.Host} refused the image at {Describe(url)} (HTTP {status}); the URL may be private or a presigned link may have expired.");
        }

        var what = _auth.Kind switch
        {
            LabelStudioTokenKind.None => "no token is configured; set LABEL_STUDIO_API_KEY to a personal access token or a legacy token",
            LabelStudioTokenKind.Legacy => "the legacy token in LABEL_STUDIO_API_KEY is invalid, or legacy tokens are disabled (use a personal access token, or enable legacy tokens in the organization settings)",
            _ => "the token in LABEL_STUDIO_API_KEY is expired, revoked or lacks access to this project",
        };
        return new ImageFetchException(ImageFetchFailure.Rejected, $"Label Studio rejected the token (HTTP {status} for {Describe(url)}): {what}.");
    }

    private ImageFetchException TooLarge(Uri url) => new(ImageFetchFailure.TooLarge,
        $"the image at {Describe(url)} is larger than MAX_IMAGE_BYTES ({_options.MaxImageBytes} bytes); raise MAX_IMAGE_BYTES or downscale the image.");

    // Reads at most MaxImageBytes into a pooled buffer, growing it by doubling.
    private Task<FetchedImage> ReadBoundedAsync(Stream stream, int initial, Uri source, string identity, CancellationToken cancellationToken) =>
        ReadBoundedAsync(stream, _options.MaxImageBytes, initial, identity, () => TooLarge(source), cancellationToken);

    /// <summary>
    /// Reads a stream to its end into a pooled buffer of at most <paramref name="max"/> bytes (MAX_IMAGE_BYTES), starting at
    /// <paramref name="initial"/> bytes and doubling; one byte more throws <paramref name="tooLarge"/>'s exception. Shared by
    /// image fetches and the HTTP API's uploads.
    /// </summary>
    /// <returns>The bytes, owned by the caller.</returns>
    internal static async Task<FetchedImage> ReadBoundedAsync(Stream stream, long max, int initial, string identity, Func<Exception> tooLarge,
        CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initial, 1));
        var length = 0;
        try
        {
            while (true)
            {
                var limit = (int)Math.Min(buffer.Length, max);
                if (length == limit)
                {
                    if (length >= max)
                    {
                        // Full: any further byte means the image is too large.
                        var probe = new byte[1];
                        if (await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) > 0)
                            throw tooLarge();
                        break;
                    }

                    var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(max, (long)buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                    continue;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length, limit - length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                length += read;
            }

            return new FetchedImage(buffer, length, identity);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    // Null when the file does not exist under the root (the caller then asks Label Studio).
    private async Task<FetchedImage?> TryReadLocalFileAsync(string root, string pathAndQuery, string identity, CancellationToken cancellationToken)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var relative = q < 0 ? null : QueryHelpers.ParseQuery(pathAndQuery[q..]).TryGetValue("d", out var d) ? d.ToString() : null;
        if (string.IsNullOrEmpty(relative))
            throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"'{pathAndQuery}' has no ?d=<path> parameter.");
        try
        {
            var full = LocalFilePath(root, relative);
            return full is null ? null : await ReadLocalFileAsync(full, relative, identity, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ImageFetchException(ImageFetchFailure.Unreachable,
                $"could not read '{relative}' under LOCAL_FILES_DOCUMENT_ROOT ({ex.GetType().Name}); check the file's permissions for this backend's user.", ex);
        }
    }

    private async Task<FetchedImage> ReadLocalFileAsync(string full, string relative, string identity, CancellationToken cancellationToken)
    {
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            if (stream.Length > _options.MaxImageBytes)
            {
                throw new ImageFetchException(ImageFetchFailure.TooLarge,
                    $"the local file '{relative}' is larger than MAX_IMAGE_BYTES ({_options.MaxImageBytes} bytes); raise MAX_IMAGE_BYTES or downscale the image.");
            }

            var length = (int)stream.Length;
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                return new FetchedImage(buffer, length, identity);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
        }
    }

    /// <summary>
    /// The real path of <paramref name="relative"/> under <paramref name="root"/>, or null when no such file exists.
    /// Throws for '..' segments (also percent-encoded ones), control characters, paths that leave the root, and symlinks
    /// whose target is outside the (real) root.
    /// </summary>
    internal static string? LocalFilePath(string root, string relative)
    {
        if (relative.Any(char.IsControl))
            throw new ImageFetchException(ImageFetchFailure.InvalidUri, "the local-files path contains control characters (e.g. %00); check the task data.");
        // '..' also when still percent-encoded (?d=%252E%252E/x arrives here as %2E%2E/x): Label Studio, asked next,
        // may decode again.
        var decoded = relative;
        for (var round = 0; round < 4; round++)
        {
            if (decoded.Split('/', '\\').Any(s => s == ".."))
                throw OutsideRoot(relative);
            var next = Uri.UnescapeDataString(decoded);
            if (next == decoded)
                break;
            decoded = next;
        }

        var rootFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        // As Python's os.path.join: an absolute d replaces the root, and is then accepted only if it lies under it.
        var full = Path.GetFullPath(Path.Combine(rootFull, relative));
        if (!IsUnder(full, rootFull))
            throw OutsideRoot(relative);
        if (!File.Exists(full))
            return null;
        var realRoot = RealPath(rootFull, 0);
        if (!IsUnder(RealPath(full, 0), realRoot))
            throw OutsideRoot(relative);
        return full;
    }

    private static ImageFetchException OutsideRoot(string relative) => new(ImageFetchFailure.PathOutsideRoot,
        $"the local-files path '{relative}' points outside LOCAL_FILES_DOCUMENT_ROOT; only files under that directory are served.");

    private static bool IsUnder(string path, string root) =>
        path.Equals(root, StringComparison.Ordinal) ||
        path.StartsWith(Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    // Resolves every symlink along the path (like realpath(3)); depth guards against link loops.
    private static string RealPath(string path, int depth)
    {
        if (depth > 32)
            throw new IOException($"too many levels of symbolic links resolving '{path}'.");
        var rootPart = Path.GetPathRoot(path) ?? "/";
        var current = rootPart;
        foreach (var part in path[rootPart.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var target = new FileInfo(next).LinkTarget;
            if (target is not null)
                next = RealPath(Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target)), depth + 1);
            current = next;
        }

        return current;
    }

    private bool IsLabelStudio(Uri url) => _guard.IsLabelStudio(url);

    private static bool IsHttp(string uri) =>
        uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static string NormalizeUpload(string uri) =>
        uri.StartsWith("upload/", StringComparison.Ordinal) ? "/data/" + uri
        : uri.StartsWith("/upload/", StringComparison.Ordinal) ? "/data" + uri
        : uri;

    // For messages and logs: never user info (Basic-auth secrets); Label Studio URLs keep their query (?d=, ?fileuri= are
    // not secret), other URLs lose it, because a presigned URL's query is a credential.
    private string Describe(Uri url) => ImageUrlGuard.SafeText(url, keepQuery: IsLabelStudio(url));

    private string Describe(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var url) && IsHttp(uri) ? Describe(url) : uri;

    public void Dispose()
    {
        _auth.Dispose();
        _http.Dispose();
    }
}
