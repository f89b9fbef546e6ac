using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

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

    private ImageFetcher Fetcher(string? key = LabelStudioStandIn.LegacyKey, Action<LabelStudioOptionsBuilder>? tweak = null)
    {
        var b = new LabelStudioOptionsBuilder { Url = _ls.Url, ApiKey = key, Root = _root };
        tweak?.Invoke(b);
        return new ImageFetcher(new LabelStudioOptions
        {
            Url = b.Url,
            ApiKey = b.ApiKey,
            LocalFilesDocumentRoot = b.Root,
            MaxImageBytes = b.MaxImageBytes,
            FetchTimeout = b.Timeout,
            MaxRetries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(20),
        });
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
        using var fetcher = Fetcher();

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
        using var fetcher = Fetcher();

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
        using var fetcher = Fetcher();

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
    public void FromConfiguration_Aliases_AreRead()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LABEL_STUDIO_HOST"] = "http://ls:8080/",
            ["LABEL_STUDIO_ACCESS_TOKEN"] = "abc",
            ["MAX_IMAGE_BYTES"] = "1000",
        }).Build();

        var options = LabelStudioOptions.FromConfiguration(config);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.Url, Is.EqualTo(new Uri("http://ls:8080")));
            Assert.That(options.ApiKey, Is.EqualTo("abc"));
            Assert.That(options.MaxImageBytes, Is.EqualTo(1000));
            Assert.That(options.LocalFilesDocumentRoot, Is.Null);
        }
    }

    [TestCase("LABEL_STUDIO_HOST", "ls:8080", "LABEL_STUDIO_HOST must be an absolute http:// or https:// URL")]
    [TestCase("LABEL_STUDIO_URL", "ftp://ls", "LABEL_STUDIO_URL must be an absolute http:// or https:// URL")]
    [TestCase("LOCAL_FILES_DOCUMENT_ROOT", "/no/such/dir/sam2i", "LOCAL_FILES_DOCUMENT_ROOT must be an existing directory")]
    [TestCase("MAX_IMAGE_BYTES", "64MB", "MAX_IMAGE_BYTES must be a whole number")]
    public void FromConfiguration_InvalidSetting_ThrowsNamingIt(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        Assert.That(() => LabelStudioOptions.FromConfiguration(config), Throws.InvalidOperationException.With.Message.StartsWith(expected));
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

    private sealed class LabelStudioOptionsBuilder
    {
        public Uri? Url { get; set; }

        public string? ApiKey { get; set; }

        public string? Root { get; set; }

        public long MaxImageBytes { get; set; } = LabelStudioOptions.DefaultMaxImageBytes;

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
    }
}
