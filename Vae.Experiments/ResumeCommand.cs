using System.CommandLine;
using System.Diagnostics;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>resume &lt;folder&gt;</c>: continues a run stopped by Ctrl-C, an error or <c>kill -9</c>.</summary>
internal static class ResumeCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "The run folder (the --out of the run, or runs/<name>-<UTC timestamp>)." };
        var data = new Option<string?>("--data") { Description = "Folder holding the four Fashion-MNIST files, when not where the run found them." };
        var command = new Command("resume", "Continue a stopped run: skip the jobs it finished, continue unfinished trainings from their last epoch, then write results.json and the report.")
        {
            folder, data,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var clock = Stopwatch.StartNew();
            var (result, written) = await ProgressDisplay.RunAsync(
                progress => ExperimentRunner.ResumeAsync(parsed.GetValue(folder)!, parsed.GetValue(data), progress, cancellationToken));
            Summary.Print(result, written, clock.Elapsed);
            return Summary.AllDiverged(result) ? ExitCodes.AllDiverged : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The command that resumes the run in <paramref name="folder"/>, as this process was started: the
    /// program (and, under the <c>dotnet</c> host, its assembly), then <c>resume</c> and the folder, quoted for a
    /// POSIX shell where needed.</summary>
    public static string For(string folder) => Shell.Command(["resume", folder]);
}
