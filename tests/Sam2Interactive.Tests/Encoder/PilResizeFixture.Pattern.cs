namespace Sam2Interactive.Tests.Encoder;

internal static partial class PilResizeFixture
{
    /// <summary>The patterns of Fixtures/make_pil_resize_fixture.py, as interleaved R,G,B (must stay formula-identical).</summary>
    public static (byte[] Rgb, int Width, int Height) Pattern(string name)
    {
        var (width, height) = name == "small" ? (37, 53) : (2000, 1200);
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                if (name == "small")
                {
                    rgb[i] = (byte)((x * 7 + y * 13) % 256);
                    rgb[i + 1] = (byte)((x * x + 3 * y) % 256);
                    rgb[i + 2] = (byte)((x * y * 5 + 17) % 256);
                }
                else
                {
                    rgb[i] = (byte)((x * 3 + y * 5) % 256);
                    rgb[i + 1] = (byte)((x / 7 * 29 + y / 5 * 11) % 256);
                    rgb[i + 2] = (byte)((x ^ y) & 255);
                }
            }
        }

        return (rgb, width, height);
    }
}
