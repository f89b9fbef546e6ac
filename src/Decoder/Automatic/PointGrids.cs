namespace Sam2Interactive.Decoder.Automatic;

/// <summary>
/// SAM2's point grids (facebookresearch/sam2 <c>sam2/utils/amg.py</c> <c>build_point_grid</c>,
/// <c>build_all_layer_point_grids</c>): points in [0,1]², as (x, y) pairs in double precision, row-major (x varies fastest).
/// </summary>
public static class PointGrids
{
    /// <summary>
    /// <c>build_point_grid(n)</c>: <c>np.linspace(1/(2n), 1 − 1/(2n), n)</c> along each side, x tiled along rows and y
    /// along columns, so point <c>k</c> is (side[k % n], side[k / n]).
    /// </summary>
    /// <returns>2·n² values: x0, y0, x1, y1, …</returns>
    public static double[] Build(int pointsPerSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pointsPerSide);
        var side = Linspace(1.0 / (2 * pointsPerSide), 1 - 1.0 / (2 * pointsPerSide), pointsPerSide);
        var points = new double[2 * pointsPerSide * pointsPerSide];
        for (var row = 0; row < pointsPerSide; row++)
        {
            for (var col = 0; col < pointsPerSide; col++)
            {
                var k = row * pointsPerSide + col;
                points[2 * k] = side[col];
                points[2 * k + 1] = side[row];
            }
        }
        return points;
    }

    /// <summary>
    /// <c>build_all_layer_point_grids(n, n_layers, scale)</c>: layer i has <c>int(n / scale**i)</c> points per side
    /// (Python true division, then truncation).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A layer would have no point (SAM2 fails with a division by zero there).</exception>
    public static IReadOnlyList<double[]> BuildAllLayers(int pointsPerSide, int cropLayers, int downscalePerLayer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cropLayers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(downscalePerLayer);
        var layers = new double[cropLayers + 1][];
        for (var i = 0; i <= cropLayers; i++)
        {
            layers[i] = Build(PointsPerSide(pointsPerSide, i, downscalePerLayer));
        }
        return layers;
    }

    /// <summary>Points per side in crop layer <paramref name="layer"/>: <c>int(n / scale**layer)</c>.</summary>
    public static int PointsPerSide(int pointsPerSide, int layer, int downscalePerLayer)
    {
        var n = (int)(pointsPerSide / Math.Pow(downscalePerLayer, layer));
        if (n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(pointsPerSide),
                $"crop layer {layer} would have int({pointsPerSide} / {downscalePerLayer}^{layer}) = 0 points per side");
        }
        return n;
    }

    /// <summary>
    /// <c>np.linspace(start, stop, num)</c> (endpoint included): <c>start + i·step</c> with <c>step = (stop − start)/(num − 1)</c>,
    /// the last value set to <paramref name="stop"/> exactly; one value is <paramref name="start"/>.
    /// </summary>
    internal static double[] Linspace(double start, double stop, int num)
    {
        var values = new double[num];
        if (num == 1)
        {
            values[0] = start;
            return values;
        }
        var step = (stop - start) / (num - 1);
        for (var i = 0; i < num; i++)
        {
            values[i] = i * step + start;
        }
        values[num - 1] = stop;
        return values;
    }
}
