using System.CommandLine;
using System.Diagnostics;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>merge &lt;folder&gt;</c>: writes results.json and the report of a sharded run once every shard has finished.</summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "The run folder the shards wrote (their --out)." };
        var data = new Option<string?>("--data") { Description = "Folder holding the four Fashion-MNIST files, when not where the run found them." };
        var command = new Command("merge", "Check that every job of a sharded run has finished (naming those that have not, and their shards), then write results.json and the report as a run on one machine does.")
        {
            folder, data,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var clock = Stopwatch.StartNew();
            var (result, written) = await ProgressDisplay.RunAsync(
                progress => ExperimentRunner.MergeAsync(parsed.GetValue(folder)!, parsed.GetValue(data), progress, cancellationToken));
            Summary.Print(result, written, clock.Elapsed);
            return Summary.AllDiverged(result) ? ExitCodes.AllDiverged : ExitCodes.Success;
        });
        return command;
    }
}
