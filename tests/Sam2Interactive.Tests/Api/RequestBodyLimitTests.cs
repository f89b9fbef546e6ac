using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>
/// MAX_REQUEST_BYTES through real Kestrel and raw sockets, as Python's <c>requests</c>/<c>urllib</c> behave: the whole
/// body is written before the answer is read.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RequestBodyLimitTests
{
    private const int FiftyMegabytes = 50 * 1000 * 1000;
    private LabelStudioStandIn _ls = null!;
    private TestServer _default = null!;
    private TestServer _small = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _default = await TestServer.StartAsync(_ls); // MAX_REQUEST_BYTES unset: 30000000, swallowed up to 60000000
        _small = await TestServer.StartAsync(_ls, new Dictionary<string, string?> { ["MAX_REQUEST_BYTES"] = "1MiB" });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _default.DisposeAsync();
        await _small.DisposeAsync();
        await _ls.DisposeAsync();
    }

    private static byte[] Head(int contentLength) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n"));

    /// <summary>Reads the whole response (the server closes or ends it) as text.</summary>
    private static async Task<string> ReadResponseAsync(NetworkStream stream)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var text = Encoding.ASCII.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var lengthLine = text[..end].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                if (lengthLine is not null && buffer.Length >= end + 4 + int.Parse(lengthLine["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture))
                    return text;
            }
            var read = await stream.ReadAsync(chunk);
            if (read == 0) return text;
            buffer.Write(chunk, 0, read);
        }
    }

    private static JsonElement Body(string response) =>
        JsonDocument.Parse(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]).RootElement.Clone();

    [Test]
    public async Task Predict_FiftyMegabyteBodySentBeforeReading_Gets413WithLimitAndSetting()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, new Uri(_default.Url).Port);
        using var stream = client.GetStream();

        // Everything is written before a single byte is read: a server that closes early fails this write (broken pipe).
        await stream.WriteAsync(Head(FiftyMegabytes));
        var block = new byte[1 << 20];
        for (var sent = 0; sent < FiftyMegabytes; sent += block.Length)
            await stream.WriteAsync(block.AsMemory(0, Math.Min(block.Length, FiftyMegabytes - sent)));
        var response = await ReadResponseAsync(stream);

        Assert.That(response, Does.StartWith("HTTP/1.1 413"));
        var body = Body(response);
        Assert.That(body.GetProperty("status").GetInt32(), Is.EqualTo(413));
        Assert.That(body.GetProperty("detail").GetString(), Does.Contain("MAX_REQUEST_BYTES (30000000 bytes)").And.Contain("50000000"));
    }

    [Test]
    public async Task Predict_BodyBeyondTwiceTheLimit_413AtOnceAndConnectionClosed()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, new Uri(_small.Url).Port);
        using var stream = client.GetStream();

        // 50 MB declared against a 1 MiB limit: not swallowed. Only the head is sent; the answer comes without the body.
        await stream.WriteAsync(Head(FiftyMegabytes));
        var response = await ReadResponseAsync(stream);

        Assert.That(response, Does.StartWith("HTTP/1.1 413"));
        Assert.That(response, Does.Contain("Connection: close"));
        Assert.That(Body(response).GetProperty("detail").GetString(), Does.Contain("MAX_REQUEST_BYTES (1048576 bytes)"));
    }

    [Test]
    public async Task Predict_BodyWithinTheLimit_ReachesTheEndpoint()
    {
        // 2 MB of JSON whitespace around an empty object: under the 30 MB default, so /predict answers it (not a 413).
        var json = "{" + new string(' ', 2_000_000) + "}";
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _default.Http.PostAsync("/predict", content);

        Assert.That(response.StatusCode, Is.Not.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }
}
