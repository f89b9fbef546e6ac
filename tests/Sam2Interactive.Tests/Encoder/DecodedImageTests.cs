using System.Buffers;
using NUnit.Framework;
using Sam2Interactive.Encoder;

namespace Sam2Interactive.Tests.Encoder;

[TestFixture]
[Category("Fast")]
public sealed class DecodedImageTests
{
    [Test]
    public void Rgb_LongerRentedBuffer_ExposesExactlyPixelBytes()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(5 * 3 * 3);
        using var image = new DecodedImage(buffer, 10, 6, 5, 3);

        Assert.That(image.Rgb.Length, Is.EqualTo(45));
    }

    [Test]
    public void Rgb_AfterDispose_ThrowsObjectDisposed()
    {
        var image = new DecodedImage(ArrayPool<byte>.Shared.Rent(12), 2, 2, 2, 2);
        image.Dispose();
        image.Dispose(); // second Dispose must not return the buffer again

        Assert.Throws<ObjectDisposedException>(() => _ = image.Rgb.Length);
    }

    [Test]
    public void Constructor_BufferTooSmall_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DecodedImage(new byte[11], 2, 2, 2, 2));
    }
}
