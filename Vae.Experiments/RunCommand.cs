using System.CommandLine;
using System.Diagnostics;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>run &lt;name-or-path&gt;</c>: trains every model of a definition and writes the run folder; or, as a shard
/// (<c>--shard I/N</c>, a Slurm array task, a Kubernetes Indexed Job's pod), its share of the jobs into a shared folder.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var definition = new Argument<string>("name-or-path") { Description = "A shipped definition (see `list`), e.g. task1 or seed-study, or a path to a JSON definition." };
        var output = new Option<string?>("--out") { Description = "Output folder (default: runs/<name>-<UTC timestamp>). Must not exist yet, or be empty; for a shard, the folder every shard writes (required)." };
        var epochs = new Option<int?>("--epochs") { Description = "Replace every experiment's maximum number of epochs." };
        var seed = new Option<long?>("--seed") { Description = "Replace every experiment's training seed." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Replace every experiment's batch size (1 to 60,000 images per step)." };
        var learningRate = new Option<double?>("--lr") { Description = "Replace every experiment's learning rate (Adam's; a positive number, e.g. 0.001)." };
        var data = new Option<string?>("--data") { Description = "Folder holding the four Fashion-MNIST files (default: $FASHION_MNIST_DIR, the repository's data/fashion-mnist, /usr/share/datasets/fashion-mnist); a definition whose data name a folder of their own reads that." };
        var quick = new Option<bool>("--quick") { Description = "Smoke test: train on 2,048 images for at most two epochs, measure on small subsets." };
        var repeats = new Option<int?>("--repeats") { Description = "Replace every experiment's number of repeats (each repeat trains with its own seed)." };
        var lanes = new Option<int?>("--lanes") { Description = "Models trained at once, each on its share of libtorch's threads (default: 2 when there are at least 2 threads, else 1). A shard gives each model one thread (default: $SLURM_CPUS_PER_TASK, else one lane per libtorch thread)." };
        var shard = new Option<string?>("--shard") { Description = "Run only shard I of N (I counts from 1, e.g. 2/3) into the shared --out folder. Default: a Slurm array task's ($SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT, counted from $SLURM_ARRAY_TASK_MIN), else $JOB_COMPLETION_INDEX (from 0) of --shards; otherwise the whole run." };
        var shards = new Option<int?>("--shards") { Description = "The number of shards (with $JOB_COMPLETION_INDEX; with --shard or a Slurm array it must agree)." };
        var stage = new Option<int?>("--stage") { Description = "A shard runs only the jobs of this stage (from 1; a later stage trains what needs an earlier one's results). Default: every stage, waiting for other shards' trainings when needed." };
        var waitTimeout = new Option<double?>("--wait-timeout") { Description = "Minutes a shard's job waits for another shard's training it needs (default: 1440)." };
        var noMerge = new Option<bool>("--no-merge") { Description = "A shard that finds every job finished does not merge the run (a separate `merge` step will)." };
        var command = new Command("run", "Train every model of an experiment definition; write checkpoints, plots, results.json, report.md and report.html. The folder keeps every finished job: a stopped run continues with `resume`. With --shard (or in a Slurm array task), run one shard's jobs into a shared folder; the last shard to finish merges.")
        {
            definition, output, epochs, seed, batchSize, learningRate, data, quick, repeats, lanes, shard, shards, stage, waitTimeout, noMerge,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var options = new RunOptions(parsed.GetValue(output), parsed.GetValue(epochs), parsed.GetValue(seed), parsed.GetValue(data), parsed.GetValue(quick), parsed.GetValue(repeats), parsed.GetValue(lanes),
                parsed.GetValue(batchSize), parsed.GetValue(learningRate));
            var clock = Stopwatch.StartNew();
            var found = ExperimentRunner.ResolveShard(parsed.GetValue(shard), parsed.GetValue(shards), Environment.GetEnvironmentVariable);
            if (found is var (index, count, source))
            {
                var timeout = parsed.GetValue(waitTimeout) is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
                if (options.Lanes is null && Environment.GetEnvironmentVariable("SLURM_CPUS_PER_TASK") is { } cpus && int.TryParse(cpus, out var n) && n >= 1)
                    options = options with { Lanes = n };
                var which = $"{index + 1}/{count}";
                var shardOptions = new ShardOptions(index, count, parsed.GetValue(stage), timeout, !parsed.GetValue(noMerge),
                    other => Console.WriteLine($"waiting for {other} to finish in another process"));
                Console.WriteLine($"shard {which} (from {source}){(shardOptions.Stage is { } s ? $", stage {s}" : "")}");
                var outcome = await ProgressDisplay.RunAsync(
                    progress => ExperimentRunner.RunShardAsync(parsed.GetValue(definition)!, shardOptions, options, progress, cancellationToken));
                if (outcome.Merged is { } merged)
                {
                    Summary.Print(merged, outcome.Folder, clock.Elapsed);
                    return Summary.AllDiverged(merged) ? ExitCodes.AllDiverged : ExitCodes.Success;
                }
                var merging = shardOptions.Merge ? "the last shard to finish merges the run, or, once all have: merge" : "once all have: merge";
                var others = outcome.Missing.Count == 0
                    ? (shardOptions.Merge ? "every job of the run is finished and another process is merging it; or: merge" : "every job of the run is finished: merge")
                    : $"{outcome.Missing.Count} job(s) of other shards or stages are not finished; {merging}";
                Console.WriteLine($"shard {which}: {outcome.Trainings} training(s) finished in {clock.Elapsed.TotalMinutes:F1} min in {outcome.Folder}; {others} {Shell.Quote(outcome.Folder)}");
                return ExitCodes.Success;
            }
            foreach (var (given, name) in new[] { (parsed.GetValue(stage) is not null, "--stage"), (parsed.GetValue(waitTimeout) is not null, "--wait-timeout"), (parsed.GetValue(noMerge), "--no-merge") })
                if (given) throw new Core.InvalidInputException(name, "", "applies to a shard: give --shard I/N (or run in a Slurm array task)");
            var (result, folder) = await ProgressDisplay.RunAsync(
                progress => ExperimentRunner.RunAsync(parsed.GetValue(definition)!, options, progress, cancellationToken));
            Summary.Print(result, folder, clock.Elapsed);
            return Summary.AllDiverged(result) ? ExitCodes.AllDiverged : ExitCodes.Success;
        });
        return command;
    }
}
