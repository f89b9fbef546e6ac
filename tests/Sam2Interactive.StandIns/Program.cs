namespace Sam2Interactive.StandIns;

/// <summary>
/// <c>dotnet run --project tests/Sam2Interactive.StandIns -- &lt;dir&gt; [--realistic] [format...]</c>: writes all (or the named)
/// stand-in formats into sub-folders of &lt;dir&gt; named samexporter, onnx-community, origimsize-int32, origimsize-int64.
/// <c>--realistic</c> writes the <see cref="StandInSize.Realistic"/> size (SAM2.1-tiny-like cost, same masks).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: Sam2Interactive.StandIns <dir> [--realistic] [samexporter|onnx-community|origimsize-int32|origimsize-int64 ...]");
            return args.Length == 0 ? 2 : 0;
        }

        var all = Enum.GetValues<StandInFormat>();
        var formats = new List<StandInFormat>();
        var size = StandInSize.Small;
        foreach (var arg in args.Skip(1))
        {
            if (arg == "--realistic")
            {
                size = StandInSize.Realistic;
                continue;
            }

            var match = all.Where(f => string.Equals(StandInModels.FolderName(f), arg, StringComparison.OrdinalIgnoreCase)
                || string.Equals(f.ToString(), arg, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (match.Length == 0)
            {
                Console.Error.WriteLine($"unknown format '{arg}'; expected one of: {string.Join(", ", all.Select(StandInModels.FolderName))}");
                return 2;
            }

            formats.Add(match[0]);
        }

        foreach (var format in formats.Count == 0 ? all : formats.Distinct())
        {
            var (encoder, decoder) = StandInModels.Write(Path.Combine(args[0], StandInModels.FolderName(format)), format, size: size);
            Console.WriteLine($"{StandInModels.FolderName(format)}: {encoder} {decoder}");
        }

        return 0;
    }
}
