using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using BenchmarkDotNet.Validators;

namespace Sam2Interactive.Benchmarks;

/// <summary>ShortRun in process (no child build: quick on 2 cores), allocation numbers, and a hard failure on a Debug build.</summary>
internal static class KernelConfig
{
    public static IConfig Create() => DefaultConfig.Instance
        .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddValidator(JitOptimizationsValidator.FailOnError)
        .WithOptions(ConfigOptions.JoinSummary);
}
