using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// A throw-away <c>redis-server</c> from PATH on a free loopback port, without persistence, in its own temp dir.
/// Can be killed, paused (<c>CLIENT PAUSE</c>) and restarted on the same port. Fails loudly when redis-server is missing.
/// </summary>
internal sealed class RedisServerProcess : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(5);

    private readonly string _executable;
    private readonly string _dir;
    private Process? _process;

    private readonly bool _cluster;

    private RedisServerProcess(string executable, int port, bool cluster)
    {
        _executable = executable;
        Port = port;
        _cluster = cluster;
        _dir = Directory.CreateTempSubdirectory("sam2i-redis-").FullName;
    }

    public int Port { get; }

    /// <summary>StackExchange.Redis configuration string of this server.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server on a free port (or <paramref name="port"/>) and waits until it answers PING.</summary>
    /// <param name="clusterEnabled">Cluster mode (one node, no slots assigned): enough for <c>CLUSTER KEYSLOT</c>.</param>
    public static RedisServerProcess Start(int? port = null, bool clusterEnabled = false)
    {
        var server = new RedisServerProcess(FindExecutable(), port ?? FreePort(), clusterEnabled);
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
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
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
        Expect(Command("CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), "ALL"), "+OK");

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

    private static void Expect(string reply, string expected)
    {
        if (reply != expected) throw new InvalidOperationException($"redis-server replied '{reply}', expected '{expected}'");
    }

    private static string FindExecutable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            "redis-server is not on PATH. The Redis cache tests need a real server: install it (apt-get install redis-server).");
    }

    public void Dispose()
    {
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
