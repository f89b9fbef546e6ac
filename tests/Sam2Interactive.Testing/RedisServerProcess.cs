using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace Sam2Interactive.Testing;

/// <summary>
/// A throw-away <c>redis-server</c> on a free loopback port, without persistence, in its own temp dir, owned by this
/// process: <see cref="Dispose"/> kills exactly the process it started. Can be killed, paused (<c>CLIENT PAUSE</c>) and
/// restarted on the same port. <see cref="Start"/> fails loudly when redis-server is missing; callers for which Redis is
/// optional (the benchmarks) ask <see cref="FindExecutable"/> first.
/// </summary>
internal sealed class RedisServerProcess : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Where redis-server is looked for after PATH.</summary>
    private static readonly string[] s_wellKnownPaths = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];

    private readonly string _executable;
    private readonly string _dir;
    private readonly bool _cluster;
    private Process? _process;
    private ConnectionMultiplexer? _connection;

    private RedisServerProcess(string executable, int port, bool cluster)
    {
        _executable = executable;
        Port = port;
        _cluster = cluster;
        _dir = Directory.CreateTempSubdirectory("sam2i-redis-").FullName;
    }

    public int Port { get; }

    /// <summary>StackExchange.Redis configuration string of this server.</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>The server's <c>REDIS_URL</c>.</summary>
    public string Url => "redis://" + Endpoint;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server on a free port (or <paramref name="port"/>) and waits until it answers PING.</summary>
    /// <param name="clusterEnabled">Cluster mode (one node, no slots assigned): enough for <c>CLUSTER KEYSLOT</c>.</param>
    /// <param name="executable">The redis-server binary; by default the one <see cref="FindExecutable"/> finds.</param>
    public static RedisServerProcess Start(int? port = null, bool clusterEnabled = false, string? executable = null)
    {
        var binary = executable ?? FindExecutable() ?? throw new InvalidOperationException(
            "redis-server is not on PATH. The Redis cache tests need a real server: install it (apt-get install redis-server).");
        if (!File.Exists(binary)) throw new InvalidOperationException($"redis-server not found at '{binary}'");
        var server = new RedisServerProcess(binary, port ?? FreePort(), clusterEnabled);
        try
        {
            server.Restart();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>The redis-server binary on PATH or in /usr/bin, /usr/local/bin; null when there is none.</summary>
    public static string? FindExecutable()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "redis-server"));
        return onPath.Concat(s_wellKnownPaths).FirstOrDefault(File.Exists);
    }

    /// <summary>A free loopback port with nothing listening (for "Redis absent" tests).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>(Re)starts the server on <see cref="Port"/> with an empty dataset.</summary>
    public void Restart()
    {
        if (IsRunning) throw new InvalidOperationException("redis-server is already running");
        var info = new ProcessStartInfo(_executable)
        {
            WorkingDirectory = _dir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", _dir, "--daemonize", "no",
                     "--protected-mode", "no", "--logfile", Path.Combine(_dir, "redis.log"),
                 })
        {
            info.ArgumentList.Add(arg);
        }
        if (_cluster)
        {
            foreach (var arg in new[] { "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(_dir, "nodes.conf") })
                info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < s_startTimeout)
        {
            if (_process.HasExited) break;
            try
            {
                if (Command("PING") == "+PONG") return;
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // Not listening yet.
            }
            Thread.Sleep(20);
        }
        var log = File.Exists(Path.Combine(_dir, "redis.log")) ? File.ReadAllText(Path.Combine(_dir, "redis.log")) : "(no log)";
        Kill();
        throw new InvalidOperationException($"redis-server did not answer PING on port {Port} within {s_startTimeout.TotalSeconds} s. Log:\n{log}");
    }

    /// <summary>Kills the server (SIGKILL, like a crash) and waits for it to exit.</summary>
    public void Kill()
    {
        var p = _process;
        _process = null;
        if (p is null) return;
        try
        {
            if (!p.HasExited) p.Kill();
            p.WaitForExit(5000);
        }
        finally
        {
            p.Dispose();
        }
    }

    /// <summary>Stops the server answering clients for <paramref name="duration"/> (<c>CLIENT PAUSE ms ALL</c>).</summary>
    public void Pause(TimeSpan duration) =>
        Expect(Command("CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "ALL"), "+OK");

    /// <summary>Sends one command over a fresh connection and returns the first reply line (e.g. "+OK", ":1", "$5").</summary>
    public string Command(params string[] parts)
    {
        using var client = new TcpClient();
        client.ReceiveTimeout = client.SendTimeout = 2000;
        client.Connect(IPAddress.Loopback, Port);
        using var stream = client.GetStream();
        var request = new StringBuilder().Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }
        stream.Write(Encoding.UTF8.GetBytes(request.ToString()));
        var line = new StringBuilder();
        while (true)
        {
            var b = stream.ReadByte();
            if (b < 0) throw new IOException("redis-server closed the connection");
            if (b == '\n') break;
            if (b != '\r') line.Append((char)b);
        }
        return line.ToString();
    }

    /// <summary>Lengths of the string values whose keys match <paramref name="pattern"/> (SCAN over a client connection
    /// opened on first use and closed with the server).</summary>
    public List<long> ValueLengths(string pattern)
    {
        _connection ??= ConnectionMultiplexer.Connect(Endpoint + ",connectTimeout=500,syncTimeout=20000,asyncTimeout=20000");
        var server = _connection.GetServer(_connection.GetEndPoints()[0]);
        var db = _connection.GetDatabase();
        return server.Keys(pattern: pattern).Where(k => db.KeyType(k) == RedisType.String).Select(k => db.StringLength(k)).ToList();
    }

    private static void Expect(string reply, string expected)
    {
        if (reply != expected) throw new InvalidOperationException($"redis-server replied '{reply}', expected '{expected}'");
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
        Kill();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A temp dir left behind is harmless.
        }
    }
}
