using System.CommandLine;
using System.Diagnostics;
using Vae.Facade;
using Vae.Reporting;

namespace Vae.Experiments;

/// <summary><c>run &lt;name-or-path&gt;</c>: trains every model of a definition and writes the run folder.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var definition = new Argument<string>("name-or-path") { Description = "A shipped definition (see `list`), e.g. task1 or seed-study, or a path to a JSON definition." };
        var output = new Option<string?>("--out") { Description = "Output folder (default: runs/<name>-<UTC timestamp>). Must not exist yet, or be empty." };
        var epochs = new Option<int?>("--epochs") { Description = "Replace every experiment's maximum number of epochs." };
        var seed = new Option<long?>("--seed") { Description = "Replace every experiment's training seed." };
        var data = new Option<string?>("--data") { Description = "Folder holding the four Fashion-MNIST files (default: $FASHION_MNIST_DIR, the repository's data/fashion-mnist, /usr/share/datasets/fashion-mnist); a definition whose data name a folder of their own reads that." };
        var quick = new Option<bool>("--quick") { Description = "Smoke test: train on 2,048 images for at most two epochs, measure on small subsets." };
        var repeats = new Option<int?>("--repeats") { Description = "Replace every experiment's number of repeats (each repeat trains with its own seed)." };
        var lanes = new Option<int?>("--lanes") { Description = "Models trained at once, each on its share of libtorch's threads (default: 2 when there are at least 2 threads, else 1)." };
        var command = new Command("run", "Train every model of an experiment definition; write checkpoints, plots, results.json, report.md and report.html. The folder keeps every finished job: a stopped run continues with `resume`.")
        {
            definition, output, epochs, seed, data, quick, repeats, lanes,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var options = new RunOptions(parsed.GetValue(output), parsed.GetValue(epochs), parsed.GetValue(seed), parsed.GetValue(data), parsed.GetValue(quick), parsed.GetValue(repeats), parsed.GetValue(lanes));
            var clock = Stopwatch.StartNew();
            var (result, folder) = await ProgressDisplay.RunAsync(
                progress => ExperimentRunner.RunAsync(parsed.GetValue(definition)!, options, progress, cancellationToken));
            Summary.Print(result, folder, clock.Elapsed);
            return Summary.AllDiverged(result) ? ExitCodes.AllDiverged : ExitCodes.Success;
        });
        return command;
    }
}
