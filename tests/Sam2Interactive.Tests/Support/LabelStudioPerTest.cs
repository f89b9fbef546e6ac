using NUnit.Framework;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Support;

/// <summary>
/// Base of fixtures that give every test a fresh Label Studio stand-in (<see cref="Ls"/>) and add distinct scenes to it
/// under /data/upload/{folder}/ (<see cref="NewImage"/>). Leak-checked like every <see cref="EmbeddingLeakCheck"/>: the
/// stand-in stops in the derived fixture's teardown order, before the check.
/// </summary>
public abstract class LabelStudioPerTest(string folder) : EmbeddingLeakCheck
{
    private int _next;

    private protected LabelStudioStandIn Ls { get; private set; } = null!;

    [SetUp]
    public async Task StartLabelStudio() => Ls = await LabelStudioStandIn.StartAsync();

    [TearDown]
    public async Task StopLabelStudio() => await Ls.DisposeAsync();

    /// <summary>A new scene of distinct bytes served by <see cref="Ls"/>.</summary>
    private protected (string Path, Scene Scene) NewImage() => Traffic.AddImage(Ls, folder, Interlocked.Increment(ref _next));
}
