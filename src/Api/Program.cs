using Sam2Interactive.Api.Cli;

namespace Sam2Interactive.Api;

/// <summary>One executable: the ML-backend server (default) and the <c>segment</c> / <c>models</c> commands.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) =>
        args.Length > 0 && CommandLine.IsCommand(args[0]) ? CommandLine.RunAsync(args) : Server.RunAsync(args);
}
