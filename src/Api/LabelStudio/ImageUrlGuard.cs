using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>IMAGE_URL_POLICY: which hosts task images may be fetched from.</summary>
internal enum ImageUrlPolicy
{
    /// <summary><c>any</c>: public addresses, the Label Studio origin and IMAGE_URL_ALLOWLIST.</summary>
    Any,

    /// <summary><c>label-studio-only</c>: the Label Studio origin, the redirects it answers with (presigned URLs, to
    /// public addresses) and IMAGE_URL_ALLOWLIST.</summary>
    LabelStudioOnly,
}

/// <summary>
/// IMAGE_URL_ALLOWLIST: comma-separated entries, each one of
/// <c>host</c> (any scheme and port), <c>host:port</c> / <c>[v6]:port</c> (any scheme), <c>scheme://host[:port]</c>
/// (exactly that origin; the scheme's default port when none is given), or an address range <c>10.0.0.0/8</c>,
/// <c>fd00::/8</c> (a bare address is a one-address range). Host entries make the origin trusted (its addresses are not
/// checked); ranges admit addresses a host name resolves to, and IP-literal URLs inside them. Immutable.
/// </summary>
internal sealed class ImageUrlAllowlist
{
    private readonly List<(string? Scheme, string Host, int? Port)> _origins = [];
    private readonly List<IPNetwork> _networks = [];

    public static ImageUrlAllowlist Empty { get; } = new();

    /// <summary>True when at least one entry is an address range.</summary>
    public bool HasRanges => _networks.Count > 0;

    /// <summary>Parses the setting's value; null or blank gives an empty list.</summary>
    /// <exception cref="ArgumentException">An entry is malformed; the message names IMAGE_URL_ALLOWLIST and the entry.</exception>
    public static ImageUrlAllowlist Parse(string? text)
    {
        var list = new ImageUrlAllowlist();
        if (string.IsNullOrWhiteSpace(text))
            return list;
        foreach (var raw in text.Split(','))
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
                continue;
            if (entry.Contains("://", StringComparison.Ordinal))
                list._origins.Add(ParseOrigin(entry));
            else if (entry.Contains('/', StringComparison.Ordinal))
                list._networks.Add(IPNetwork.TryParse(entry, out var network) && IsCanonical(entry, network)
                    ? network
                    : throw Bad(entry, "is not a valid address range (CIDR such as 10.0.0.0/8 or fd00::/8, with no bits set after the prefix)"));
            else if (IPAddress.TryParse(entry, out var address) && !entry.Contains('[', StringComparison.Ordinal))
                list._networks.Add(new IPNetwork(Normalize(address), Normalize(address).AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            else
                list._origins.Add(ParseHostPort(entry));
        }

        return list;
    }

    /// <summary>True when an origin entry matches <paramref name="url"/>'s scheme, host and port.</summary>
    public bool AllowsOrigin(Uri url)
    {
        var host = ImageUrlGuard.HostOf(url);
        foreach (var (scheme, entryHost, port) in _origins)
        {
            if (entryHost == host && (port is null || port == url.Port) &&
                (scheme is null || string.Equals(scheme, url.Scheme, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="address"/> (IPv4-mapped forms as IPv4) lies in a range entry.</summary>
    public bool AllowsAddress(IPAddress address)
    {
        var normalized = Normalize(address);
        foreach (var network in _networks)
        {
            if (network.Contains(normalized))
                return true;
        }

        return false;
    }

    private static (string?, string, int?) ParseOrigin(string entry)
    {
        if (!Uri.TryCreate(entry, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw Bad(entry, "is not an http:// or https:// origin");
        if (url.UserInfo.Length > 0 || url.AbsolutePath != "/" || url.Query.Length > 0 || url.Fragment.Length > 0)
            throw Bad(entry, "must be an origin only (scheme://host:port, no path, query or credentials)");
        return (url.Scheme, ImageUrlGuard.HostOf(url), url.Port);
    }

    private static (string?, string, int?) ParseHostPort(string entry)
    {
        string host;
        string? portText = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
                throw Bad(entry, "has an unclosed '['");
            host = entry[1..close];
            var rest = entry[(close + 1)..];
            if (rest.Length > 0)
                portText = rest.StartsWith(':') ? rest[1..] : throw Bad(entry, "has text after ']' that is not ':port'");
            if (!IPAddress.TryParse(host, out _))
                throw Bad(entry, "has no IPv6 address inside '[...]'");
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            host = colon < 0 ? entry : entry[..colon];
            portText = colon < 0 ? null : entry[(colon + 1)..];
            if (Uri.CheckHostName(host.TrimEnd('.')) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
                throw Bad(entry, "is not a host name, host:port, scheme://host:port or address range");
        }

        int? port = null;
        if (portText is not null)
        {
            port = int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 65535
                ? p
                : throw Bad(entry, "has a port that is not a number from 1 to 65535");
        }

        return (null, ImageUrlGuard.NormalizeHost(host), port);
    }

    private static ArgumentException Bad(string entry, string why) =>
        new($"IMAGE_URL_ALLOWLIST entry '{entry}' {why}.");

    // "10.0.0.1/8" is refused rather than silently read as 10.0.0.0/8: it is probably a typo for a single address.
    private static bool IsCanonical(string entry, IPNetwork network) =>
        IPAddress.TryParse(entry.AsSpan(0, entry.IndexOf('/', StringComparison.Ordinal)), out var written) &&
        written.Equals(network.BaseAddress) && !written.IsIPv4MappedToIPv6;

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}

/// <summary>
/// The network boundary of image fetching (no SSRF through task data or webhooks). A URL is allowed when its origin
/// (scheme, host, port) is Label Studio's or an IMAGE_URL_ALLOWLIST origin entry ("trusted": any address), or, under
/// <see cref="ImageUrlPolicy.Any"/> (or for a redirect Label Studio answered under <see cref="ImageUrlPolicy.LabelStudioOnly"/>),
/// when every address its host resolves to is public or in an allowlisted range. <see cref="CheckUrlAsync"/> runs before
/// each request and each redirect hop; <see cref="ConnectAsync"/> (the handler's ConnectCallback) resolves the name
/// itself, checks every address and connects to a vetted one, so DNS rebinding between check and connect cannot reach
/// a refused address. Thread-safe.
/// </summary>
internal sealed class ImageUrlGuard
{
    private readonly Uri? _labelStudio;
    private readonly ImageUrlPolicy _policy;
    private readonly ImageUrlAllowlist _allowlist;

    public ImageUrlGuard(Uri? labelStudioUrl, ImageUrlPolicy policy, ImageUrlAllowlist allowlist)
    {
        _labelStudio = labelStudioUrl;
        _policy = policy;
        _allowlist = allowlist ?? throw new ArgumentNullException(nameof(allowlist));
    }

    /// <summary>Same scheme, host and port as LABEL_STUDIO_URL (user info ignored).</summary>
    public bool IsLabelStudio(Uri url) =>
        _labelStudio is not null &&
        string.Equals(url.Scheme, _labelStudio.Scheme, StringComparison.OrdinalIgnoreCase) &&
        HostOf(url) == HostOf(_labelStudio) &&
        url.Port == _labelStudio.Port;

    /// <summary>Label Studio's origin or an allowlisted origin: fetched whatever its addresses are.</summary>
    public bool IsTrusted(Uri url) => IsLabelStudio(url) || _allowlist.AllowsOrigin(url);

    /// <summary>
    /// Refuses <paramref name="url"/> before any connection when its scheme, policy or literal address forbids it.
    /// Host names are checked again on the addresses they resolve to by <see cref="ConnectAsync"/>.
    /// </summary>
    /// <param name="url">The absolute URL about to be requested.</param>
    /// <param name="redirectedBy">The URL whose response redirected here, or null for the first request.</param>
    /// <param name="cancellationToken">Cancels a DNS lookup (label-studio-only with address ranges only).</param>
    /// <exception cref="ImageFetchException"><see cref="ImageFetchFailure.Refused"/> or <see cref="ImageFetchFailure.InvalidUri"/>.</exception>
    public async ValueTask CheckUrlAsync(Uri url, Uri? redirectedBy, CancellationToken cancellationToken)
    {
        var via = redirectedBy is null ? string.Empty : $"a redirect from {redirectedBy.Host} led to {SafeText(url, keepQuery: false)}: ";
        if (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            throw new ImageFetchException(ImageFetchFailure.InvalidUri, $"{via}only http:// and https:// image URLs are fetched (got a {url.Scheme}: URL).");
        if (IsTrusted(url))
            return;

        var host = HostOf(url);
        var literal = IPAddress.TryParse(host, out var address) ? address : null;
        if (_policy == ImageUrlPolicy.LabelStudioOnly && !(redirectedBy is not null && IsLabelStudio(redirectedBy)))
        {
            // Only allowlisted ranges can admit this host; resolving is pointless (and external traffic) without them.
            var admitted = _allowlist.HasRanges && (literal is not null
                ? _allowlist.AllowsAddress(literal)
                : (await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false)) is { Length: > 0 } all && all.All(_allowlist.AllowsAddress));
            if (!admitted)
            {
                throw new ImageFetchException(ImageFetchFailure.Refused,
                    $"{via}IMAGE_URL_POLICY is label-studio-only and {DisplayHost(url)} is neither Label Studio nor listed in IMAGE_URL_ALLOWLIST; " +
                    "add it to IMAGE_URL_ALLOWLIST if it is trusted, or set IMAGE_URL_POLICY=any.");
            }

            return;
        }

        if (literal is not null && Refusal(literal) is { } reason)
            throw new ImageFetchException(ImageFetchFailure.Refused, $"{via}the image host {DisplayHost(url)} is {reason}; add it to IMAGE_URL_ALLOWLIST if it is trusted.");
    }

    /// <summary>
    /// SocketsHttpHandler.ConnectCallback: resolves the host, refuses the connection unless the origin is trusted or every
    /// address is public or allowlisted, then connects to the vetted addresses in order (never resolving again).
    /// </summary>
    /// <exception cref="ImageFetchException"><see cref="ImageFetchFailure.Refused"/>, wrapped by the handler in an
    /// <see cref="HttpRequestException"/>.</exception>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        var host = NormalizeHost(endpoint.Host);
        IPAddress[] addresses = IPAddress.TryParse(host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
            throw new SocketException((int)SocketError.HostNotFound);

        var url = context.InitialRequestMessage.RequestUri;
        if (url is null || !IsTrusted(url))
        {
            foreach (var address in addresses)
            {
                if (Refusal(address) is { } reason)
                {
                    var name = literal is null ? $"{host} resolves to {address}, which" : host;
                    throw new ImageFetchException(ImageFetchFailure.Refused,
                        $"the image host {name} is {reason}; add it to IMAGE_URL_ALLOWLIST if it is trusted.");
                }
            }
        }

        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    /// <summary>Null when <paramref name="address"/> may be fetched; else why not ("a private address").</summary>
    private string? Refusal(IPAddress address) => _allowlist.AllowsAddress(address) ? null : Classify(address);

    /// <summary>
    /// Null for a globally routable unicast address; else a phrase naming its kind: loopback, link-local (incl. the cloud
    /// metadata address 169.254.169.254), private (RFC 1918, fc00::/7), unspecified, carrier-grade NAT (100.64/10),
    /// multicast, or reserved (documentation, benchmarking, 240/4, broadcast). IPv4-mapped, NAT64 (64:ff9b::/96) and
    /// 6to4 (2002::/16) IPv6 forms are judged by the IPv4 address they carry.
    /// </summary>
    internal static string? Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            if (address.IsIPv4MappedToIPv6)
                return Classify(address.MapToIPv4());
            if (b[..12].SequenceEqual(s_nat64Prefix))
                return Classify(new IPAddress(b[12..]));
            if (b[0] == 0x20 && b[1] == 0x02)
                return Classify(new IPAddress(b[2..6]));
            if (address.Equals(IPAddress.IPv6Any))
                return "an unspecified address";
            if (address.Equals(IPAddress.IPv6Loopback))
                return "a loopback address";
            if (b[..12].IndexOfAnyExcept((byte)0) < 0)
                return "a reserved address (IPv4-compatible IPv6)";
            if (b[0] == 0xff)
                return "a multicast address";
            if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
                return "a link-local address";
            if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0))
                return "a private address";
            if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01)
                return "a private address (local-use NAT64)";
            if ((b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || (b[0] == 0x01 && b[1] == 0x00 && b[2..8].IndexOfAnyExcept((byte)0) < 0))
                return "a reserved address";
            return null;
        }

        if (address.AddressFamily != AddressFamily.InterNetwork)
            return "not an IP address";
        Span<byte> v4 = stackalloc byte[4];
        address.TryWriteBytes(v4, out _);
        return (v4[0], v4[1], v4[2]) switch
        {
            (0, _, _) => "an unspecified address",
            (10, _, _) => "a private address",
            (100, >= 64 and < 128, _) => "a carrier-grade NAT address",
            (127, _, _) => "a loopback address",
            (169, 254, _) => "a link-local address (the cloud metadata range)",
            (172, >= 16 and < 32, _) => "a private address",
            (192, 168, _) => "a private address",
            (192, 0, 0) or (192, 0, 2) or (198, 51, 100) or (203, 0, 113) or (198, 18 or 19, _) => "a reserved address",
            ( >= 224 and < 240, _, _) => "a multicast address",
            ( >= 240, _, _) => "a reserved address",
            _ => null,
        };
    }

    private static readonly byte[] s_nat64Prefix = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The URL's host for comparisons: IDN-encoded, lower case, no IPv6 brackets, no trailing dot.</summary>
    internal static string HostOf(Uri url) => NormalizeHost(url.IdnHost);

    internal static string NormalizeHost(string host)
    {
        var h = host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        return IPAddress.TryParse(h, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? ip.ToString() : h;
    }

    /// <summary>A URL for messages and logs: never its user info; the query only when asked (a presigned query is a
    /// credential).</summary>
    internal static string SafeText(Uri url, bool keepQuery) => url.GetComponents(
        UriComponents.SchemeAndServer | UriComponents.Path | (keepQuery ? UriComponents.Query : 0), UriFormat.UriEscaped);

    private static string DisplayHost(Uri url) => url.IsDefaultPort ? url.Host : $"{url.Host}:{url.Port}";
}
