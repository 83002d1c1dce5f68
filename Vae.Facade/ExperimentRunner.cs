using Microsoft.FSharp.Core;
using Vae.Core;
using Vae.Reporting;
using static Vae.Core.Experiments;
using static Vae.Core.RunPlan;
using static Vae.Core.Outcomes;
using static Vae.Core.Execution;

namespace Vae.Facade;

/// <summary>Settings of a run.</summary>
/// <param name="OutputFolder">Where to write; default runs/&lt;name&gt;-&lt;UTC timestamp&gt; under the working folder. Must not exist yet, or be empty.</param>
/// <param name="Epochs">Replaces every experiment's maximum epochs.</param>
/// <param name="Seed">Replaces every experiment's training seed.</param>
/// <param name="DataDirectory">Where the Fashion-MNIST files are (default: searched as <see cref="FashionMnistData.Load"/> does); experiments whose definitions name a data folder of their own read that.</param>
/// <param name="Quick">Train on 2,048 images (512 for validation) for at most two epochs, and measure on small subsets: a smoke test.</param>
/// <param name="Repeats">Replaces every experiment's number of repeats.</param>
/// <param name="Lanes">Models trained at once, each on its share of libtorch's threads (default: 2 when there are at least 2 threads, else 1). A model's numbers depend on its seed and on the threads it got, so runs with the same lanes and threads reproduce each other.</param>
public sealed record RunOptions(string? OutputFolder = null, int? Epochs = null, long? Seed = null, string? DataDirectory = null, bool Quick = false, int? Repeats = null, int? Lanes = null);

/// <summary>Where a run is.</summary>
/// <param name="Experiment">The experiment running.</param>
/// <param name="Model">The model training.</param>
/// <param name="Repeat">0-based repeat (each repeat trains with its own seed).</param>
/// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
/// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
/// <param name="Epoch">The epoch under way (1-based).</param>
/// <param name="MaxEpochs">Epochs at most.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="LastEpoch">The last finished epoch of this model, if any.</param>
/// <param name="Finished">True once the model is trained and measured, or has diverged.</param>
/// <param name="Diverged">True when its training stopped at a NaN or infinite loss: it is not measured and never best.</param>
public sealed record RunProgress(
    string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount,
    int Epoch, int MaxEpochs, int Batch, int Batches, EpochReport? LastEpoch, bool Finished, bool Diverged = false);

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
    /// place when complete. <paramref name="progress"/> is called synchronously, one report at a time and in
    /// order: each call returns before the next starts, so it need not be thread-safe, though the calls come
    /// from the threads that train (several models at once, see <see cref="RunOptions.Lanes"/>) and it should
    /// return quickly.</summary>
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
        var validated = RunSettingsModule.validate(new RunSettings(options.Quick, options.Epochs.ToOption(), options.Seed.ToOption(), options.Repeats.ToOption(), options.Lanes.ToOption()));
        if (validated.IsError) throw new InvalidInputException(validated.ErrorValue);
        var settings = validated.ResultValue;
        if (options.OutputFolder is { } output && string.IsNullOrWhiteSpace(output)) throw new InvalidInputException("--out: must not be empty");
        if (options.DataDirectory is { } dataFolder && string.IsNullOrWhiteSpace(dataFolder)) throw new InvalidInputException("--data: must not be empty");
        var plan = ExperimentPlan.Load(nameOrPath);
        var started = DateTime.UtcNow;
        var folder = Path.GetFullPath(options.OutputFolder ?? DefaultOutputFolder(plan.Name, started));
        // Everything that can be refused is checked before anything is written: the definition, the
        // output folder, the data (each data set the experiments name, loaded once).
        InvalidInputException.Guard(() => { RunFolder.check(folder); return 0; });
        var data = await LoadDataAsync(options.DataDirectory, plan);
        cancellationToken.ThrowIfCancellationRequested();
        using var claim = InvalidInputException.Guard(() => RunFolder.claim(folder, EstimatedBytes(plan, settings)));
        try
        {
            var run = await Core.OnEngine.runAsync(Hooks(plan, settings, progress, cancellationToken), settings, data, plan.Core.ToFSharpList());
            Writing(folder, () => SaveCheckpoints(run.Experiments, claim.Staging));
            var result = RunResults.Of(plan.Name, started, options.Quick, run.Experiments, run.Lanes, run.ThreadsPerLane);
            await Writing(folder, () => Report.WriteAsync(result, claim.Staging, cancellationToken));
            InvalidInputException.Guard(() => { RunFolder.publish(claim); return 0; });
            return (result, folder);
        }
        catch (DefinitionException e)
        {
            // A reference that cannot be resolved once its experiment has trained (every VAE it could take diverged).
            throw new InvalidInputException(e.Message, e);
        }
    }

    /// <summary>The data sets of <paramref name="plan"/>'s experiments, Fashion-MNIST looked for first in <paramref name="directory"/>.</summary>
    private static async Task<Microsoft.FSharp.Collections.FSharpMap<Core.DataSource, Core.Data.Dataset>> LoadDataAsync(string? directory, ExperimentPlan plan)
    {
        try
        {
            return await Core.OnEngine.loadDataSetsAsync(directory.ToOption(), plan.Core.ToFSharpList());
        }
        catch (Exception e) when (InvalidInputException.IsInputError(e))
        {
            throw new InvalidInputException(e.Message, e);
        }
    }

    /// <summary>Bytes a run of <paramref name="plan"/> may write: every trained model's checkpoint and pictures
    /// (about 1 MB), each experiment's charts and the report (plotly.js alone is 4.6 MB). A model whose
    /// architecture comes from another experiment counts as the plan's largest.</summary>
    private static long EstimatedBytes(ExperimentPlan plan, RunSettings settings)
    {
        const long PerModel = 1 << 20, PerExperiment = 2 << 20, Report = 16 << 20;
        // The plan has read each data set's image size already (from its training images' header); read again, it is 16 bytes.
        var pixels = plan.Core.Select(e => e.Data.Source).Distinct().ToDictionary(s => s, s => DataSourceModule.trainingShape(s) is var (_, h, w) ? h * w : 0);
        long ParametersOf(Core.Experiments.ExperimentDefinition e, ModelSource source) => source is ModelSource.Widths w
            ? ArchitectureModule.parameterCount(ArchitectureModule.createFor(pixels[e.Data.Source], w.kind, w.hidden, w.latent)) : 0;
        var largest = plan.Core.SelectMany(e => e.Models.Select(m => ParametersOf(e, m.Source))).DefaultIfEmpty(0).Max();
        return Report + plan.Core.Sum(e => PerExperiment + effectiveRepeats(settings, e) * e.Models.Sum(m => m.Source switch
        {
            ModelSource.BestOf => 0,
            ModelSource.Widths => PerModel + 4 * ParametersOf(e, m.Source),
            _ => PerModel + 4 * largest,
        }));
    }

    /// <summary>Runs <paramref name="write"/>, which writes into the run folder, turning a failed write (a full
    /// disk, a folder made read-only, a quota) into one line naming the output folder.</summary>
    private static T Writing<T>(string folder, Func<T> write)
    {
        try
        {
            return write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"output folder {folder} could not be written: {e.Message}", e);
        }
    }

    private static void Writing(string folder, Action write) => Writing(folder, () => { write(); return 0; });

    private static async Task Writing(string folder, Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"output folder {folder} could not be written: {e.Message}", e);
        }
    }

    private static RunHooks Hooks(ExperimentPlan plan, RunSettings settings, IProgress<RunProgress>? progress, CancellationToken cancellationToken)
    {
        // Models are counted over every repeat of every experiment, for "model 7 of 27".
        var sizes = plan.Core.Select(e => e.Models.Length * effectiveRepeats(settings, e)).ToArray();
        var modelCount = sizes.Sum();
        int Index(string experiment, int repeat, int model)
        {
            var e = plan.Core.Select((d, i) => (d, i)).First(p => p.d.Name == experiment);
            return sizes.Take(e.i).Sum() + repeat * e.d.Models.Length + model;
        }
        int IndexOf(string experiment, int repeat, string model) =>
            Index(experiment, repeat, plan.Core.First(e => e.Name == experiment).Models.Select(m => m.Name).ToList().IndexOf(model));
        // The core calls these one at a time (Core.OnEngine.runAsync).
        var lastEpoch = new Dictionary<(string, string, int), EpochReport>();
        return new RunHooks(
            FuncConvert.FromAction<string, string, int, int, int>((_, _, _, _, _) => { }),
            FuncConvert.FromFunc<string, string, int, Training.TrainingHooks>((experiment, model, repeat) =>
            {
                var maxEpochs = effectiveTraining(settings, plan.Core.First(e => e.Name == experiment)).MaxEpochs;
                var index = IndexOf(experiment, repeat, model);
                RunProgress At(int epoch, int batch, int batches) => new(
                    experiment, model, repeat, index, modelCount, epoch, maxEpochs, batch, batches, lastEpoch.GetValueOrDefault((experiment, model, repeat)), false);
                return new Training.TrainingHooks(
                    FuncConvert.FromAction<Training.EpochRecord>(e =>
                    {
                        lastEpoch[(experiment, model, repeat)] = e.ToResult();
                        progress?.Report(At(e.Epoch, 0, 0));
                    }),
                    FuncConvert.FromAction<int, int, int>((epoch, batch, batches) =>
                    {
                        if (batch % BatchReportInterval == 0 || batch == batches) progress?.Report(At(epoch, batch, batches));
                    }),
                    cancellationToken);
            }),
            FuncConvert.FromAction<string, ModelOutcome>((experiment, outcome) =>
                progress?.Report(new RunProgress(experiment, outcome.Spec.Name, outcome.Repeat, IndexOf(experiment, outcome.Repeat, outcome.Spec.Name), modelCount,
                    outcome.Training.History.Length, outcome.Training.History.Length, 0, 0, outcome.Training.Best.ToResult(), true))),
            FuncConvert.FromAction<string, Core.Experiments.ModelSpec, int, Training.TrainingResult>((experiment, spec, repeat, training) =>
                progress?.Report(new RunProgress(experiment, spec.Name, repeat, IndexOf(experiment, repeat, spec.Name), modelCount,
                    training.History.Length, training.History.Length, 0, 0, training.History.Last().ToResult(), true, Diverged: true))),
            cancellationToken);
    }

    private static void SaveCheckpoints(IEnumerable<ExperimentOutcome> outcomes, string staging)
    {
        foreach (var o in outcomes)
        foreach (var m in o.Models.Where(m => m.ReusedFrom is null))
        {
            var path = Path.Combine(staging, RunLayout.Checkpoint(o.Definition.Name, m.Spec.Name));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Core.OnEngine.save(path, m.Training.Model);
        }
    }
}
