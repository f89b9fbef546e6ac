using System.Security.Cryptography;

namespace Sam2Interactive.Encoder;

/// <summary>Identity of an encoder: cached embeddings are only valid for the exact weights that produced them.</summary>
public static class ModelIdentity
{
    /// <summary>
    /// First 16 hex digits of the SHA-256 over the encoder file and its external-data file(s) (<c>x.onnx_data</c>,
    /// <c>x.onnx.data</c>), if any. Reads the whole file once (about a second per 500 MB).
    /// </summary>
    public static string Compute(string encoderPath)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var path in new[] { encoderPath, encoderPath + "_data", encoderPath + ".data" })
        {
            if (!File.Exists(path)) continue;
            using var stream = File.OpenRead(path);
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
