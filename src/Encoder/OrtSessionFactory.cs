using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Sam2Interactive.Encoder;

/// <summary>
/// Creates the ONNX Runtime session of one model for the configured device. CUDA falls back to CPU with one warning; the
/// provider a session really got is returned with it, so every session wrapper reports its own.
/// </summary>
public static class OrtSessionFactory
{
    /// <param name="provider">"CUDA" or "CPU": the execution provider this session runs on.</param>
    /// <param name="intraOpThreads">Intra-op threads of this session (0: one per core), instead of <see cref="ModelOptions.Threads"/>.</param>
    /// <param name="cpuArena">Whether the session keeps ONNX Runtime's CPU arena (false: each run's activations are freed after it).</param>
    /// <exception cref="InvalidDataException">The file is missing or not a loadable ONNX model; the message names it.</exception>
    public static InferenceSession Create(string path, ModelOptions options, ILogger logger, out string provider, int? intraOpThreads = null, bool cpuArena = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path)) throw new InvalidDataException($"Model file '{path}' does not exist.");
        var sessionOptions = CreateOptions(options, intraOpThreads ?? options.Threads, cpuArena, logger, out provider);
        try
        {
            // By path, not bytes: external-data weights (*.onnx_data) are resolved relative to the file.
            return new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"Model file '{path}' could not be loaded by ONNX Runtime: {e.Message}", e);
        }
        finally
        {
            sessionOptions.Dispose();
        }
    }

    private static SessionOptions CreateOptions(ModelOptions options, int threads, bool cpuArena, ILogger logger, out string provider)
    {
        var so = NewCpuOptions(options, threads, cpuArena);
        provider = "CPU";
        if (!options.Device.StartsWith("cuda", StringComparison.Ordinal)) return so;
        var deviceId = options.Device.Length > 5 && int.TryParse(options.Device.AsSpan(5), out var id) ? id : 0;
        // The CPU package has no CUDA entry point at all; its provider list says so, so never call into it.
        if (!OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
        {
            Log.CudaNotInBuild(logger);
            return so;
        }
        try
        {
            so.AppendExecutionProvider_CUDA(deviceId);
            provider = "CUDA";
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            // Missing libcudart/libcublas/cuDNN or no driver: the append throws. Start over with a clean CPU options object.
            Log.CudaUnavailable(logger, e.Message);
            so.Dispose();
            so = NewCpuOptions(options, threads, cpuArena);
        }
        return so;
    }

    private static SessionOptions NewCpuOptions(ModelOptions options, int threads, bool cpuArena)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            EnableMemoryPattern = true,
            EnableCpuMemArena = cpuArena,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (threads > 0) so.IntraOpNumThreads = threads;
        if (!options.AllowSpinning) so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return so;
    }
}
