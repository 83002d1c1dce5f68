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
/// <param name="BatchSize">Replaces every experiment's batch size (1 to 60,000).</param>
/// <param name="LearningRate">Replaces every experiment's learning rate (a positive number).</param>
public sealed record RunOptions(string? OutputFolder = null, int? Epochs = null, long? Seed = null, string? DataDirectory = null, bool Quick = false, int? Repeats = null, int? Lanes = null,
    int? BatchSize = null, double? LearningRate = null);

/// <summary>Runs experiment definitions: trains every model, measures it on the test set, and writes
/// the run folder (checkpoints, plots, results.json, report.md, report.html).</summary>
public static partial class ExperimentRunner
{
    /// <summary>Batch progress is reported every this many batches (and at each epoch's end).</summary>
    private const int BatchReportInterval = 25;

    /// <summary>The default output folder of a run of <paramref name="name"/> started at <paramref name="startedUtc"/>.</summary>
    public static string DefaultOutputFolder(string name, DateTime startedUtc) =>
        Path.Combine("runs", $"{name}-{startedUtc:yyyyMMdd'T'HHmmss'Z'}");

    /// <summary>Validates the definition, data and output folder, then trains and writes everything. The folder is
    /// the run's store from the start (<c>Core.JobStore</c>): <c>run.json</c> (status, settings, software),
    /// <c>definition.json</c> (every experiment as it runs), and each job's results the moment it finishes, each
    /// training's state after every epoch. A run stopped by cancellation, an error, or the process being killed
    /// keeps what it finished; <see cref="ResumeAsync"/> continues it. <paramref name="progress"/> gets the run's events (<see cref="RunEvent"/>) on one thread,
    /// the run's own (not the caller's, nor one that trains), one at a time and in the order they happened, so it
    /// need not be thread-safe; its <c>Report</c> is called directly (a <see cref="Progress{T}"/> passes them on to
    /// its synchronization context). Every event has been reported before the task completes. An exception thrown
    /// by <c>Report</c> stops the run, which fails with it.</summary>
    /// <returns>The results, and the folder written.</returns>
    /// <exception cref="Core.InvalidInputException">Bad input (definition, data, options, output folder); refused before
    /// training, nothing was written; or found during the run (an unwritable folder), which is then marked failed.</exception>
    /// <exception cref="RunInterruptedException">Cancelled once the run folder was made: it is marked interrupted and can be resumed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the run folder was made; nothing was written.</exception>
    public static async Task<(RunResult Result, string Folder)> RunAsync(
        string nameOrPath,
        RunOptions? options = null,
        IProgress<RunEvent>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new RunOptions();
        var settings = SettingsOf(options);
        var plan = ExperimentPlan.Load(nameOrPath);
        RunPlan.checkMemory(settings, plan.Core.ToFSharpList());
        var started = DateTime.UtcNow;
        var folder = Path.GetFullPath(options.OutputFolder ?? DefaultOutputFolder(plan.Name, started));
        // Everything that can be refused is checked before anything is written: the definition, the
        // output folder, the data (each data set the experiments name, loaded once).
        RunFolder.check(folder);
        var data = await LoadDataAsync(options.DataDirectory, plan);
        cancellationToken.ThrowIfCancellationRequested();
        using var claim = RunFolder.claim(folder, EstimatedBytes(plan, settings));
        var lanes = effectiveLanes(settings);
        var dataDirectory = options.DataDirectory is { } d ? Path.GetFullPath(d) : null;
        Writing(folder, () => RunRecord.write(folder, plan.Name, RunRecord.Status.Running, settings, dataDirectory.ToOption(), plan.Core.ToFSharpList(),
            lanes, threadsPerLane(lanes), started, FSharpOption<DateTime>.None));
        return await ExecuteAsync(claim.Folder, Store(claim.Folder), plan, settings, data, started, progress, cancellationToken);
    }

    /// <summary>Continues the run in <paramref name="folder"/> (stopped by Ctrl-C, an error, or killed): reads what it
    /// recorded (<c>run.json</c>, <c>definition.json</c>), skips the jobs it finished, continues each unfinished
    /// training from its last saved epoch, runs the rest, then writes results.json and the report. The numbers are
    /// those of a run that never stopped, bit for bit, when it runs with the threads per model it recorded.</summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="dataDirectory">Where the Fashion-MNIST files are, when not where the run found them.</param>
    /// <param name="progress">The run's events, as for <see cref="RunAsync"/>; finished jobs report their epochs again.</param>
    /// <param name="cancellationToken">Stops the run as for <see cref="RunAsync"/>: it can be resumed again.</param>
    /// <exception cref="Core.InvalidInputException">Not a run folder of this tool, a complete run, a folder in use, a record or
    /// job file that does not belong to the run (nothing is changed then).</exception>
    /// <exception cref="RunInterruptedException">Cancelled: the run is marked interrupted again.</exception>
    public static async Task<(RunResult Result, string Folder)> ResumeAsync(
        string folder,
        string? dataDirectory = null,
        IProgress<RunEvent>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (dataDirectory is { } dataFolder && string.IsNullOrWhiteSpace(dataFolder)) throw new Core.InvalidInputException("--data", "", "must not be empty");
        using var claim = RunFolder.claimExisting(folder);
        folder = claim.Folder;
        var record = RunRecord.read(folder);
        if (record.Status.IsComplete)
            throw new Core.InvalidInputException($"run folder {folder}", "", "is a complete run; there is nothing to resume");
        if (record.Shards is { } shards)
            throw new Core.InvalidInputException($"run folder {folder}", "",
                $"holds a run sharded over {shards.Value}: run a shard again to continue its jobs (run {record.Name} --shard I/{shards.Value} --out {folder}), then merge");
        var plan = ExperimentPlan.OfRun(Path.Combine(folder, RunRecord.DefinitionFile));
        var settings = record.Settings;
        var lanes = effectiveLanes(settings);
        if (threadsPerLane(lanes) != record.ThreadsPerLane)
            Console.Error.WriteLine($"warning: the run trained each model on {record.ThreadsPerLane} libtorch thread(s), this process gives {threadsPerLane(lanes)}: numbers of the models trained now may differ from an uninterrupted run in their last digits");
        var data = await LoadDataAsync(dataDirectory ?? record.DataDirectory?.Value, plan);
        cancellationToken.ThrowIfCancellationRequested();
        var store = Store(folder);
        Writing(folder, () => Core.OnEngine.checkStored(store, settings, data, plan.Core.ToFSharpList(), _ => true));
        Writing(folder, () => RunRecord.setResumed(folder, lanes, threadsPerLane(lanes)));
        return await ExecuteAsync(folder, store, plan, settings, data, record.StartedUtc, progress, cancellationToken);
    }

    /// <summary>Runs <paramref name="plan"/> into the run folder (claimed by the caller), whose <c>run.json</c> says running: trains and
    /// measures through the folder's job store, writes results.json and the report, and marks the run complete;
    /// or marks it interrupted (cancelled) or failed (anything else) and lets the exception through.</summary>
    private static async Task<(RunResult Result, string Folder)> ExecuteAsync(
        string folder, JobStore.JobStore store, ExperimentPlan plan, RunSettings settings,
        Microsoft.FSharp.Collections.FSharpMap<Core.DataSource, Core.Data.Dataset> data, DateTime started,
        IProgress<RunEvent>? progress, CancellationToken cancellationToken)
    {
        try
        {
            var run = await Writing(folder, () => Core.OnEngine.runAsync(Events(plan, settings, progress), cancellationToken, store, settings, data, plan.Core.ToFSharpList()));
            var result = RunResults.Of(plan.Name, started, settings.Quick, run.Experiments, run.Lanes, run.ThreadsPerLane);
            await Writing(folder, () => Report.WriteAsync(result, folder, cancellationToken));
            Writing(folder, () => RunRecord.setStatus(folder, RunRecord.Status.Complete, DateTime.UtcNow));
            return (result, folder);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            Mark(folder, RunRecord.Status.Interrupted);
            throw new RunInterruptedException(folder, e);
        }
        catch
        {
            Mark(folder, RunRecord.Status.Failed);
            throw;
        }
    }

    /// <summary>The core's settings of <paramref name="options"/>, each checked (a bad value is refused naming its option).</summary>
    private static RunSettings SettingsOf(RunOptions options)
    {
        var settings = RunSettingsModule.check(new RunSettings(options.Quick, options.Epochs.ToOption(), options.Seed.ToOption(), options.Repeats.ToOption(),
            options.BatchSize.ToOption(), options.LearningRate.ToOption(), options.Lanes.ToOption()));
        if (options.OutputFolder is { } output && string.IsNullOrWhiteSpace(output)) throw new Core.InvalidInputException("--out", "", "must not be empty");
        if (options.DataDirectory is { } dataFolder && string.IsNullOrWhiteSpace(dataFolder)) throw new Core.InvalidInputException("--data", "", "must not be empty");
        return settings;
    }

    /// <summary>The job store of the run in <paramref name="folder"/>: trained models' checkpoints at their places in the run's layout.</summary>
    private static JobStore.JobStore Store(string folder) =>
        JobStore.folder(folder, FuncConvert.FromFunc<JobId, string>(job => RunLayout.Checkpoint(job.Experiment, job.Model, job.Repeat)));

    /// <summary>Sets the run's status, if the folder can still be written (a full disk may refuse it: the status
    /// then stays "running", which a folder no process holds means stopped as well).</summary>
    private static void Mark(string folder, RunRecord.Status status)
    {
        try
        {
            RunRecord.setStatus(folder, status, FSharpOption<DateTime>.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Core.InvalidInputException)
        {
        }
    }

    /// <summary>The data sets of <paramref name="plan"/>'s experiments, Fashion-MNIST looked for first in <paramref name="directory"/>.</summary>
    private static Task<Microsoft.FSharp.Collections.FSharpMap<Core.DataSource, Core.Data.Dataset>> LoadDataAsync(string? directory, ExperimentPlan plan) =>
        Core.OnEngine.loadDataSetsAsync(directory.ToOption(), plan.Core.ToFSharpList());

    /// <summary>Bytes a run of <paramref name="plan"/> may write: every trained model's checkpoint, pictures and job
    /// files (about 1 MB), each experiment's charts and the report (plotly.js alone is 4.6 MB), and the training
    /// states of two models at once (four copies of the parameters each). A model whose architecture comes from
    /// another experiment counts as the plan's largest.</summary>
    private static long EstimatedBytes(ExperimentPlan plan, RunSettings settings)
    {
        const long PerModel = 1 << 20, PerExperiment = 2 << 20, Report = 16 << 20;
        // The plan has read each data set's image size already (from its training images' header); read again, it is 16 bytes.
        var images = plan.Core.Select(e => e.Data.Source).Distinct().ToDictionary(s => s, s => DataSourceModule.trainingShape(s) is var (_, h, w) ? (h, w) : (0, 0));
        long ParametersOf(Core.Experiments.ExperimentDefinition e, ModelSource source) => source is ModelSource.Widths w
            ? ArchitectureModule.parameterCount(ArchitectureModule.ofDesign(images[e.Data.Source].Item1, images[e.Data.Source].Item2, w.Item)) : 0;
        var largest = plan.Core.SelectMany(e => e.Models.Select(m => ParametersOf(e, m.Source))).DefaultIfEmpty(0).Max();
        return Report + 2 * 4 * 4 * largest + plan.Core.Sum(e => PerExperiment + effectiveRepeats(settings, e) * e.Models.Sum(m => m.Source switch
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
            throw new Core.InvalidInputException($"output folder {folder}", "", $"could not be written: {e.Message}", e);
        }
    }

    private static void Writing(string folder, Action write) => Writing(folder, () => { write(); return 0; });

    private static async Task<T> Writing<T>(string folder, Func<Task<T>> write)
    {
        try
        {
            return await write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Core.InvalidInputException($"output folder {folder}", "", $"could not be written: {e.Message}", e);
        }
    }

    private static async Task Writing(string folder, Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Core.InvalidInputException($"output folder {folder}", "", $"could not be written: {e.Message}", e);
        }
    }

    /// <summary>The core's events as the façade's, to <paramref name="progress"/>; the core calls this on one
    /// thread, one event at a time (<c>Core.OnEngine.runAsync</c>).</summary>
    private static FSharpFunc<Core.Outcomes.RunEvent, Unit> Events(ExperimentPlan plan, RunSettings settings, IProgress<RunEvent>? progress)
    {
        if (progress is null) return FuncConvert.FromAction<Core.Outcomes.RunEvent>(_ => { });
        // Models are counted over every repeat of every experiment, for "model 7 of 27".
        var sizes = plan.Core.Select(e => e.Models.Length * effectiveRepeats(settings, e)).ToArray();
        var modelCount = sizes.Sum();
        int IndexOf(string experiment, int repeat, string model)
        {
            var (definition, i) = plan.Core.Select((d, i) => (d, i)).First(p => p.d.Name == experiment);
            return sizes.Take(i).Sum() + repeat * definition.Models.Length + definition.Models.Select(m => m.Name).ToList().IndexOf(model);
        }
        int IndexOfJob(JobId job) => IndexOf(job.Experiment, job.Repeat, job.Model);
        int MaxEpochs(string experiment) => effectiveTraining(settings, plan.Core.First(e => e.Name == experiment)).MaxEpochs;
        RunEvent? Of(Core.Outcomes.RunEvent e) => e switch
        {
            Core.Outcomes.RunEvent.Started s =>
                new RunEvent.Started(s.Job.Experiment, s.Job.Model, s.Job.Repeat, IndexOfJob(s.Job), modelCount, s.MaxEpochs, s.Batches),
            Core.Outcomes.RunEvent.Batch b when b.Done % BatchReportInterval == 0 || b.Done == b.Batches =>
                new RunEvent.BatchDone(b.Job.Experiment, b.Job.Model, b.Job.Repeat, IndexOfJob(b.Job), modelCount, b.Epoch, MaxEpochs(b.Job.Experiment), b.Done, b.Batches),
            Core.Outcomes.RunEvent.Batch => null,
            Core.Outcomes.RunEvent.Epoch p =>
                new RunEvent.EpochDone(p.Job.Experiment, p.Job.Model, p.Job.Repeat, IndexOfJob(p.Job), modelCount, p.Record.ToResult(), MaxEpochs(p.Job.Experiment)),
            Core.Outcomes.RunEvent.Diverged d =>
                new RunEvent.Diverged(d.Job.Experiment, d.Job.Model, d.Job.Repeat, IndexOfJob(d.Job), modelCount, d.Training.History.Last().ToResult()),
            Core.Outcomes.RunEvent.Measured m =>
                new RunEvent.Measured(m.Job.Experiment, m.Job.Model, m.Job.Repeat, IndexOfJob(m.Job), modelCount,
                    m.Job.Kind.IsLikelihood ? MeasurementKind.Likelihood : MeasurementKind.TestSet),
            Core.Outcomes.RunEvent.Finished { Experiment: var experiment, Outcome: var o } =>
                new RunEvent.Finished(experiment, o.Spec.Name, o.Repeat, IndexOf(experiment, o.Repeat, o.Spec.Name), modelCount,
                    o.Training.Best.ToResult(), o.Training.History.Length, o.ReusedFrom is { } source ? $"{source.Value.Item1}/{source.Value.Item2}" : null),
            _ => throw new ArgumentOutOfRangeException(nameof(e), e, "an event the façade does not know"),
        };
        return FuncConvert.FromAction<Core.Outcomes.RunEvent>(e =>
        {
            if (Of(e) is { } reported) progress.Report(reported);
        });
    }
}

/// <summary>A run stopped by its cancellation token once its folder was made: the folder holds what the run
/// finished and is marked interrupted; <see cref="ExperimentRunner.ResumeAsync"/> continues it.</summary>
public sealed class RunInterruptedException(string folder, OperationCanceledException cancelled, bool shard = false)
    : OperationCanceledException(shard ? $"a shard of the run in {folder} was interrupted; run it again to continue"
        : $"the run in {folder} was interrupted; resume it to continue", cancelled, cancelled.CancellationToken)
{
    /// <summary>The run folder.</summary>
    public string Folder { get; } = folder;

    /// <summary>A shard was interrupted (<see cref="ExperimentRunner.RunShardAsync"/>): running the same shard again continues it.</summary>
    public bool Shard { get; } = shard;
}
