using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// A throwaway <c>redis-server</c> on a free loopback port (no persistence), owned by this process: <see cref="DisposeAsync"/>
/// kills exactly the process it started. <see cref="TryStartAsync"/> returns null when no redis-server binary is found.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port, ConnectionMultiplexer connection)
    {
        _process = process;
        Port = port;
        Connection = connection;
    }

    public int Port { get; }

    /// <summary>For the driver's own reads (value sizes); the server under test has its own connection.</summary>
    public ConnectionMultiplexer Connection { get; }

    public string Url => $"redis://127.0.0.1:{Port}";

    public static async Task<RedisServer?> TryStartAsync(string? binary)
    {
        binary ??= new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists);
        if (binary is null || !File.Exists(binary)) return null;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var dir = Directory.CreateTempSubdirectory("sam2i-bench-redis-").FullName;
        var start = new ProcessStartInfo(binary)
        {
            ArgumentList = { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=500,syncTimeout=20000,asyncTimeout=20000");
                return new RedisServer(process, port, connection);
            }
            catch (RedisConnectionException) when (attempt < 40 && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Lengths of the string values whose keys match <paramref name="pattern"/>.</summary>
    public List<long> ValueLengths(string pattern)
    {
        var server = Connection.GetServer(Connection.GetEndPoints()[0]);
        var db = Connection.GetDatabase();
        return server.Keys(pattern: pattern).Where(k => db.KeyType(k) == RedisType.String).Select(k => db.StringLength(k)).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
