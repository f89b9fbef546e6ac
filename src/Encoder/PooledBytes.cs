using System.Buffers;

namespace Sam2Interactive.Encoder;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over one array rented from <see cref="ArrayPool{T}.Shared"/>; grows by re-renting.
/// The owner disposes it once, which returns the array; <see cref="WrittenMemory"/> is invalid afterwards. Shared by the
/// stages for large encoded outputs (Redis values, mask encodings) so none allocates them per request.
/// </summary>
public sealed class PooledBytes : IBufferWriter<byte>, IDisposable
{
    private byte[]? _buffer;
    private int _written;

    public PooledBytes(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    public ReadOnlyMemory<byte> WrittenMemory => Buffer.AsMemory(0, _written);

    public int WrittenCount => _written;

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(PooledBytes));

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return Buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return Buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        var buffer = Buffer;
        if (buffer.Length - _written >= Math.Max(sizeHint, 1)) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, _written + sizeHint));
        buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) ArrayPool<byte>.Shared.Return(b);
    }
}
