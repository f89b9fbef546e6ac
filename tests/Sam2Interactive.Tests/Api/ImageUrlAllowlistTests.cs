using System.Net;
using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;

namespace Sam2Interactive.Tests.Api;

/// <summary>IMAGE_URL_ALLOWLIST parsing and matching; no traffic.</summary>
[TestFixture]
[Category("Fast")]
public sealed class ImageUrlAllowlistTests
{
    [TestCase("minio", "http://minio:9000/a.png", true)]
    [TestCase("minio", "https://MINIO./a.png", true)]
    [TestCase("minio", "http://minio.local/a.png", false)]
    [TestCase("minio:9000", "https://minio:9000/a.png", true)]
    [TestCase("minio:9000", "http://minio:9001/a.png", false)]
    [TestCase("http://minio:9000", "http://minio:9000/a.png", true)]
    [TestCase("http://minio:9000", "https://minio:9000/a.png", false)]
    [TestCase("https://minio", "https://minio:443/a.png", true)]
    [TestCase("https://minio", "https://minio:8443/a.png", false)]
    [TestCase("[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080/a.png", true)]
    [TestCase("[::1]:8080", "http://[::1]:8081/a.png", false)]
    public void AllowsOrigin_Entry_MatchesSchemeHostPortAsWritten(string entry, string url, bool expected)
    {
        Assert.That(ImageUrlAllowlist.Parse(entry).AllowsOrigin(new Uri(url)), Is.EqualTo(expected));
    }

    [TestCase("10.0.0.0/8", "10.200.1.1", true)]
    [TestCase("10.0.0.0/8", "11.0.0.1", false)]
    [TestCase("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [TestCase("fd00::/8", "fd12::1", true)]
    [TestCase("fd00::/8", "fe80::1", false)]
    [TestCase("192.168.1.20", "192.168.1.20", true)]
    [TestCase("192.168.1.20", "192.168.1.21", false)]
    [TestCase("::1", "::1", true)]
    public void AllowsAddress_RangeEntry_ContainsAddress(string entry, string address, bool expected)
    {
        Assert.That(ImageUrlAllowlist.Parse(entry).AllowsAddress(IPAddress.Parse(address)), Is.EqualTo(expected));
    }

    [TestCase("10.0.0.0/33")]
    [TestCase("10.0.0.1/8")]
    [TestCase("10.0.0.0/x")]
    [TestCase("http://minio:9000/bucket")]
    [TestCase("http://user:pw@minio")]
    [TestCase("ftp://minio")]
    [TestCase("minio:0")]
    [TestCase("minio:http")]
    [TestCase("[::1")]
    [TestCase("[minio]:80")]
    [TestCase("bad host")]
    public void Parse_MalformedEntry_ThrowsNamingSettingAndEntry(string entry)
    {
        Assert.That(() => ImageUrlAllowlist.Parse("ok.example, " + entry),
            Throws.ArgumentException.With.Message.StartsWith($"IMAGE_URL_ALLOWLIST entry '{entry}' "));
    }

    [Test]
    public void Parse_BlankAndEmptyEntries_GiveEmptyList()
    {
        var list = ImageUrlAllowlist.Parse(" , ,");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(list.HasRanges, Is.False);
            Assert.That(list.AllowsOrigin(new Uri("http://localhost/")), Is.False);
        }
    }
}
