using BenchmarkDotNet.Running;

namespace Sam2Interactive.Benchmarks;

/// <summary>
/// <c>quick</c>: the end-to-end load driver, one table of ratios (docs/benchmarks.md). <c>cost</c>: bare session run times.
/// <c>memory</c>: the server's resident memory as a separate process, start to soak. <c>arena-cost</c>: each
/// ENCODER_ARENA choice's time per encode, interleaved.
/// <c>auto [grids…]</c>: automatic masks, time per image and clicks kept during pre-annotation; <c>auto-clicks</c>: the clicks only.
/// Anything else goes to BenchmarkDotNet's switcher (e.g. <c>--filter '*'</c> for every kernel).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            switch (args.FirstOrDefault())
            {
                case "quick":
                    return await QuickSuite.RunAsync(BenchArguments.Parse(args.Skip(1)));
                case "memory":
                    return await MemoryRun.RunAsync(args[1..]);
                case "arena-cost":
                    return ArenaCost.Run(BenchArguments.Parse(args.Skip(1)));
                case "redis-hit":
                    return await RedisHitCost.RunAsync(BenchArguments.Parse(args.Skip(1)));
                case "cost":
                    return StandInCost.Run(BenchArguments.Parse(args.Skip(1)));
                case "auto":
                    // auto [16 32 …] [options]: grid sizes first, then the usual options.
                    var grids = args.Skip(1).TakeWhile(a => int.TryParse(a, out _)).Select(a => int.Parse(a, System.Globalization.CultureInfo.InvariantCulture)).ToList();
                    return await AutoSuite.RunAsync(BenchArguments.Parse(args.Skip(1 + grids.Count)), grids.Count > 0 ? grids : [16, 32]);
                case "auto-clicks":
                    return await AutoSuite.RunAsync(BenchArguments.Parse(args.Skip(1)), []);
                default:
                    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, KernelConfig.Create());
                    return 0;
            }
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
    }
}
