using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NUnit.Framework;
using StackExchange.Redis;

namespace Sam2Interactive.Testing;

/// <summary>Which RESP server the tests run against.</summary>
internal enum RespServerKind
{
    /// <summary><c>redis-server</c> from PATH (CI installs it: production's server is what CI tests).</summary>
    RedisServer,

    /// <summary>Microsoft Garnet from NuGet (tests/Sam2Interactive.RespServer), when redis-server is absent.</summary>
    Garnet,
}

/// <summary>
/// A throw-away RESP server on a free loopback port, without persistence, in its own temp dir, owned by this process:
/// <see cref="Dispose"/> kills exactly the process it started. Can be killed, paused and restarted on the same port.
/// The server is <c>redis-server</c> when it is on PATH, else Microsoft Garnet started as a separate process (so kill,
/// pause and restart work the same); <c>SAM2I_TEST_REDIS=garnet</c> or <c>=redis-server</c> forces one. The choice is
/// printed once. Tests that need what only redis-server has (<c>CLIENT PAUSE WRITE</c>, <c>INFO</c> byte counters)
/// call <see cref="RequireRedisServer"/>.
/// </summary>
internal sealed class RedisServerProcess : IDisposable
{
    /// <summary>Environment override: <c>garnet</c> or <c>redis-server</c>.</summary>
    public const string ServerVariable = "SAM2I_TEST_REDIS";

    private static readonly Lazy<(RespServerKind Kind, string? RedisServer)> s_choice = new(Choose);

    /// <summary>A bound, not an expectation: Garnet's .NET start-up takes seconds on a busy machine.</summary>
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Where redis-server is looked for after PATH.</summary>
    private static readonly string[] s_wellKnownPaths = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];

    private readonly RespServerKind _kind;
    private readonly string _executable;
    private readonly string _dir;
    private readonly bool _cluster;
    private readonly StringBuilder _output = new();
    private Process? _process;
    private ConnectionMultiplexer? _connection;

    private RedisServerProcess(RespServerKind kind, string executable, int port, bool cluster)
    {
        _kind = kind;
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

    /// <summary>The server the tests use on this machine (decided once, and printed).</summary>
    public static RespServerKind Kind => s_choice.Value.Kind;

    /// <summary>Ignores the calling test when the tests run on Garnet, naming what it lacks.</summary>
    public static void RequireRedisServer(string what)
    {
        if (Kind != RespServerKind.RedisServer)
            Assert.Ignore($"needs redis-server ({what}; Garnet lacks it): install redis-server to run this test");
    }

    /// <summary>Starts a server on a free port (or <paramref name="port"/>) and waits until it answers PING.</summary>
    /// <param name="clusterEnabled">Cluster mode (one node, no slots assigned): enough for <c>CLUSTER KEYSLOT</c>.</param>
    /// <param name="executable">A redis-server binary; by default the server <see cref="Kind"/> names.</param>
    public static RedisServerProcess Start(int? port = null, bool clusterEnabled = false, string? executable = null)
    {
        RedisServerProcess server;
        if (executable is not null)
        {
            if (!File.Exists(executable)) throw new InvalidOperationException($"redis-server not found at '{executable}'");
            server = new RedisServerProcess(RespServerKind.RedisServer, executable, port ?? FreePort(), clusterEnabled);
        }
        else
        {
            var (kind, redisServer) = s_choice.Value;
            server = new RedisServerProcess(kind, redisServer ?? GarnetHost(), port ?? FreePort(), clusterEnabled);
        }
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

    private static (RespServerKind, string?) Choose()
    {
        var requested = Environment.GetEnvironmentVariable(ServerVariable)?.Trim().ToLowerInvariant();
        var redisServer = requested == "garnet" ? null : FindExecutable();
        (RespServerKind, string?) choice;
        string why;
        switch (requested)
        {
            case "garnet":
                choice = (RespServerKind.Garnet, null);
                why = $"{ServerVariable}=garnet";
                break;
            case "redis-server":
                choice = (RespServerKind.RedisServer, redisServer ?? throw new InvalidOperationException(
                    $"{ServerVariable}=redis-server but redis-server is not on PATH: install it (apt-get install redis-server)."));
                why = $"{ServerVariable}=redis-server";
                break;
            case null or "":
                choice = redisServer is null ? (RespServerKind.Garnet, null) : (RespServerKind.RedisServer, redisServer);
                why = redisServer is null ? "redis-server is not on PATH" : "found on PATH";
                break;
            default:
                throw new InvalidOperationException($"{ServerVariable} must be 'garnet' or 'redis-server', not '{requested}'.");
        }
        TestContext.Progress.WriteLine(choice.Item1 == RespServerKind.RedisServer
            ? $"RESP server for the tests: redis-server at {choice.Item2} ({why})."
            : $"RESP server for the tests: Microsoft Garnet (tests/Sam2Interactive.RespServer) ({why}); tests that need redis-server are ignored.");
        return choice;
    }

    /// <summary>The Garnet host built next to the tests (a referenced project, copied with its runtimeconfig).</summary>
    private static string GarnetHost()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Sam2Interactive.RespServer.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"the Garnet host is missing at '{dll}': build tests/Sam2Interactive.RespServer.");
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
        if (IsRunning) throw new InvalidOperationException("the RESP server is already running");
        var garnet = _kind == RespServerKind.Garnet;
        // The SDK sets DOTNET_HOST_PATH for processes it starts (dotnet test); else the muxer on PATH.
        var info = new ProcessStartInfo(garnet ? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet" : _executable)
        {
            WorkingDirectory = _dir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var port = Port.ToString(CultureInfo.InvariantCulture);
        string[] args = garnet
            // Lua for the lock scripts; 32 MiB pages hold a 16 MiB float32 embedding in one record; no checkpoints (in memory).
            ? [_executable, "--port", port, "--bind", "127.0.0.1", "--lua", "-q", "--memory", "1g", "--page", "32m",
                "--checkpointdir", _dir, "--logger-level", "Warning", .. _cluster ? new[] { "--cluster" } : []]
            : ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir, "--daemonize", "no",
                "--protected-mode", "no", "--logfile", Path.Combine(_dir, "redis.log"),
                .. _cluster ? new[] { "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(_dir, "nodes.conf") } : []];
        foreach (var arg in args) info.ArgumentList.Add(arg);
        lock (_output) _output.Clear();
        _process = Process.Start(info) ?? throw new InvalidOperationException($"{_kind} did not start");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
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
        string log;
        lock (_output) log = File.Exists(Path.Combine(_dir, "redis.log")) ? File.ReadAllText(Path.Combine(_dir, "redis.log")) : _output.ToString();
        Kill();
        throw new InvalidOperationException($"{_kind} did not answer PING on port {Port} within {s_startTimeout.TotalSeconds} s. Log:\n{log}");
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length < 64 * 1024) _output.AppendLine(line);
        }
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

    /// <summary>Stops the server answering clients for <paramref name="duration"/>: <c>CLIENT PAUSE ms ALL</c> on
    /// redis-server; on Garnet, which has no CLIENT PAUSE, the process is stopped (SIGSTOP) and continued (SIGCONT).</summary>
    public void Pause(TimeSpan duration)
    {
        if (_kind == RespServerKind.RedisServer)
        {
            Expect(Command("CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "ALL"), "+OK");
            return;
        }
        var pid = _process?.Id ?? throw new InvalidOperationException("the RESP server is not running");
        Signal(pid, "STOP");
        // The bounded pause CLIENT PAUSE gives, on the process: continued by a timer, like the server's own timeout.
        _ = Task.Delay(duration).ContinueWith(_ => Signal(pid, "CONT"), TaskScheduler.Default);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {pid} failed");
    }

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

    /// <summary>Bytes held by each key matching <paramref name="pattern"/>: a string's length, or the sum of a hash's field
    /// lengths (an embedding's parts). SCAN over a client connection opened on first use and closed with the server.</summary>
    public List<long> ValueLengths(string pattern)
    {
        _connection ??= ConnectionMultiplexer.Connect(Endpoint + ",connectTimeout=500,syncTimeout=20000,asyncTimeout=20000");
        var server = _connection.GetServer(_connection.GetEndPoints()[0]);
        var db = _connection.GetDatabase();
        return server.Keys(pattern: pattern).Select(k => db.KeyType(k) switch
        {
            RedisType.String => db.StringLength(k),
            RedisType.Hash => db.HashKeys(k).Sum(f => db.HashStringLength(k, f)),
            _ => 0,
        }).ToList();
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
