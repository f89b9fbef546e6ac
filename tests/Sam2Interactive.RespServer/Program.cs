using Garnet;

// Garnet's own command line (--port, --bind, --lua, --cluster, ...), as its GarnetServer host reads it. Runs until killed:
// RedisServerProcess owns the process and ends it with SIGKILL, like a crashed Redis.
using var server = new GarnetServer(args);
server.Start();
Console.WriteLine("ready");
await Task.Delay(Timeout.Infinite).ConfigureAwait(false);
