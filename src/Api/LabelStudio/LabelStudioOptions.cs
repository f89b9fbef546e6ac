using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>
/// How to reach Label Studio for task images. Read from configuration keys named like the environment variables the
/// seed and the SDK use.
/// </summary>
internal sealed class LabelStudioOptions
{
    public const long DefaultMaxImageBytes = 64L * 1024 * 1024;

    /// <summary>LABEL_STUDIO_URL (alias LABEL_STUDIO_HOST): base URL incl. any reverse-proxy path prefix; no trailing '/'.</summary>
    public Uri? Url { get; init; }

    /// <summary>LABEL_STUDIO_API_KEY (alias LABEL_STUDIO_ACCESS_TOKEN): legacy token or personal access token (JWT refresh).</summary>
    public string? ApiKey { get; init; }

    /// <summary>LOCAL_FILES_DOCUMENT_ROOT: when set, <c>/data/local-files/?d=</c> paths are read from here if present.</summary>
    public string? LocalFilesDocumentRoot { get; init; }

    /// <summary>MAX_IMAGE_BYTES: larger images are rejected (reading stops at this size).</summary>
    public long MaxImageBytes { get; init; } = DefaultMaxImageBytes;

    /// <summary>IMAGE_URL_POLICY: <c>any</c> (default) or <c>label-studio-only</c>.</summary>
    public ImageUrlPolicy UrlPolicy { get; init; } = ImageUrlPolicy.Any;

    /// <summary>IMAGE_URL_ALLOWLIST: hosts, origins and address ranges fetched even when private or not Label Studio.</summary>
    public ImageUrlAllowlist Allowlist { get; init; } = ImageUrlAllowlist.Empty;

    /// <summary>FETCH_TIMEOUT (seconds): budget for one image fetch including retries, redirects and the token refresh.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt for connect errors, 5xx, 408 and 429.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First retry delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Reads the settings; an invalid value throws naming the setting.</summary>
    /// <exception cref="InvalidOperationException">A setting has an invalid value.</exception>
    public static LabelStudioOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var (urlKey, urlText) = First(configuration, "LABEL_STUDIO_URL", "LABEL_STUDIO_HOST");
        Uri? url = null;
        if (urlText is not null)
        {
            if (!Uri.TryCreate(urlText.TrimEnd('/'), UriKind.Absolute, out url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidOperationException(
                    $"{urlKey} must be an absolute http:// or https:// URL such as http://label-studio:8080 (got '{urlText}').");
            }
        }

        var maxBytes = DefaultMaxImageBytes;
        var maxText = configuration["MAX_IMAGE_BYTES"];
        if (!string.IsNullOrWhiteSpace(maxText) &&
            (!long.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out maxBytes) || maxBytes <= 0 || maxBytes > int.MaxValue))
        {
            throw new InvalidOperationException($"MAX_IMAGE_BYTES must be a whole number of bytes between 1 and {int.MaxValue} (got '{maxText}').");
        }

        var root = configuration["LOCAL_FILES_DOCUMENT_ROOT"];
        if (!string.IsNullOrWhiteSpace(root) && !Directory.Exists(root))
            throw new InvalidOperationException($"LOCAL_FILES_DOCUMENT_ROOT must be an existing directory (got '{root}'); mount Label Studio's local-files root there or unset it.");
        var policyText = configuration["IMAGE_URL_POLICY"]?.Trim();
        var policy = policyText?.ToLowerInvariant() switch
        {
            null or "" or "any" => ImageUrlPolicy.Any,
            "label-studio-only" => ImageUrlPolicy.LabelStudioOnly,
            _ => throw new InvalidOperationException($"IMAGE_URL_POLICY must be 'any' or 'label-studio-only' (got '{policyText}')."),
        };

        var fetchTimeout = TimeSpan.FromSeconds(30);
        var timeoutText = configuration["FETCH_TIMEOUT"];
        if (!string.IsNullOrWhiteSpace(timeoutText))
        {
            if (!double.TryParse(timeoutText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds < 0.1 || seconds > 3600)
                throw new InvalidOperationException($"FETCH_TIMEOUT must be seconds from 0.1 to 3600 (got '{timeoutText}').");
            fetchTimeout = TimeSpan.FromSeconds(seconds);
        }

        ImageUrlAllowlist allowlist;
        try
        {
            allowlist = ImageUrlAllowlist.Parse(configuration["IMAGE_URL_ALLOWLIST"]);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }

        return new LabelStudioOptions
        {
            UrlPolicy = policy,
            Allowlist = allowlist,
            Url = url,
            ApiKey = First(configuration, "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_ACCESS_TOKEN").Value,
            LocalFilesDocumentRoot = string.IsNullOrWhiteSpace(root) ? null : root,
            MaxImageBytes = maxBytes,
            FetchTimeout = fetchTimeout,
        };
    }

    private static (string Key, string? Value) First(IConfiguration configuration, string key, string alias)
    {
        var value = configuration[key];
        if (!string.IsNullOrWhiteSpace(value))
            return (key, value.Trim());
        value = configuration[alias];
        return string.IsNullOrWhiteSpace(value) ? (key, null) : (alias, value.Trim());
    }
}
