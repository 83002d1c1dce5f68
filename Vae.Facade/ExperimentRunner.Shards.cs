using System.Diagnostics;
using Microsoft.FSharp.Core;
using Vae.Core;
using Vae.Reporting;
using static Vae.Core.RunPlan;
using static Vae.Core.Execution;

namespace Vae.Facade;

/// <summary>Which shard of a sharded run a process runs (<see cref="ExperimentRunner.RunShardAsync"/>).</summary>
/// <param name="Index">The shard, counted from 0 (the command line's <c>--shard I/N</c> counts from 1).</param>
/// <param name="Count">The number of shards; every shard of a run must be given the same.</param>
/// <param name="Stage">Only the jobs of this stage (counted from 1); null: every stage, waiting for other shards' trainings when a later stage needs them.</param>
/// <param name="WaitTimeout">How long a job waits for another shard's training it needs (default <see cref="ExperimentRunner.DefaultWaitTimeout"/>).</param>
/// <param name="Merge">Merge the run when this shard finds every job of the run finished (the last shard to finish does).</param>
/// <param name="Waiting">Called, on a thread that trains, when a job starts waiting for another shard's training (its job id and shard, e.g. "task1/baseline/r1/train (shard 1/3)").</param>
public sealed record ShardOptions(int Index, int Count, int? Stage = null, TimeSpan? WaitTimeout = null, bool Merge = true, Action<string>? Waiting = null);

/// <summary>What a shard did.</summary>
/// <param name="Folder">The run folder.</param>
/// <param name="Trainings">Trainings (models in a repeat, each with its measurement) this shard had to do (those already finished included).</param>
/// <param name="Missing">Jobs of the run still without results once this shard finished (other shards'), e.g. "task2/a/r1/train".</param>
/// <param name="Merged">The run's results when this shard merged it (it found every job finished); otherwise null.</param>
public sealed record ShardResult(string Folder, int Trainings, IReadOnlyList<string> Missing, RunResult? Merged);

/// <summary>One job of a sharded run: its id (e.g. "task1/baseline/r1/train"), its shard and its stage, both counted from 0.</summary>
public sealed record ShardedJob(string Job, int Shard, int Stage);

public static partial class ExperimentRunner
{
    /// <summary>How long a shard's job waits for another shard's training by default.</summary>
    public static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromHours(24);

    /// <summary>How often a waiting job looks for the training it waits for.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    /// <summary>Every job of a run of <paramref name="plan"/> over <paramref name="shards"/> shards, in plan order, with its shard and
    /// stage: trainings are spread so that each stage's expected cost is balanced; a model's measurement and IWAE estimate go with
    /// its training. The same definition, options and count give the same assignment.</summary>
    public static IReadOnlyList<ShardedJob> ShardPlan(ExperimentPlan plan, int shards, RunOptions? options = null)
    {
        var settings = SettingsOf(options ?? new RunOptions());
        CheckShards(shards);
        var experiments = plan.Core.ToFSharpList();
        var jobs = RunPlan.jobs(settings, experiments);
        var stages = Shards.stages(jobs);
        var assignment = Shards.assignRun(settings, experiments, shards);
        return jobs.Select(j => new ShardedJob(j.Id.ToString(), assignment[j.Id], stages[j.Id])).ToArray();
    }

    /// <summary>The number of stages of a run of <paramref name="plan"/>: 1, plus one for each level of experiments that take another's
    /// best architecture (the seed study has 2: task3's autoencoder trains after task1).</summary>
    public static int StageCount(ExperimentPlan plan, RunOptions? options = null)
    {
        var settings = SettingsOf(options ?? new RunOptions());
        return CountOf(Shards.stages(RunPlan.jobs(settings, plan.Core.ToFSharpList())));
    }

    private static int CountOf(Microsoft.FSharp.Collections.FSharpMap<JobId, int> stages) => stages.Count == 0 ? 1 : stages.Values.Max() + 1;

    /// <summary>Runs shard <paramref name="shard"/> of a run of <paramref name="nameOrPath"/> into the run folder every shard shares
    /// (<see cref="RunOptions.OutputFolder"/>, required; created if missing): the first shard there writes <c>run.json</c> and
    /// <c>definition.json</c>, the others check that they run the same definition with the same options. The shard trains, measures
    /// and estimates its models (each on one libtorch thread, <see cref="RunOptions.Lanes"/> at once, default one per libtorch
    /// thread), writing each job's results as it finishes, as a run on one machine does; a job it has finished before (the shard was
    /// stopped and run again) is read back, a training continues from its last epoch. A training that needs another shard's trainings
    /// waits for them (polling the folder, up to <see cref="ShardOptions.WaitTimeout"/>). When it ends and finds every job of the run
    /// finished, it merges the run (<see cref="MergeAsync"/>) unless another process is merging it. Every model is trained on one
    /// thread, so the merged numbers are those of <see cref="RunAsync"/> on one machine with one thread per model, bit for bit.</summary>
    /// <exception cref="Core.InvalidInputException">Bad input, a folder holding another run, the shard running elsewhere, or a wait that timed out.</exception>
    /// <exception cref="RunInterruptedException">Cancelled: the shard's record says interrupted; running it again continues it.</exception>
    public static async Task<ShardResult> RunShardAsync(
        string nameOrPath,
        ShardOptions shard,
        RunOptions? options = null,
        IProgress<RunEvent>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new RunOptions();
        var settings = SettingsOf(options);
        CheckShards(shard.Count);
        if (shard.Index < 0 || shard.Index >= shard.Count)
            throw new Core.InvalidInputException("--shard", "", $"must be between 1 and {shard.Count}, was {shard.Index + 1}");
        if (options.OutputFolder is null)
            throw new Core.InvalidInputException("--out", "", "is required for a shard: the run folder every shard of the run writes");
        var timeout = shard.WaitTimeout ?? DefaultWaitTimeout;
        if (timeout <= TimeSpan.Zero) throw new Core.InvalidInputException("--wait-timeout", "", $"must be positive, was {timeout.TotalMinutes} minutes");
        var plan = ExperimentPlan.Load(nameOrPath);
        var experiments = plan.Core.ToFSharpList();
        RunPlan.checkMemory(settings, experiments);
        var jobs = RunPlan.jobs(settings, experiments);
        var stages = Shards.stages(jobs);
        var stageCount = CountOf(stages);
        if (shard.Stage is { } stage && (stage < 1 || stage > stageCount))
            throw new Core.InvalidInputException("--stage", "", $"must be between 1 and {stageCount} (this run has {stageCount} stage{(stageCount == 1 ? "" : "s")}), was {stage}");
        var assignment = Shards.assignRun(settings, experiments, shard.Count);
        bool Mine(JobId job) => assignment[job] == shard.Index && (shard.Stage is null || stages[job] == shard.Stage - 1);
        var folder = RunFolder.join(options.OutputFolder);
        // A shard with no job in its stage (more shards than trainings) loads no data: it only records itself, and merges if last.
        var anyJob = jobs.Any(j => Mine(j.Id));
        var data = anyJob ? await LoadDataAsync(options.DataDirectory, plan) : null;
        cancellationToken.ThrowIfCancellationRequested();
        var started = DateTime.UtcNow;
        var dataDirectory = options.DataDirectory is { } d ? Path.GetFullPath(d) : null;
        Writing(folder, () => RunRecord.join(folder, plan.Name, settings, dataDirectory.ToOption(), experiments, shard.Count, started));
        using var claim = Writing(folder, () => RunFolder.claimShard(folder, shard.Index, shard.Count));
        var lanes = options.Lanes ?? Math.Max(1, engineThreads());
        var shardFolder = RunFolder.shardFolder(shard.Index);
        var stageOption = shard.Stage.ToOption();
        void Record(RunRecord.Status status, DateTime? finished) =>
            RunRecord.writeShard(folder, shardFolder, shard.Index, status, stageOption, lanes, dataDirectory.ToOption(), started, finished.ToOption());
        Writing(folder, () => Record(RunRecord.Status.Running, null));
        var store = Store(folder);
        if (data is not null) Writing(folder, () => Core.OnEngine.checkStored(store, settings, data, experiments, Mine));
        void Await(JobId job)
        {
            var other = $"{job} (shard {assignment[job] + 1}/{shard.Count})";
            var clock = Stopwatch.StartNew();
            var told = false;
            while (!store.Finished.Invoke(job))
            {
                if (!told) shard.Waiting?.Invoke(other);
                told = true;
                if (clock.Elapsed > timeout)
                    throw new Core.InvalidInputException($"job {other}", "",
                        $"did not finish within {timeout.TotalMinutes:0.#} minutes, and a job of shard {shard.Index + 1} needs it: run that shard (or its stage) first, or give more time with --wait-timeout");
                cancellationToken.WaitHandle.WaitOne(PollInterval);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        try
        {
            var part = Part.NewShare(FuncConvert.FromFunc<JobId, bool>(Mine), FuncConvert.FromAction<JobId>(Await));
            if (data is not null)
                await Writing(folder, () => Core.OnEngine.executeAsync(Events(plan, settings, progress), cancellationToken, store, settings, data, experiments, part, lanes, 1));
            Writing(folder, () => Record(RunRecord.Status.Complete, DateTime.UtcNow));
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            Try(() => Record(RunRecord.Status.Interrupted, null));
            throw new RunInterruptedException(folder, e, shard: true);
        }
        catch
        {
            Try(() => Record(RunRecord.Status.Failed, null));
            throw;
        }
        var trainings = jobs.Count(j => j.Id.Kind.IsTrain && Mine(j.Id));
        var missing = Execution.missing(store, settings, experiments).Select(j => j.ToString()).ToArray();
        if (!shard.Merge || missing.Length > 0) return new ShardResult(folder, trainings, missing, null);
        // The last shard to finish merges; one that finishes at the same moment finds the folder held, or the run complete.
        using var merging = RunFolder.tryClaimExisting(folder)?.Value;
        if (merging is null || RunRecord.read(folder).Status.IsComplete) return new ShardResult(folder, trainings, missing, null);
        var (result, _) = await MergeClaimedAsync(folder, data, options.DataDirectory, progress, cancellationToken);
        return new ShardResult(folder, trainings, missing, result);
    }

    /// <summary>Merges the sharded run in <paramref name="folder"/> once every shard has finished: checks that every job of the run has
    /// its results (refusing, with the missing jobs and their shards named, when one has not), reads them back, and writes
    /// results.json and the report as a run on one machine does; <c>run.json</c> then says complete. Merging a merged run writes the
    /// same results again. Also finishes a run on one machine that was stopped after its last job.</summary>
    /// <param name="folder">The run folder.</param>
    /// <param name="dataDirectory">Where the Fashion-MNIST files are, when not where the run found them.</param>
    /// <param name="progress">The run's events, as for <see cref="RunAsync"/>: each job is reported as read back.</param>
    /// <param name="cancellationToken">Stops the merge; nothing is lost (it can be merged again).</param>
    /// <exception cref="Core.InvalidInputException">Not a run folder, a folder in use by another process, a job without results.</exception>
    public static async Task<(RunResult Result, string Folder)> MergeAsync(
        string folder,
        string? dataDirectory = null,
        IProgress<RunEvent>? progress = null,
        CancellationToken cancellationToken = default)
    {
        if (dataDirectory is { } dataFolder && string.IsNullOrWhiteSpace(dataFolder)) throw new Core.InvalidInputException("--data", "", "must not be empty");
        using var claim = RunFolder.claimExisting(folder);
        return await MergeClaimedAsync(claim.Folder, null, dataDirectory, progress, cancellationToken);
    }

    /// <summary>Prepares a sharded run of <paramref name="nameOrPath"/> over <paramref name="shards"/> shards in a new folder
    /// (<see cref="RunOptions.OutputFolder"/>, required): checks the definition and options, creates the folder and writes its
    /// <c>run.json</c> and <c>definition.json</c>, as the first shard would. A cluster's shards then join it
    /// (<see cref="RunShardAsync"/> with the same definition and options). Returns the folder and the run's stages.</summary>
    public static (string Folder, string Name, int Stages) PrepareShardedRun(string nameOrPath, int shards, RunOptions options)
    {
        var settings = SettingsOf(options);
        CheckShards(shards);
        if (options.OutputFolder is null) throw new Core.InvalidInputException("--out", "", "is required: the run folder every shard of the run writes");
        var plan = ExperimentPlan.Load(nameOrPath);
        RunPlan.checkMemory(settings, plan.Core.ToFSharpList());
        RunFolder.check(options.OutputFolder);
        var folder = RunFolder.join(options.OutputFolder);
        var dataDirectory = options.DataDirectory is { } d ? Path.GetFullPath(d) : null;
        Writing(folder, () => RunRecord.join(folder, plan.Name, settings, dataDirectory.ToOption(), plan.Core.ToFSharpList(), shards, DateTime.UtcNow));
        return (folder, plan.Name, StageCount(plan, options));
    }

    /// <summary>The shard a process runs: <paramref name="shard"/> ("I/N", I counted from 1) when given; else a Slurm array task's
    /// (<c>SLURM_ARRAY_TASK_ID</c> − <c>SLURM_ARRAY_TASK_MIN</c> of <c>SLURM_ARRAY_TASK_COUNT</c>); else a Kubernetes Indexed Job's
    /// (<c>JOB_COMPLETION_INDEX</c>, from 0, of <paramref name="shards"/>), read through <paramref name="environment"/>. Null: the
    /// whole run. <c>Source</c> says where it was read.</summary>
    /// <exception cref="Core.InvalidInputException">A malformed value, or counts that disagree.</exception>
    public static (int Index, int Count, string Source)? ResolveShard(string? shard, int? shards, Func<string, string?> environment)
    {
        var resolved = Shards.resolve(shard.ToOption(), shards.ToOption(),
            FuncConvert.FromFunc<string, FSharpOption<string>>(name => environment(name).ToOption()));
        if (resolved.IsError) throw new Core.InvalidInputException(resolved.ErrorValue.Item1, "", resolved.ErrorValue.Item2);
        return resolved.ResultValue is { } found ? (found.Value.Item1.Index, found.Value.Item1.Count, found.Value.Item2) : null;
    }

    private static void CheckShards(int shards)
    {
        if (shards < 1 || shards > Shards.MaxShards)
            throw new Core.InvalidInputException("--shards", "", $"must be between 1 and {Shards.MaxShards}, was {shards}");
    }

    /// <summary><see cref="MergeAsync"/> in a folder this process holds; <paramref name="data"/> when loaded already.</summary>
    private static async Task<(RunResult Result, string Folder)> MergeClaimedAsync(
        string folder,
        Microsoft.FSharp.Collections.FSharpMap<Core.DataSource, Core.Data.Dataset>? data,
        string? dataDirectory,
        IProgress<RunEvent>? progress,
        CancellationToken cancellationToken)
    {
        var record = RunRecord.read(folder);
        var plan = ExperimentPlan.OfRun(Path.Combine(folder, RunRecord.DefinitionFile));
        var settings = record.Settings;
        var experiments = plan.Core.ToFSharpList();
        var store = Store(folder);
        var missing = Execution.missing(store, settings, experiments).ToArray();
        if (missing.Length > 0)
        {
            var assignment = record.Shards is { } n ? Shards.assignRun(settings, experiments, n.Value) : null;
            string Named(JobId job) => assignment is null ? job.ToString() : $"{job} (shard {assignment[job] + 1}/{record.Shards!.Value})";
            var named = string.Join(", ", missing.Take(5).Select(Named)) + (missing.Length > 5 ? $" and {missing.Length - 5} more" : "");
            var fix = record.Shards is null ? "resume the run" : "run their shards again, then merge";
            throw new Core.InvalidInputException($"run folder {folder}", "", $"{missing.Length} job{(missing.Length == 1 ? " has" : "s have")} no results: {named}; {fix}");
        }
        data ??= await LoadDataAsync(dataDirectory ?? record.DataDirectory?.Value, plan);
        cancellationToken.ThrowIfCancellationRequested();
        var run = await Writing(folder, () => Core.OnEngine.executeAsync(Events(plan, settings, progress), cancellationToken,
            JobStore.readOnly(store), settings, data, experiments, Part.Whole, 1, record.ThreadsPerLane));
        var lanes = record.Shards?.Value ?? record.Settings.Lanes?.Value ?? 1;
        var result = RunResults.Of(plan.Name, record.StartedUtc, settings.Quick, run.Experiments, lanes, record.ThreadsPerLane);
        await Writing(folder, () => Report.WriteAsync(result, folder, cancellationToken));
        Writing(folder, () => RunRecord.setStatus(folder, RunRecord.Status.Complete, DateTime.UtcNow));
        return (result, folder);
    }

    /// <summary>Runs <paramref name="write"/> (a record's status), ignoring a folder that can no longer be written.</summary>
    private static void Try(Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Core.InvalidInputException)
        {
        }
    }
}
