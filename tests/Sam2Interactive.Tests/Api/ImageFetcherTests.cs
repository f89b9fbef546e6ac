using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

[TestFixture]
public sealed class ImageFetcherTests
{
    private static readonly byte[] s_png = Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray();

    private LabelStudioStandIn _ls = null!;
    private string _root = null!;

    [SetUp]
    public async Task SetUp()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _ls.Files["/data/upload/2/abc.png"] = s_png;
        _root = Directory.CreateTempSubdirectory("sam2i-local-").FullName;
    }

    [TearDown]
    public async Task TearDown()
    {
        await _ls.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    // The storage stand-in (presign target, "external" host) is on loopback, so tests that fetch from it allowlist it.
    private string StorageEntry => $"127.0.0.1:{_ls.StorageUrl.Port}";

    private ImageFetcher Fetcher(string? key = LabelStudioStandIn.LegacyKey, Action<LabelStudioOptionsBuilder>? tweak = null, ILogger<ImageFetcher>? logger = null)
    {
        var b = new LabelStudioOptionsBuilder { Url = _ls.Url, ApiKey = key, Root = _root };
        tweak?.Invoke(b);
        return new ImageFetcher(new LabelStudioOptions
        {
            UrlPolicy = b.Policy,
            Allowlist = ImageUrlAllowlist.Parse(b.Allowlist),
            Url = b.Url,
            ApiKey = b.ApiKey,
            LocalFilesDocumentRoot = b.Root,
            MaxImageBytes = b.MaxImageBytes,
            FetchTimeout = b.Timeout,
            MaxRetries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(20),
        }, logger);
    }

    private static async Task<byte[]> Bytes(ImageFetcher fetcher, string uri, long? taskId = 21)
    {
        using var image = await fetcher.FetchAsync(uri, taskId, CancellationToken.None);
        return image.Bytes.ToArray();
    }

    private static async Task<ImageFetchException> Failure(ImageFetcher fetcher, string uri, long? taskId = 21) =>
        (await Assert.ThrowsAsync<ImageFetchException>(() => fetcher.FetchAsync(uri, taskId, CancellationToken.None)))!;

    [Test]
    public async Task FetchAsync_UploadWithLegacyToken_ReturnsBytesAndSendsTokenHeader()
    {
        using var fetcher = Fetcher();

        var bytes = await Bytes(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.LsRequests.Single(), Is.EqualTo(("/data/upload/2/abc.png", (string?)("Token " + LabelStudioStandIn.LegacyKey))));
        }
    }

    [TestCase("upload/2/abc.png")]
    [TestCase("/upload/2/abc.png")]
    public async Task FetchAsync_UploadWithoutDataPrefix_ResolvesToDataUpload(string uri)
    {
        using var fetcher = Fetcher();

        Assert.That(await Bytes(fetcher, uri), Is.EqualTo(s_png));
    }

    [Test]
    public async Task FetchAsync_LabelStudioUrlWithPathPrefix_KeepsPrefix()
    {
        using var fetcher = Fetcher(tweak: b => b.Url = new Uri(_ls.Url, "/prefix"));

        var error = await Failure(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(_ls.LsRequests.Single().Path, Is.EqualTo("/prefix/data/upload/2/abc.png"));
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.NotFound));
        }
    }

    [Test]
    public async Task FetchAsync_LocalFileUnderRoot_ReadsDiskWithoutAskingLabelStudio()
    {
        Directory.CreateDirectory(Path.Combine(_root, "dataset"));
        await File.WriteAllBytesAsync(Path.Combine(_root, "dataset", "b c.png"), s_png);
        using var fetcher = Fetcher();

        var bytes = await Bytes(fetcher, "/data/local-files/?d=dataset/b%20c.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.LsRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_LocalFileMissingUnderRoot_FallsBackToLabelStudio()
    {
        _ls.Files["/data/local-files/?d=dataset/remote.png"] = s_png;
        using var fetcher = Fetcher();

        Assert.That(await Bytes(fetcher, "/data/local-files/?d=dataset/remote.png"), Is.EqualTo(s_png));
    }

    [TestCase("/data/local-files/?d=../outside.png")]
    [TestCase("/data/local-files/?d=dataset/../../outside.png")]
    [TestCase("/data/local-files/?d=%2E%2E/outside.png")]
    [TestCase("/data/local-files/?d=%252E%252E/outside.png")]
    [TestCase("/data/local-files/?d=..%2Foutside.png")]
    [TestCase("/data/local-files/?d=dataset%2F..%2F..%2Foutside.png")]
    [TestCase("/data/local-files/?d=..%5Coutside.png")]
    [TestCase("/data/local-files/?d=dataset/%2e%2e/%2e%2e/outside.png")]
    public async Task FetchAsync_LocalFileTraversal_IsRejectedWithoutAskingLabelStudio(string uri)
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, uri);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.PathOutsideRoot));
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Does.Contain("outside LOCAL_FILES_DOCUMENT_ROOT"));
            Assert.That(_ls.LsRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_LocalFileAbsolutePathOutsideRoot_IsRejected()
    {
        using var fetcher = Fetcher();

        Assert.That((await Failure(fetcher, "/data/local-files/?d=/etc/passwd")).Failure, Is.EqualTo(ImageFetchFailure.PathOutsideRoot));
    }

    [Test]
    public async Task FetchAsync_SymlinkInsideRootPointingOutside_IsRejected()
    {
        var outside = Directory.CreateTempSubdirectory("sam2i-outside-").FullName;
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(outside, "secret.png"), s_png);
            File.CreateSymbolicLink(Path.Combine(_root, "link.png"), Path.Combine(outside, "secret.png"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "dirlink"), outside);
            using var fetcher = Fetcher();

            using (Assert.EnterMultipleScope())
            {
                Assert.That((await Failure(fetcher, "/data/local-files/?d=link.png")).Failure, Is.EqualTo(ImageFetchFailure.PathOutsideRoot));
                Assert.That((await Failure(fetcher, "/data/local-files/?d=dirlink/secret.png")).Failure, Is.EqualTo(ImageFetchFailure.PathOutsideRoot));
            }
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Test]
    public async Task FetchAsync_SymlinkInsideRootPointingInside_IsRead()
    {
        Directory.CreateDirectory(Path.Combine(_root, "real"));
        await File.WriteAllBytesAsync(Path.Combine(_root, "real", "a.png"), s_png);
        File.CreateSymbolicLink(Path.Combine(_root, "alias.png"), Path.Combine(_root, "real", "a.png"));
        using var fetcher = Fetcher();

        Assert.That(await Bytes(fetcher, "/data/local-files/?d=alias.png"), Is.EqualTo(s_png));
    }

    [Test]
    public async Task FetchAsync_ExternalHttpUrl_SendsNoAuthorization()
    {
        _ls.StorageFiles["x.png"] = s_png;
        using var fetcher = Fetcher(tweak: b => b.Allowlist = StorageEntry);

        var bytes = await Bytes(fetcher, new Uri(_ls.StorageUrl, "/public/x.png").AbsoluteUri);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.StorageRequests.Single().Authorization, Is.Null);
        }
    }

    [Test]
    public async Task FetchAsync_AbsoluteUrlOnLabelStudioHost_SendsToken()
    {
        using var fetcher = Fetcher();

        Assert.That(await Bytes(fetcher, new Uri(_ls.Url, "/data/upload/2/abc.png").AbsoluteUri), Is.EqualTo(s_png));
    }

    [TestCase("s3://bucket/dir/photo.png")]
    [TestCase("gs://bucket/photo.png")]
    [TestCase("azure-blob://container/photo.png")]
    public async Task FetchAsync_CloudUri_PresignsAndFollows303WithoutForwardingAuth(string uri)
    {
        _ls.StorageFiles["photo.png"] = s_png;
        using var fetcher = Fetcher(tweak: b => b.Allowlist = StorageEntry);

        var bytes = await Bytes(fetcher, uri, taskId: 21);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.PresignedUris.Single(), Is.EqualTo(uri));
            Assert.That(_ls.LsRequests.Single().Path, Does.StartWith("/tasks/21/presign/?fileuri="));
            Assert.That(_ls.LsRequests.Single().Authorization, Is.EqualTo("Token " + LabelStudioStandIn.LegacyKey));
            Assert.That(_ls.StorageRequests.Single().Path, Does.StartWith("/presigned/photo.png?X-Amz-Signature="));
            Assert.That(_ls.StorageRequests.Single().Authorization, Is.Null);
        }
    }

    [Test]
    public async Task FetchAsync_PresignedUrlMissing_MessageHidesSignature()
    {
        using var fetcher = Fetcher(tweak: b => b.Allowlist = StorageEntry);

        var error = await Failure(fetcher, "s3://bucket/missing.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.NotFound));
            Assert.That(error.Message, Does.Contain("/presigned/missing.png").And.Not.Contain("s3cr3tsig"));
        }
    }

    [Test]
    public async Task FetchAsync_CloudUriWithoutTaskId_IsInvalid()
    {
        using var fetcher = Fetcher();

        Assert.That((await Failure(fetcher, "s3://bucket/a.png", taskId: null)).Failure, Is.EqualTo(ImageFetchFailure.InvalidUri));
    }

    [Test]
    public async Task FetchAsync_PersonalAccessToken_RefreshesOnceThenAgainAfterExpiry()
    {
        _ls.AccessLifetime = TimeSpan.FromSeconds(2);
        using var fetcher = Fetcher(LabelStudioStandIn.PersonalAccessToken);

        await Bytes(fetcher, "/data/upload/2/abc.png");
        await Bytes(fetcher, "/data/upload/2/abc.png");
        var afterTwo = _ls.Refreshes;
        await Task.Delay(TimeSpan.FromSeconds(2.2));
        var bytes = await Bytes(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(fetcher.TokenKind, Is.EqualTo(LabelStudioTokenKind.PersonalAccessToken));
            Assert.That(afterTwo, Is.EqualTo(1));
            Assert.That(_ls.Refreshes, Is.EqualTo(2));
            Assert.That(fetcher.TokenRefreshCount, Is.EqualTo(2));
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.LsRequests.Where(r => r.Path.StartsWith("/data/", StringComparison.Ordinal)).Select(r => r.Authorization),
                Has.All.StartsWith("Bearer ").And.All.Not.Contains(LabelStudioStandIn.PersonalAccessToken));
        }
    }

    [Test]
    public async Task FetchAsync_ConcurrentFetchesWithPersonalAccessToken_ShareOneRefresh()
    {
        using var fetcher = Fetcher(LabelStudioStandIn.PersonalAccessToken);

        var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Bytes(fetcher, "/data/upload/2/abc.png")));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(all, Has.All.EqualTo(s_png));
            Assert.That(_ls.Refreshes, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task FetchAsync_AccessTokenRevoked_RefreshesOnceOn401AndSucceeds()
    {
        using var fetcher = Fetcher(LabelStudioStandIn.PersonalAccessToken);
        await Bytes(fetcher, "/data/upload/2/abc.png");
        var used = _ls.LsRequests.Last().Authorization![7..];
        _ls.RevokedAccess[used] = true;

        var bytes = await Bytes(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.Refreshes, Is.EqualTo(2));
        }
    }

    [Test]
    public async Task FetchAsync_PersonalAccessTokenRejectedByRefresh_SaysTokenRejectedWithoutToken()
    {
        var expiredPat = LabelStudioStandIn.Jwt(new { token_type = "refresh", exp = 1L });
        using var fetcher = Fetcher(expiredPat);

        var error = await Failure(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Rejected));
            Assert.That(error.Message, Does.Contain("Label Studio rejected the token").And.Not.Contain(expiredPat));
        }
    }

    [Test]
    public async Task FetchAsync_WrongLegacyToken_SaysTokenRejectedWithoutToken()
    {
        using var fetcher = Fetcher("wrong-key-123");

        var error = await Failure(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Rejected));
            Assert.That(error.StatusCode, Is.EqualTo(502));
            Assert.That(error.Message, Does.StartWith("Label Studio rejected the token").And.Not.Contain("wrong-key-123"));
        }
    }

    [Test]
    public async Task FetchAsync_NotFound_SaysCheckLabelStudioUrl()
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/data/upload/2/missing.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(404));
            Assert.That(error.Message, Does.StartWith($"image not found at {_ls.Url.AbsoluteUri.TrimEnd('/')}/data/upload/2/missing.png; check LABEL_STUDIO_URL"));
            Assert.That(_ls.LsRequests, Has.Count.EqualTo(1), "404 is not retried");
        }
    }

    [Test]
    public async Task FetchAsync_ServerError_RetriesThenReportsUnreachable()
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/status/500");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Unreachable));
            Assert.That(error.Message, Does.Contain("HTTP 500 after 3 attempts"));
            Assert.That(_ls.StatusHits["500"], Is.EqualTo(3));
        }
    }

    [Test]
    public async Task FetchAsync_TransientFailures_AreRetriedUntilSuccess()
    {
        using var fetcher = Fetcher();

        var bytes = await Bytes(fetcher, "/flaky");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(new byte[] { 7, 7, 7 }));
            Assert.That(_ls.FlakyCalls, Is.EqualTo(3));
        }
    }

    [Test]
    public async Task FetchAsync_BadRequestStatus_IsNotRetried()
    {
        using var fetcher = Fetcher();

        await Failure(fetcher, "/status/400");

        Assert.That(_ls.StatusHits["400"], Is.EqualTo(1));
    }

    [Test]
    public async Task FetchAsync_SlowAnswer_TimesOut()
    {
        using var fetcher = Fetcher(tweak: b => b.Timeout = TimeSpan.FromMilliseconds(500));
        var watch = Stopwatch.StartNew();

        var error = await Failure(fetcher, "/slow");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Timeout));
            Assert.That(error.StatusCode, Is.EqualTo(504));
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        }
    }

    [Test]
    public async Task FetchAsync_LabelStudioUnreachable_SaysCheckLabelStudioUrl()
    {
        using var fetcher = Fetcher(tweak: b => b.Url = new Uri("http://127.0.0.1:1"));

        var error = await Failure(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Unreachable));
            Assert.That(error.Message, Does.Contain("could not reach http://127.0.0.1:1/data/upload/2/abc.png").And.Contain("LABEL_STUDIO_URL"));
        }
    }

    [Test]
    public async Task FetchAsync_LargerThanMaxImageBytes_IsRejected()
    {
        using var fetcher = Fetcher(tweak: b => b.MaxImageBytes = 4999);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((await Failure(fetcher, "/data/upload/2/abc.png")).Failure, Is.EqualTo(ImageFetchFailure.TooLarge));
            Assert.That((await Failure(fetcher, "/chunked/5000")).Failure, Is.EqualTo(ImageFetchFailure.TooLarge));
        }
    }

    [Test]
    public async Task FetchAsync_ChunkedExactlyMaxImageBytes_IsRead()
    {
        using var fetcher = Fetcher(tweak: b => b.MaxImageBytes = 300_000);

        Assert.That(await Bytes(fetcher, "/chunked/300000"), Has.Length.EqualTo(300_000));
    }

    [Test]
    public async Task FetchAsync_RelativePathWithoutLabelStudioUrl_SaysSetLabelStudioUrl()
    {
        using var fetcher = Fetcher(tweak: b => b.Url = null);

        var error = await Failure(fetcher, "/data/upload/2/abc.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.NotConfigured));
            Assert.That(error.Message, Does.StartWith("LABEL_STUDIO_URL is not set"));
        }
    }

    [Test]
    public async Task FetchAsync_LoopbackTaskUrlNotLabelStudio_IsRefusedWithoutRequest()
    {
        _ls.StorageFiles["x.png"] = s_png;
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, $"http://127.0.0.1:{_ls.StorageUrl.Port}/public/x.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.StatusCode, Is.EqualTo(403));
            Assert.That(error.Message, Is.EqualTo(
                $"the image host 127.0.0.1:{_ls.StorageUrl.Port} is a loopback address; add it to IMAGE_URL_ALLOWLIST if it is trusted."));
            Assert.That(_ls.StorageRequests, Is.Empty);
        }
    }

    [TestCase("127.0.0.1:{port}")]
    [TestCase("http://127.0.0.1:{port}")]
    [TestCase("127.0.0.0/8")]
    [TestCase("127.0.0.1")]
    [TestCase("other.example, 10.0.0.0/8 ,127.0.0.1:{port}")]
    public async Task FetchAsync_LoopbackTaskUrlAllowlisted_IsFetched(string allowlist)
    {
        _ls.StorageFiles["x.png"] = s_png;
        using var fetcher = Fetcher(tweak: b => b.Allowlist = allowlist.Replace("{port}", _ls.StorageUrl.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));

        Assert.That(await Bytes(fetcher, $"http://127.0.0.1:{_ls.StorageUrl.Port}/public/x.png"), Is.EqualTo(s_png));
    }

    [Test]
    public async Task FetchAsync_AllowlistedOriginWithOtherScheme_IsRefused()
    {
        using var fetcher = Fetcher(tweak: b => b.Allowlist = $"https://127.0.0.1:{_ls.StorageUrl.Port}");

        var error = await Failure(fetcher, $"http://127.0.0.1:{_ls.StorageUrl.Port}/public/x.png");

        Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
    }

    [TestCase("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address")]
    [TestCase("http://127.0.0.1:{port}/public/x.png", "127.0.0.1:{port} is a loopback address")]
    [TestCase("http://localhost:{port}/public/x.png", "localhost resolves to")]
    [TestCase("http://[::ffff:127.0.0.1]:{port}/public/x.png", "is a loopback address")]
    [TestCase("/redirect?to=http://127.0.0.1:{port}/public/x.png", "loopback")]
    public async Task FetchAsync_RedirectFromLabelStudioToRefusedAddress_IsRefused(string target, string expected)
    {
        _ls.StorageFiles["x.png"] = s_png;
        var port = _ls.StorageUrl.Port.ToString(CultureInfo.InvariantCulture);
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/redirect?to=" + Uri.EscapeDataString(target.Replace("{port}", port, StringComparison.Ordinal)));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.Message, Does.Contain(expected.Replace("{port}", port, StringComparison.Ordinal)).And.Contain("IMAGE_URL_ALLOWLIST"));
            Assert.That(_ls.StorageRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_RedirectFromAllowlistedHostToRefusedAddress_IsRefused()
    {
        using var fetcher = Fetcher(tweak: b => b.Allowlist = StorageEntry);
        var start = new Uri(_ls.StorageUrl, "/redirect?to=" + Uri.EscapeDataString("http://169.254.169.254/latest/meta-data/")).AbsoluteUri;

        var error = await Failure(fetcher, start);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.Message, Does.StartWith("a redirect from 127.0.0.1 led to http://169.254.169.254/latest/meta-data/: the image host 169.254.169.254 is a link-local address"));
            Assert.That(_ls.StorageRequests.Single().Path, Does.StartWith("/redirect"));
        }
    }

    [Test]
    public async Task FetchAsync_RedirectToFileScheme_IsRefused()
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/redirect?to=" + Uri.EscapeDataString("file:///etc/passwd"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.InvalidUri));
            Assert.That(error.Message, Does.Contain("only http:// and https:// image URLs are fetched"));
        }
    }

    [Test]
    public async Task FetchAsync_RedirectLoop_StopsAfterFiveRedirects()
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/loop/0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Message, Does.StartWith("too many redirects (more than 5)"));
            Assert.That(_ls.LsRequests, Has.Count.EqualTo(6), "not retried");
        }
    }

    [Test]
    public async Task FetchAsync_HostNameResolvingToLoopback_IsRefusedAfterResolution()
    {
        _ls.StorageFiles["x.png"] = s_png;
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, $"http://localhost:{_ls.StorageUrl.Port}/public/x.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.StatusCode, Is.EqualTo(403));
            Assert.That(error.Message, Does.Match(@"^the image host localhost resolves to (127\.0\.0\.1|::1), which is a loopback address; add it to IMAGE_URL_ALLOWLIST if it is trusted\.$"));
            Assert.That(_ls.StorageRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_HostNameResolvingIntoAllowlistedRanges_ConnectsToVettedAddress()
    {
        _ls.StorageFiles["x.png"] = s_png;
        using var fetcher = Fetcher(tweak: b => b.Allowlist = "127.0.0.0/8, ::1/128");

        var bytes = await Bytes(fetcher, $"http://localhost:{_ls.StorageUrl.Port}/public/x.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes, Is.EqualTo(s_png));
            Assert.That(_ls.StorageRequests.Single().Authorization, Is.Null);
        }
    }

    [Test]
    public async Task FetchAsync_CloudMetadataAddress_IsRefusedWithoutConnecting()
    {
        using var fetcher = Fetcher();
        var watch = Stopwatch.StartNew();

        var error = await Failure(fetcher, "http://169.254.169.254/latest/meta-data/iam/security-credentials/");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.Message, Does.StartWith("the image host 169.254.169.254 is a link-local address"));
            Assert.That(error.InnerException, Is.Null, "refused before any connection attempt");
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
        }
    }

    [TestCase("http://[::1]:{port}/public/x.png", "a loopback address")]
    [TestCase("http://[::]:{port}/public/x.png", "an unspecified address")]
    [TestCase("http://0.0.0.0:{port}/public/x.png", "an unspecified address")]
    [TestCase("http://[::ffff:169.254.169.254]/latest/meta-data/", "a link-local address (the cloud metadata range)")]
    [TestCase("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "a link-local address (the cloud metadata range)")]
    [TestCase("http://[fe80::1]/x.png", "a link-local address")]
    [TestCase("http://[fd12:3456::1]/x.png", "a private address")]
    [TestCase("http://10.1.2.3/x.png", "a private address")]
    [TestCase("http://172.31.255.255/x.png", "a private address")]
    [TestCase("https://192.168.1.1/x.png", "a private address")]
    [TestCase("http://100.64.0.1/x.png", "a carrier-grade NAT address")]
    [TestCase("http://224.0.0.1/x.png", "a multicast address")]
    [TestCase("http://2130706433:{port}/public/x.png", "a loopback address")]
    public async Task FetchAsync_NonPublicAddressLiteral_IsRefusedWithoutConnecting(string url, string reason)
    {
        var port = _ls.StorageUrl.Port.ToString(CultureInfo.InvariantCulture);
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, url.Replace("{port}", port, StringComparison.Ordinal));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.Message, Does.Contain(" is " + reason + "; add it to IMAGE_URL_ALLOWLIST if it is trusted."));
            Assert.That(error.InnerException, Is.Null);
            Assert.That(_ls.StorageRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_LabelStudioOnlyWithExternalUrl_IsRefusedWithoutLookup()
    {
        using var fetcher = Fetcher(tweak: b => b.Policy = ImageUrlPolicy.LabelStudioOnly);
        var watch = Stopwatch.StartNew();

        var error = await Failure(fetcher, "https://images.example.com/cat.png?sig=abc");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.Refused));
            Assert.That(error.Message, Is.EqualTo(
                "IMAGE_URL_POLICY is label-studio-only and images.example.com is neither Label Studio nor listed in IMAGE_URL_ALLOWLIST; " +
                "add it to IMAGE_URL_ALLOWLIST if it is trusted, or set IMAGE_URL_POLICY=any."));
            Assert.That(error.InnerException, Is.Null);
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
        }
    }

    [Test]
    public async Task FetchAsync_LabelStudioOnly_FetchesLabelStudioAndAllowlistedPresignTarget()
    {
        _ls.StorageFiles["photo.png"] = s_png;
        using var fetcher = Fetcher(tweak: b =>
        {
            b.Policy = ImageUrlPolicy.LabelStudioOnly;
            b.Allowlist = StorageEntry;
        });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Bytes(fetcher, "/data/upload/2/abc.png"), Is.EqualTo(s_png));
            Assert.That(await Bytes(fetcher, "s3://bucket/photo.png"), Is.EqualTo(s_png));
            Assert.That(_ls.StorageRequests.Single().Authorization, Is.Null);
        }
    }

    [Test]
    public async Task FetchAsync_UrlWithUserInfo_SendsNoCredentialsAndHidesThem()
    {
        using var fetcher = Fetcher(tweak: b => b.Allowlist = StorageEntry);

        var error = await Failure(fetcher, $"http://admin:hunter2@127.0.0.1:{_ls.StorageUrl.Port}/public/missing.png?X-Sig=s3cr3t");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.NotFound));
            Assert.That(error.Message, Does.StartWith($"image not found at http://127.0.0.1:{_ls.StorageUrl.Port}/public/missing.png;"));
            Assert.That(error.Message, Does.Not.Contain("hunter2").And.Not.Contain("admin").And.Not.Contain("s3cr3t"));
            Assert.That(_ls.StorageRequests.Single().Authorization, Is.Null);
        }
    }

    [Test]
    public async Task FetchAsync_FailingFetchWithToken_LogsAndMessageHoldNoSecrets()
    {
        var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        using var fetcher = Fetcher(LabelStudioStandIn.PersonalAccessToken, logger: factory.CreateLogger<ImageFetcher>(),
            tweak: b => b.Allowlist = "127.0.0.1:1");

        var lsError = await Failure(fetcher, "/status/503");
        var basicError = await Failure(fetcher, "http://admin:hunter2@127.0.0.1:1/x.png");

        var access = _ls.LsRequests.Select(r => r.Authorization).OfType<string>().Distinct().ToArray();
        var everything = string.Join("\n", logs.Lines.Append(lsError.ToString()).Append(basicError.ToString()));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(access, Has.Length.EqualTo(1).And.All.StartsWith("Bearer "), "the access token was used");
            Assert.That(logs.Lines, Has.Count.EqualTo(4), "two retries of each fetch are logged");
            Assert.That(lsError.Message, Does.Contain("HTTP 503 after 3 attempts"));
            Assert.That(basicError.Message, Does.StartWith("could not reach http://127.0.0.1:1/x.png (ConnectionRefused)"));
            Assert.That(everything, Does.Not.Contain(LabelStudioStandIn.PersonalAccessToken));
            Assert.That(everything, Does.Not.Contain(access[0][7..]));
            Assert.That(everything, Does.Not.Contain("hunter2").And.Not.Contain("Bearer").And.Not.Contain("admin"));
        }
    }

    [Test]
    public void GetIdentity_SameImageSpelledTwoWays_IsEqualAndIncludesHost()
    {
        using var fetcher = Fetcher();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(fetcher.GetIdentity("upload/2/abc.png"), Is.EqualTo(fetcher.GetIdentity("/data/upload/2/abc.png")));
            Assert.That(fetcher.GetIdentity("/data/upload/2/abc.png"), Does.StartWith(_ls.Url.AbsoluteUri.TrimEnd('/') + "|"));
            Assert.That(fetcher.GetIdentity("https://example.com/a.png"), Is.EqualTo("https://example.com/a.png"));
        }
    }

    [Test]
    public async Task FetchAsync_LocalFileWithNulByte_IsInvalidWithoutAskingLabelStudio()
    {
        using var fetcher = Fetcher();

        var error = await Failure(fetcher, "/data/local-files/?d=a.png%00.jpg");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.InvalidUri));
            Assert.That(error.Message, Does.Contain("control characters"));
            Assert.That(_ls.LsRequests, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_LocalFileAbsolutePathInsideRoot_IsRead()
    {
        await File.WriteAllBytesAsync(Path.Combine(_root, "in.png"), s_png);
        using var fetcher = Fetcher();

        Assert.That(await Bytes(fetcher, "/data/local-files/?d=" + Uri.EscapeDataString(Path.Combine(_root, "in.png"))), Is.EqualTo(s_png));
    }

    [Test]
    public async Task FetchAsync_LocalFileSymlinkedParentOutsideRoot_IsRejectedWithClearMessage()
    {
        var outside = Directory.CreateTempSubdirectory("sam2i-outside-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(outside, "deep"));
            await File.WriteAllBytesAsync(Path.Combine(outside, "deep", "secret.png"), s_png);
            Directory.CreateDirectory(Path.Combine(_root, "a"));
            Directory.CreateSymbolicLink(Path.Combine(_root, "a", "up"), Path.Combine("..", "..", Path.GetFileName(outside)));
            using var fetcher = Fetcher();

            var error = await Failure(fetcher, "/data/local-files/?d=a/up/deep/secret.png");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(error.Failure, Is.EqualTo(ImageFetchFailure.PathOutsideRoot));
                Assert.That(error.Message, Is.EqualTo(
                    "the local-files path 'a/up/deep/secret.png' points outside LOCAL_FILES_DOCUMENT_ROOT; only files under that directory are served."));
                Assert.That(_ls.LsRequests, Is.Empty);
            }
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Test]
    public void ClassifyKey_LegacyJwtAndRefresh_AreTold()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(LabelStudioAuth.ClassifyKey("0123456789abcdef0123456789abcdef01234567"), Is.EqualTo(LabelStudioTokenKind.Legacy));
            Assert.That(LabelStudioAuth.ClassifyKey("a.b.c"), Is.EqualTo(LabelStudioTokenKind.Legacy));
            Assert.That(LabelStudioAuth.ClassifyKey(LabelStudioStandIn.Jwt(new { token_type = "access", exp = 1L })), Is.EqualTo(LabelStudioTokenKind.Jwt));
            Assert.That(LabelStudioAuth.ClassifyKey(LabelStudioStandIn.PersonalAccessToken), Is.EqualTo(LabelStudioTokenKind.PersonalAccessToken));
        }
    }

    /// <summary>Records every formatted log line, with its exception, of the loggers it creates.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        public ILogger CreateLogger(string categoryName) => new Logger(_lines);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception) + (exception is null ? string.Empty : "\n" + exception));
        }
    }

    private sealed class LabelStudioOptionsBuilder
    {
        public Uri? Url { get; set; }

        public string? ApiKey { get; set; }

        public string? Root { get; set; }

        public long MaxImageBytes { get; set; } = LabelStudioOptions.DefaultMaxImageBytes;

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

        public ImageUrlPolicy Policy { get; set; } = ImageUrlPolicy.Any;

        public string? Allowlist { get; set; }
    }
}
