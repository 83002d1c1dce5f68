using Microsoft.FSharp.Core;
using TorchSharp;
using Vae.Core;
using Vae.Facade.Reporting;
using static Vae.Core.Experiments;

namespace Vae.Facade;

/// <summary>Settings of a run.</summary>
/// <param name="OutputFolder">Where to write; default runs/&lt;name&gt;-&lt;UTC timestamp&gt; under the working folder. Must not exist yet, or be empty.</param>
/// <param name="Epochs">Replaces every experiment's maximum epochs.</param>
/// <param name="Seed">Replaces every experiment's training seed.</param>
/// <param name="DataDirectory">Where the Fashion-MNIST files are (default: searched as <see cref="FashionMnistData.Load"/> does).</param>
/// <param name="Quick">Train on 2,048 images (512 for validation) for at most two epochs: a smoke test.</param>
public sealed record RunOptions(string? OutputFolder = null, int? Epochs = null, long? Seed = null, string? DataDirectory = null, bool Quick = false);

/// <summary>Where a run is.</summary>
/// <param name="Experiment">The experiment running.</param>
/// <param name="Model">The model training.</param>
/// <param name="ModelIndex">0-based index of the model within the run.</param>
/// <param name="ModelCount">Models in the whole run.</param>
/// <param name="Epoch">The epoch under way (1-based).</param>
/// <param name="MaxEpochs">Epochs at most.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="LastEpoch">The last finished epoch of this model, if any.</param>
/// <param name="Finished">True once the model is trained and measured.</param>
public sealed record RunProgress(
    string Experiment, string Model, int ModelIndex, int ModelCount,
    int Epoch, int MaxEpochs, int Batch, int Batches, EpochReport? LastEpoch, bool Finished);

/// <summary>Runs experiment definitions: trains every model, measures it on the test set, and writes
/// the run folder (checkpoints, plots, results.json, report.md, report.html).</summary>
public static class ExperimentRunner
{
    /// <summary>Batch progress is reported every this many batches (and at each epoch's end).</summary>
    private const int BatchReportInterval = 25;

    /// <summary>The default output folder of a run of <paramref name="name"/> started at <paramref name="startedUtc"/>.</summary>
    public static string DefaultOutputFolder(string name, DateTime startedUtc) =>
        Path.Combine("runs", $"{name}-{startedUtc:yyyyMMdd'T'HHmmss'Z'}");

    /// <summary>Validates the definition, data and output folder, then trains and writes everything.
    /// Nothing is left behind on failure or cancellation: the run is written aside and moved into
    /// place when complete.</summary>
    /// <returns>The results, and the folder written.</returns>
    /// <exception cref="InvalidInputException">Bad input (definition, data, options, output folder); nothing was written.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing was left behind.</exception>
    public static async Task<(RunResult Result, string Folder)> RunAsync(
        string nameOrPath,
        RunOptions? options = null,
        IProgress<RunProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new RunOptions();
        if (options.Epochs is < 1) throw new InvalidInputException($"--epochs: must be at least 1, was {options.Epochs}");
        if (options.Seed is < 0) throw new InvalidInputException($"--seed: must be at least 0, was {options.Seed}");
        var plan = ExperimentPlan.Load(nameOrPath);
        var started = DateTime.UtcNow;
        var folder = Path.GetFullPath(options.OutputFolder ?? DefaultOutputFolder(plan.Name, started));
        var staging = Stage(folder);
        try
        {
            var data = FashionMnistData.Load(options.DataDirectory);
            var settings = new RunSettings(options.Quick, options.Epochs.ToOption(), options.Seed.ToOption());
            var outcomes = await Task.Run(() => Run(plan, settings, data, progress, cancellationToken), cancellationToken);
            var result = new RunResult(plan.Name, started, options.Quick, outcomes.Select(ToResult).ToArray());
            SaveCheckpoints(outcomes, staging);
            await Report.WriteAsync(result, staging, cancellationToken);
            if (Directory.Exists(folder)) Directory.Delete(folder);
            Directory.Move(staging, folder);
            return (result, folder);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>Checks that <paramref name="folder"/> can be written and creates the staging folder beside it.</summary>
    private static string Stage(string folder)
    {
        if (File.Exists(folder) || (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any()))
            throw new InvalidInputException($"output folder {folder} already exists and is not empty");
        var staging = Path.Combine(Path.GetDirectoryName(folder)!, $".{Path.GetFileName(folder)}.incomplete-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(staging);
            File.WriteAllText(Path.Combine(staging, ".probe"), "");
            File.Delete(Path.Combine(staging, ".probe"));
            return staging;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"output folder {folder} cannot be written: {e.Message}", e);
        }
    }

    private static IReadOnlyList<ExperimentOutcome> Run(ExperimentPlan plan, RunSettings settings, FashionMnistData data, IProgress<RunProgress>? progress, CancellationToken cancellationToken)
    {
        var modelCount = plan.Core.Sum(e => e.Models.Length);
        var offsets = plan.Core.Select((e, i) => plan.Core.Take(i).Sum(p => p.Models.Length)).ToArray();
        var current = new Dictionary<string, int>();
        var lastEpoch = new Dictionary<(string, string), EpochReport>();
        var hooks = new RunHooks(
            FuncConvert.FromAction<string, string, int, int>((experiment, model, index, _) => current[experiment] = index),
            FuncConvert.FromFunc<string, string, Training.TrainingHooks>((experiment, model) =>
            {
                var definition = plan.Core.First(e => e.Name == experiment);
                var maxEpochs = effectiveTraining(settings, definition).MaxEpochs;
                RunProgress At(int epoch, int batch, int batches) => new(
                    experiment, model, offsets[IndexOf(plan, experiment)] + current[experiment], modelCount,
                    epoch, maxEpochs, batch, batches, lastEpoch.GetValueOrDefault((experiment, model)), false);
                return new Training.TrainingHooks(
                    FuncConvert.FromAction<Training.EpochRecord>(e =>
                    {
                        lastEpoch[(experiment, model)] = e.ToFacade();
                        progress?.Report(At(e.Epoch, 0, 0) with { LastEpoch = e.ToFacade() });
                    }),
                    FuncConvert.FromAction<int, int, int>((epoch, batch, batches) =>
                    {
                        if (batch % BatchReportInterval == 0 || batch == batches) progress?.Report(At(epoch, batch, batches));
                    }),
                    cancellationToken);
            }),
            FuncConvert.FromAction<string, ModelOutcome>((experiment, outcome) =>
                progress?.Report(new RunProgress(experiment, outcome.Spec.Name, offsets[IndexOf(plan, experiment)] + current[experiment], modelCount,
                    outcome.Training.History.Length, outcome.Training.History.Length, 0, 0, outcome.Training.Best.ToFacade(), true))));
        return run(hooks, settings, data.Dataset, plan.Core.ToFSharpList()).ToArray();
    }

    private static int IndexOf(ExperimentPlan plan, string experiment) =>
        plan.Core.Select((e, i) => (e, i)).First(p => p.e.Name == experiment).i;

    private static ExperimentResult ToResult(ExperimentOutcome o)
    {
        var name = o.Definition.Name;
        var originals = o.Originals.ToRows();
        var labels = o.TestLabels.data<long>().ToArray().Select(l => (int)l).ToArray();
        var models = o.Models.Select(m =>
        {
            var reused = m.ReusedFrom?.Value;
            var checkpoint = reused is null ? RunLayout.Checkpoint(name, m.Spec.Name) : RunLayout.Checkpoint(reused.Item1, reused.Item2);
            return new ModelResult(
                m.Spec.Name,
                m.Architecture.Kind.ToFacade(),
                m.Architecture.Hidden.ToArray(),
                m.Architecture.Latent,
                ArchitectureModule.parameterCount(m.Architecture),
                m.Training.BestEpoch,
                m.Training.History.Select(e => e.ToFacade()).ToArray(),
                m.Test.ToFacade(),
                m.TrainingSeconds,
                m.GenerationDistance,
                reused?.Item1,
                checkpoint,
                RunLayout.ModelImages(name, m.Spec.Name))
            {
                Samples = new ModelSamples(m.Generated.ToRows(), originals, m.Reconstructions.ToRows(), m.Latent2d.Column(0), m.Latent2d.Column(1), labels),
            };
        }).ToArray();
        return new ExperimentResult(name, o.Definition.Description, o.StartedUtc, o.Training.Seed, models, o.Best.Spec.Name, RunLayout.ExperimentImages(name));
    }

    private static void SaveCheckpoints(IReadOnlyList<ExperimentOutcome> outcomes, string staging)
    {
        foreach (var o in outcomes)
        foreach (var m in o.Models.Where(m => m.ReusedFrom is null))
        {
            var path = Path.Combine(staging, RunLayout.Checkpoint(o.Definition.Name, m.Spec.Name));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Checkpoint.save(path, m.Training.Model);
        }
    }
}
