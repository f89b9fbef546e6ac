using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using NUnit.Framework;
using SkiaSharp;

namespace Sam2Interactive.Testing;

/// <summary>Builds encoded test images in memory with SkiaSharp and by hand (EXIF APP1, PNG chunks, GIF).</summary>
internal static class TestImages
{
    /// <summary>Deterministic noise, row-major R,G,B.</summary>
    public static byte[] RandomRgb(int width, int height, int seed)
    {
        var rgb = new byte[width * height * 3];
        new Random(seed).NextBytes(rgb);
        return rgb;
    }

    /// <summary>Smooth content that survives JPEG with small error: R ramps with x, G with y, B constant.</summary>
    public static byte[] GradientRgb(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                rgb[i] = (byte)(x * 255 / Math.Max(1, width - 1));
                rgb[i + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                rgb[i + 2] = 128;
            }
        }

        return rgb;
    }

    /// <summary>Encodes opaque R,G,B pixels with Skia.</summary>
    public static byte[] Encode(byte[] rgb, int width, int height, SKEncodedImageFormat format, int quality = 100)
    {
        var rgba = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            rgba[i * 4] = rgb[i * 3];
            rgba[i * 4 + 1] = rgb[i * 3 + 1];
            rgba[i * 4 + 2] = rgb[i * 3 + 2];
            rgba[i * 4 + 3] = 255;
        }

        return EncodeRgba(rgba, width, height, format, quality);
    }

    /// <summary>Encodes unpremultiplied R,G,B,A pixels with Skia.</summary>
    public static byte[] EncodeRgba(byte[] rgba, int width, int height, SKEncodedImageFormat format, int quality = 100)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject());
            using var data = format == SKEncodedImageFormat.Webp
                ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
                : pixmap.Encode(format, quality);
            Assert.That(data, Is.Not.Null, $"Skia could not encode {format}");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Encodes a pixmap of any colour type (Gray8, Rgba16161616, …) as PNG or JPEG.</summary>
    public static byte[] EncodeRaw<T>(T[] pixels, SKImageInfo info, SKEncodedImageFormat format)
        where T : unmanaged
    {
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject());
            using var data = format == SKEncodedImageFormat.Png
                ? pixmap.Encode(new SKPngEncoderOptions())
                : pixmap.Encode(new SKJpegEncoderOptions(95, SKJpegEncoderDownsample.Downsample444, SKJpegEncoderAlphaOption.Ignore));
            Assert.That(data, Is.Not.Null, $"Skia could not encode {info.ColorType} as {format}");
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>
    /// Inserts an EXIF APP1 segment right after SOI carrying only the Orientation tag (0x0112, SHORT).
    /// The entropy-coded data is untouched, so the stored pixels decode identically.
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        Assert.That(jpeg[0] == 0xFF && jpeg[1] == 0xD8, "not a JPEG");
        byte[] payload =
        [
            (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0,
            (byte)'I', (byte)'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, // little-endian TIFF header, IFD0 at offset 8
            0x01, 0x00,                                                 // one entry
            0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, (byte)orientation, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,                                     // no next IFD
        ];
        var segmentLength = payload.Length + 2;
        var result = new byte[jpeg.Length + 4 + payload.Length];
        result[0] = 0xFF;
        result[1] = 0xD8;
        result[2] = 0xFF;
        result[3] = 0xE1;
        result[4] = (byte)(segmentLength >> 8);
        result[5] = (byte)segmentLength;
        payload.CopyTo(result, 6);
        jpeg.AsSpan(2).CopyTo(result.AsSpan(6 + payload.Length));
        return result;
    }

    /// <summary>
    /// A PNG whose IHDR announces <paramref name="width"/>×<paramref name="height"/> RGB 8-bit but whose IDAT holds only a
    /// few bytes: valid up to the first pixel row, so only a decoder that trusts the header before decoding can size it.
    /// </summary>
    public static byte[] PngHeaderOnly(int width, int height)
    {
        using var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB
        WriteChunk(stream, "IHDR", ihdr);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(new byte[64]); // filter byte + a few black pixels of row 0
        }

        WriteChunk(stream, "IDAT", compressed.ToArray());
        WriteChunk(stream, "IEND", []);
        return stream.ToArray();
    }

    /// <summary>
    /// A 2×1 GIF89a with two frames sharing a 2-colour palette: frame 0 is all red (index 0), frame 1 all blue (index 1).
    /// LZW with minimum code size 2: clear=4, end=5, 3-bit codes [4, i, i, 5] packed LSB-first.
    /// </summary>
    public static byte[] TwoFrameGif()
    {
        using var stream = new MemoryStream();
        stream.Write("GIF89a"u8);
        stream.Write([2, 0, 1, 0, 0x80, 0, 0]);          // 2×1, global colour table of 2 entries
        stream.Write([255, 0, 0, 0, 0, 255]);             // red, blue
        stream.Write([0x21, 0xFF, 0x0B]);                 // NETSCAPE2.0 loop extension: marks the file as animated
        stream.Write("NETSCAPE2.0"u8);
        stream.Write([0x03, 0x01, 0x00, 0x00, 0x00]);
        foreach (var index in new[] { 0, 1 })
        {
            stream.Write([0x21, 0xF9, 0x04, 0x00, 0x0A, 0x00, 0x00, 0x00]); // graphic control: 100 ms, no transparency
            stream.Write([0x2C, 0, 0, 0, 0, 2, 0, 1, 0, 0]);                // image descriptor at (0,0), 2×1
            var first = (byte)(4 | (index << 3) | (index << 6));
            stream.Write([0x02, 0x02, first, 0x0A, 0x00]);                  // min code size 2, one 2-byte sub-block
        }

        stream.WriteByte(0x3B);
        return stream.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        var typeAndData = new byte[4 + data.Length];
        for (var i = 0; i < 4; i++)
        {
            typeAndData[i] = (byte)type[i];
        }

        data.CopyTo(typeAndData, 4);
        stream.Write(typeAndData);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, PngCrc(typeAndData));
        stream.Write(crc);
    }

    /// <summary>CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320) over chunk type and data, as the PNG spec defines.</summary>
    private static uint PngCrc(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
