using NUnit.Framework;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Tests.Cache;

[TestFixture]
[Category("Fast")]
public sealed class RedisCacheOptionsTests
{
    [Test]
    public void ParseRedisUrl_PasswordOnly_SetsPasswordAndDefaultPort()
    {
        var c = RedisCacheOptions.ParseRedisUrl("redis://:s3cret@redis.internal");
        Assert.Multiple(() =>
        {
            Assert.That(c.EndPoints.Single().ToString(), Is.EqualTo("Unspecified/redis.internal:6379"));
            Assert.That(c.Password, Is.EqualTo("s3cret"));
            Assert.That(c.User, Is.Null);
            Assert.That(c.Ssl, Is.False);
            Assert.That(c.DefaultDatabase, Is.Null);
        });
    }

    [Test]
    public void ParseRedisUrl_UserAndEscapedPassword_Unescaped()
    {
        var c = RedisCacheOptions.ParseRedisUrl("redis://labeler:p%40ss%3Aword@10.0.0.5:7000/0");
        Assert.Multiple(() =>
        {
            Assert.That(c.EndPoints.Single().ToString(), Is.EqualTo("10.0.0.5:7000"));
            Assert.That(c.User, Is.EqualTo("labeler"));
            Assert.That(c.Password, Is.EqualTo("p@ss:word"));
            Assert.That(c.DefaultDatabase, Is.EqualTo(0));
        });
    }

    [Test]
    public void ParseRedisUrl_Rediss_EnablesTlsWithHostName()
    {
        var c = RedisCacheOptions.ParseRedisUrl("rediss://:k@cache.example.com:6380");
        Assert.Multiple(() =>
        {
            Assert.That(c.Ssl, Is.True);
            Assert.That(c.SslHost, Is.EqualTo("cache.example.com"));
            Assert.That(c.EndPoints.Single().ToString(), Is.EqualTo("Unspecified/cache.example.com:6380"));
        });
    }

    [Test]
    public void ParseRedisUrl_ConfigurationString_PassedToStackExchangeRedis()
    {
        var c = RedisCacheOptions.ParseRedisUrl("node1:7000,node2:7001,password=x,ssl=true");
        Assert.Multiple(() =>
        {
            Assert.That(c.EndPoints.Select(e => e.ToString()), Is.EqualTo(new[] { "Unspecified/node1:7000", "Unspecified/node2:7001" }));
            Assert.That(c.Password, Is.EqualTo("x"));
            Assert.That(c.Ssl, Is.True);
        });
    }

}
