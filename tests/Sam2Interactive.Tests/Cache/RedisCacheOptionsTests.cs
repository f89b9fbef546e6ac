using Microsoft.Extensions.Configuration;
using NUnit.Framework;
using Sam2Interactive.Cache;

namespace Sam2Interactive.Tests.Cache;

[TestFixture]
public sealed class RedisCacheOptionsTests
{
    private static RedisCacheOptions Read(params (string Key, string Value)[] settings) =>
        RedisCacheOptions.FromConfiguration(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build());

    [Test]
    public void FromConfiguration_NothingSet_DisabledWithDefaults()
    {
        var o = Read();
        Assert.Multiple(() =>
        {
            Assert.That(o.Enabled, Is.False);
            Assert.That(o.Redis, Is.Null);
            Assert.That(o.DType, Is.EqualTo(CacheDType.Float16));
            Assert.That(o.Ttl, Is.EqualTo(TimeSpan.FromDays(7)));
            Assert.That(o.Prefix, Is.EqualTo("sam2:"));
            Assert.That(o.LockTtl, Is.EqualTo(TimeSpan.FromSeconds(30)));
        });
    }

    [Test]
    public void FromConfiguration_EverySet_Parsed()
    {
        var o = Read(("REDIS_URL", "redis://cache:6380/3"), ("CACHE_DTYPE", "FLOAT32"), ("CACHE_TTL", "12h"),
            ("CACHE_PREFIX", "lab7:"), ("LOCK_TTL", "45s"));
        Assert.Multiple(() =>
        {
            Assert.That(o.Enabled, Is.True);
            Assert.That(o.Redis!.EndPoints.Single().ToString(), Is.EqualTo("Unspecified/cache:6380"));
            Assert.That(o.Redis.DefaultDatabase, Is.EqualTo(3));
            Assert.That(o.DType, Is.EqualTo(CacheDType.Float32));
            Assert.That(o.Ttl, Is.EqualTo(TimeSpan.FromHours(12)));
            Assert.That(o.Prefix, Is.EqualTo("lab7:"));
            Assert.That(o.LockTtl, Is.EqualTo(TimeSpan.FromSeconds(45)));
        });
    }

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

    [TestCase("http://cache:6379")] // wrong scheme
    [TestCase("redis://cache:6379/abc")] // database is not a number
    [TestCase("redis://cache:6379/0?timeout=5")] // query not supported in URL form
    [TestCase("redis://")] // no host
    [TestCase("not a host,password=x")] // endpoint with spaces
    [TestCase(",password=x")] // no endpoint at all
    public void FromConfiguration_BadRedisUrl_ThrowsNamingSetting(string url)
    {
        var e = Assert.Throws<ArgumentException>(() => Read(("REDIS_URL", url)));
        Assert.That(e!.Message, Does.StartWith("REDIS_URL"));
    }

    [Test]
    public void FromConfiguration_BadConfigurationStringWithPassword_MessageHidesPassword()
    {
        var e = Assert.Throws<ArgumentException>(() => Read(("REDIS_URL", "h:1,password=hunter2,connectTimeout=soon")));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.StartWith("REDIS_URL"));
            Assert.That(e.Message, Does.Not.Contain("hunter2"));
        });
    }

    [TestCase("604800", 604800.0)] // plain seconds
    [TestCase("7d", 604800.0)] // days
    [TestCase("12h", 43200.0)] // hours
    [TestCase("30m", 1800.0)] // minutes
    [TestCase("90s", 90.0)] // seconds with unit
    [TestCase("1.5h", 5400.0)] // fractional
    [TestCase("1.00:00:00", 86400.0)] // TimeSpan form
    public void FromConfiguration_CacheTtl_Parsed(string text, double seconds) =>
        Assert.That(Read(("CACHE_TTL", text)).Ttl, Is.EqualTo(TimeSpan.FromSeconds(seconds)));

    [TestCase("CACHE_TTL", "soon")] // not a duration
    [TestCase("CACHE_TTL", "0")] // zero
    [TestCase("CACHE_TTL", "-5")] // negative
    [TestCase("CACHE_TTL", "7w")] // unknown unit
    [TestCase("CACHE_DTYPE", "bfloat16")] // unsupported dtype
    [TestCase("CACHE_PREFIX", "a{b}:")] // braces break hash tags
    [TestCase("CACHE_PREFIX", "my prefix")] // whitespace
    [TestCase("LOCK_TTL", "10ms")] // below 100 ms
    [TestCase("LOCK_TTL", "2h")] // above 1 h
    [TestCase("LOCK_TTL", "x")] // not a duration
    public void FromConfiguration_InvalidSetting_MessageStartsWithName(string key, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => Read((key, value)));
        Assert.That(e!.Message, Does.StartWith(key));
    }

    [Test]
    public void FromConfiguration_LockTtlInMilliseconds_Parsed() =>
        Assert.That(Read(("LOCK_TTL", "500ms")).LockTtl, Is.EqualTo(TimeSpan.FromMilliseconds(500)));
}
