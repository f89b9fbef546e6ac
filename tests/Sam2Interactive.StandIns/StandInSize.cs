namespace Sam2Interactive.StandIns;

/// <summary>How much compute a stand-in model pair spends per run. Masks and I/O signatures are the same for every size.</summary>
public enum StandInSize
{
    /// <summary>Pooling and 1×1 convs: milliseconds per run, for unit tests. Its bytes never change.</summary>
    Small,

    /// <summary>
    /// Adds a chain of 3×3 convs whose result enters the outputs scaled by 1e-30 (below float32 resolution of the values it
    /// is added to), so each run costs about what SAM2.1 hiera-tiny costs on a 2-core CPU with ONNX Runtime 1.31
    /// (encoder ≈ 7 s, decoder ≈ 0.17 s) while the masks stay those of <see cref="Small"/>. For benchmarks.
    /// </summary>
    Realistic,
}
