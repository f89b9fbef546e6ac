namespace Sam2Interactive.StandIns;

/// <summary>How much compute a stand-in model pair spends per run. Masks and I/O signatures are the same for every size.</summary>
public enum StandInSize
{
    /// <summary>Pooling and 1×1 convs: milliseconds per run, for unit tests. Its bytes never change.</summary>
    Small,

    /// <summary>
    /// Adds a chain of 3×3 convs (time) and, in the encoder, a global attention (memory) whose results enter the outputs scaled
    /// by 1e-30 (below float32 resolution of the values they meet), so the masks stay those of <see cref="Small"/> bit for bit
    /// while each run costs about what a real SAM2.1 hiera-tiny export costs on a 2-core AMD EPYC with ONNX Runtime 1.31 CPU:
    /// encoder ≈ 4.0 s per run, peaking near 1.0 GiB resident in a fresh process; decoder ≈ 44 ms per one-point run
    /// (docs/stand-ins.md, docs/benchmarks.md). For benchmarks and memory measurements.
    /// </summary>
    Realistic,
}
