using System.Net;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// Decisions of the image-URL boundary that need no connection: address classes, the label-studio-only policy and the
/// Label Studio origin. Nothing here sends traffic; connect-time checks are covered by <see cref="ImageFetcherTests"/>.
/// </summary>
[TestFixture]
[Category("Fast")]
public sealed class ImageUrlGuardTests
{
    private static readonly Uri s_ls = new("http://10.0.0.5:8080");

    [TestCase("127.0.0.1", "a loopback address")]
    [TestCase("127.255.255.254", "a loopback address")]
    [TestCase("::1", "a loopback address")]
    [TestCase("169.254.169.254", "a link-local address (the cloud metadata range)")]
    [TestCase("fe80::1", "a link-local address")]
    [TestCase("febf::1", "a link-local address")]
    [TestCase("10.0.0.1", "a private address")]
    [TestCase("172.16.0.1", "a private address")]
    [TestCase("172.31.255.255", "a private address")]
    [TestCase("192.168.0.1", "a private address")]
    [TestCase("fc00::1", "a private address")]
    [TestCase("fd00:ec2::254", "a private address")]
    [TestCase("0.0.0.0", "an unspecified address")]
    [TestCase("0.1.2.3", "an unspecified address")]
    [TestCase("::", "an unspecified address")]
    [TestCase("100.64.0.1", "a carrier-grade NAT address")]
    [TestCase("100.127.255.255", "a carrier-grade NAT address")]
    [TestCase("224.0.0.251", "a multicast address")]
    [TestCase("ff02::1", "a multicast address")]
    [TestCase("255.255.255.255", "a reserved address")]
    [TestCase("192.0.2.1", "a reserved address")]
    [TestCase("198.18.0.1", "a reserved address")]
    [TestCase("2001:db8::1", "a reserved address")]
    [TestCase("::ffff:127.0.0.1", "a loopback address")]
    [TestCase("::ffff:169.254.169.254", "a link-local address (the cloud metadata range)")]
    [TestCase("::ffff:10.1.1.1", "a private address")]
    [TestCase("64:ff9b::a9fe:a9fe", "a link-local address (the cloud metadata range)")]
    [TestCase("2002:7f00:1::1", "a loopback address")]
    [TestCase("::127.0.0.1", "a reserved address (IPv4-compatible IPv6)")]
    public void Classify_NonPublicAddress_NamesItsKind(string address, string expected)
    {
        Assert.That(ImageUrlGuard.Classify(IPAddress.Parse(address)), Is.EqualTo(expected));
    }

    [TestCase("8.8.8.8")]
    [TestCase("93.184.215.14")]
    [TestCase("100.63.255.255")]
    [TestCase("100.128.0.0")]
    [TestCase("172.15.255.255")]
    [TestCase("172.32.0.0")]
    [TestCase("169.253.1.1")]
    [TestCase("2606:4700:4700::1111")]
    [TestCase("::ffff:8.8.8.8")]
    [TestCase("64:ff9b::808:808")]
    public void Classify_PublicAddress_IsNull(string address)
    {
        Assert.That(ImageUrlGuard.Classify(IPAddress.Parse(address)), Is.Null);
    }

    [TestCase("http://10.0.0.5:8080/data/upload/1/a.png", true)]
    [TestCase("HTTP://10.0.0.5:8080/x", true)]
    [TestCase("http://user:pw@10.0.0.5:8080/x", true)]
    [TestCase("https://10.0.0.5:8080/x", false)]
    [TestCase("http://10.0.0.5:8081/x", false)]
    [TestCase("http://10.0.0.5/x", false)]
    public void IsLabelStudio_SchemeHostAndPort_MustAllMatch(string url, bool expected)
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.Any, ImageUrlAllowlist.Empty);

        Assert.That(guard.IsLabelStudio(new Uri(url)), Is.EqualTo(expected));
    }

    [Test]
    public void CheckUrlAsync_PrivateLabelStudioHost_IsAllowed()
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.LabelStudioOnly, ImageUrlAllowlist.Empty);

        Assert.That(async () => await guard.CheckUrlAsync(new Uri("http://10.0.0.5:8080/data/upload/1/a.png"), null, CancellationToken.None), Throws.Nothing);
    }

    [Test]
    public void CheckUrlAsync_SamePrivateHostOtherPort_IsRefused()
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.Any, ImageUrlAllowlist.Empty);

        Assert.That(async () => await guard.CheckUrlAsync(new Uri("http://10.0.0.5:6379/"), null, CancellationToken.None),
            Throws.TypeOf<ImageFetchException>().With.Message.EqualTo("the image host 10.0.0.5:6379 is a private address; add it to IMAGE_URL_ALLOWLIST if it is trusted."));
    }

    [Test]
    public void CheckUrlAsync_LabelStudioOnlyPresignRedirectToPublicHost_IsAllowedOnlyFromLabelStudio()
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.LabelStudioOnly, ImageUrlAllowlist.Empty);
        var presigned = new Uri("https://bucket.s3.amazonaws.com/photo.png?X-Amz-Signature=abc");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await guard.CheckUrlAsync(presigned, new Uri("http://10.0.0.5:8080/tasks/1/presign/?fileuri=x"), CancellationToken.None), Throws.Nothing);
            Assert.That(async () => await guard.CheckUrlAsync(presigned, null, CancellationToken.None),
                Throws.TypeOf<ImageFetchException>().With.Message.StartsWith("IMAGE_URL_POLICY is label-studio-only and bucket.s3.amazonaws.com is neither"));
            Assert.That(async () => await guard.CheckUrlAsync(presigned, new Uri("https://cdn.example.com/redirect"), CancellationToken.None),
                Throws.TypeOf<ImageFetchException>().With.Message.StartsWith("a redirect from cdn.example.com led to https://bucket.s3.amazonaws.com/photo.png: IMAGE_URL_POLICY"));
        }
    }

    [Test]
    public void CheckUrlAsync_LabelStudioRedirectToPrivateLiteral_IsStillRefused()
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.LabelStudioOnly, ImageUrlAllowlist.Empty);
        var any = new ImageUrlGuard(s_ls, ImageUrlPolicy.Any, ImageUrlAllowlist.Empty);
        var from = new Uri("http://10.0.0.5:8080/tasks/1/presign/?fileuri=x");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await any.CheckUrlAsync(new Uri("http://169.254.169.254/"), from, CancellationToken.None),
                Throws.TypeOf<ImageFetchException>().With.Property(nameof(ImageFetchException.Failure)).EqualTo(ImageFetchFailure.Refused));
            Assert.That(async () => await guard.CheckUrlAsync(new Uri("http://169.254.169.254/"), from, CancellationToken.None),
                Throws.TypeOf<ImageFetchException>().With.Property(nameof(ImageFetchException.Failure)).EqualTo(ImageFetchFailure.Refused));
        }
    }

    [Test]
    public void CheckUrlAsync_LabelStudioOnlyLiteralInAllowlistedRange_IsAllowed()
    {
        var guard = new ImageUrlGuard(s_ls, ImageUrlPolicy.LabelStudioOnly, ImageUrlAllowlist.Parse("192.168.10.0/24"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await guard.CheckUrlAsync(new Uri("http://192.168.10.7:9000/b/a.png"), null, CancellationToken.None), Throws.Nothing);
            Assert.That(async () => await guard.CheckUrlAsync(new Uri("http://192.168.11.7:9000/b/a.png"), null, CancellationToken.None),
                Throws.TypeOf<ImageFetchException>());
        }
    }

    [Test]
    public void CheckUrlAsync_PublicLiteralUnderAny_IsAllowed()
    {
        var guard = new ImageUrlGuard(null, ImageUrlPolicy.Any, ImageUrlAllowlist.Empty);

        Assert.That(async () => await guard.CheckUrlAsync(new Uri("https://93.184.215.14/a.png"), null, CancellationToken.None), Throws.Nothing);
    }

    [Test]
    public void SafeText_UserInfoAndQuery_AreDropped()
    {
        var url = new Uri("https://admin:hunter2@minio.local:9000/b/a.png?X-Amz-Signature=s3cr3t");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ImageUrlGuard.SafeText(url, keepQuery: false), Is.EqualTo("https://minio.local:9000/b/a.png"));
            Assert.That(ImageUrlGuard.SafeText(url, keepQuery: true), Is.EqualTo("https://minio.local:9000/b/a.png?X-Amz-Signature=s3cr3t"));
        }
    }
}
