using System.CommandLine;

namespace Sam2Interactive.Api.Cli;

/// <summary>The command-line verbs. Anything else on the command line goes to the server (e.g. <c>--urls</c>).</summary>
internal static class CommandLine
{
    public static bool IsCommand(string arg) => arg is "segment" or "models" or "annotate" or "doctor" or "prefetch" or "--help" or "-h" or "-?" or "--version";

    public static Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Sam2Interactive: SAM2 interactive segmentation for Label Studio. Without a command, runs the server.")
        {
            SegmentCommand.Create(),
            ModelsCommand.Create(),
            AnnotateCommand.Create(),
            DoctorCommand.Create(),
            PrefetchCommand.Create(),
        };
        return root.Parse(args).InvokeAsync();
    }
}
