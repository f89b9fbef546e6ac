using System.Buffers;

namespace Sam2Interactive.Tests.Support;

/// <summary>An <see cref="IMemoryOwner{T}"/> over a byte array that counts its disposals (ownership checks).</summary>
internal sealed class OwnedBytes(byte[] bytes) : IMemoryOwner<byte>
{
    private int _disposals;

    public Memory<byte> Memory => Volatile.Read(ref _disposals) == 0 ? bytes : throw new ObjectDisposedException(nameof(OwnedBytes));

    /// <summary>The array behind <see cref="Memory"/>, to tell whether a consumer copied it.</summary>
    public byte[] Array => bytes;

    public int Disposals => Volatile.Read(ref _disposals);

    public void Dispose() => Interlocked.Increment(ref _disposals);
}
