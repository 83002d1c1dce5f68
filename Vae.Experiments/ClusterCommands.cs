using System.CommandLine;
using System.Globalization;
using System.Text;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>slurm</c> and <c>k8s</c>: prepare a sharded run's folder and write what submits its shards to a cluster's own
/// scheduler (Slurm job arrays chained by <c>afterok</c>; a Kubernetes Indexed Job). Nothing here schedules: each shard is
/// <c>run NAME --out DIR</c> reading its index from the scheduler's variables (see <see cref="RunCommand"/>).</summary>
internal static class ClusterCommands
{
    /// <summary>The options a run's definition is run with, shared by both commands and passed on to every shard.</summary>
    private sealed class RunArguments
    {
        public readonly Argument<string> Definition = new("name-or-path") { Description = "A shipped definition (see `list`) or a path to a JSON definition." };
        public readonly Option<int> Shards = new("--shards") { Description = "The number of shards (array tasks, pods).", Required = true };
        public readonly Option<string> Output = new("--out") { Description = "The run folder every shard writes (on a file system all nodes share); must not exist yet, or be empty.", Required = true };
        public readonly Option<int?> Epochs = new("--epochs") { Description = "Replace every experiment's maximum number of epochs." };
        public readonly Option<long?> Seed = new("--seed") { Description = "Replace every experiment's training seed." };
        public readonly Option<int?> BatchSize = new("--batch-size") { Description = "Replace every experiment's batch size." };
        public readonly Option<double?> LearningRate = new("--lr") { Description = "Replace every experiment's learning rate." };
        public readonly Option<string?> Data = new("--data") { Description = "Folder holding the four Fashion-MNIST files, as the nodes see it." };
        public readonly Option<bool> Quick = new("--quick") { Description = "Smoke test: train on 2,048 images for at most two epochs, measure on small subsets." };
        public readonly Option<int?> Repeats = new("--repeats") { Description = "Replace every experiment's number of repeats." };
        public readonly Option<int> Cpus = new("--cpus-per-task") { Description = "Cores per shard (array task, pod); a shard trains this many models at once, one thread each (default 1).", DefaultValueFactory = _ => 1 };

        public IEnumerable<Symbol> All => [Definition, Shards, Output, Epochs, Seed, BatchSize, LearningRate, Data, Quick, Repeats, Cpus];

        /// <summary>The cores per shard, refused below 1.</summary>
        public int CpusPerTask(ParseResult parsed)
        {
            var cpus = parsed.GetValue(Cpus);
            return cpus >= 1 ? cpus : throw new Core.InvalidInputException("--cpus-per-task", "", $"must be at least 1, was {cpus}");
        }

        public RunOptions OptionsOf(ParseResult parsed) =>
            new(parsed.GetValue(Output), parsed.GetValue(Epochs), parsed.GetValue(Seed), parsed.GetValue(Data), parsed.GetValue(Quick), parsed.GetValue(Repeats),
                BatchSize: parsed.GetValue(BatchSize), LearningRate: parsed.GetValue(LearningRate));

        /// <summary>The definition and options as every shard's command line gives them (a file as its full path).</summary>
        public List<string> ShardArguments(ParseResult parsed, string folder)
        {
            var definition = parsed.GetValue(Definition)!;
            if (File.Exists(definition)) definition = Path.GetFullPath(definition);
            var words = new List<string> { "run", definition, "--out", folder };
            if (parsed.GetValue(Quick)) words.Add("--quick");
            if (parsed.GetValue(Epochs) is { } e) words.AddRange(["--epochs", e.ToString(CultureInfo.InvariantCulture)]);
            if (parsed.GetValue(Seed) is { } s) words.AddRange(["--seed", s.ToString(CultureInfo.InvariantCulture)]);
            if (parsed.GetValue(Repeats) is { } r) words.AddRange(["--repeats", r.ToString(CultureInfo.InvariantCulture)]);
            if (parsed.GetValue(BatchSize) is { } b) words.AddRange(["--batch-size", b.ToString(CultureInfo.InvariantCulture)]);
            // "R": the shortest text that reads back to the same double, so every shard trains with the same rate.
            if (parsed.GetValue(LearningRate) is { } l) words.AddRange(["--lr", l.ToString("R", CultureInfo.InvariantCulture)]);
            if (parsed.GetValue(Data) is { } d) words.AddRange(["--data", Path.GetFullPath(d)]);
            return words;
        }
    }

    public static Command Slurm()
    {
        var run = new RunArguments();
        var partition = new Option<string?>("--partition") { Description = "The Slurm partition (default: the cluster's default)." };
        var time = new Option<string?>("--time") { Description = "Each shard's time limit, in Slurm's format (e.g. 2:00:00)." };
        var command = new Command("slurm", "Prepare a run sharded over a Slurm cluster: create the run folder and write, under <out>/slurm, one job-array script per stage, a merge script, and submit.sh, which submits them chained by afterok. Prints the command to submit.");
        foreach (var symbol in run.All.Concat([partition, time])) Add(command, symbol);
        command.SetAction(parsed =>
        {
            var shards = parsed.GetValue(run.Shards);
            var cpusPerTask = run.CpusPerTask(parsed);
            var (folder, name, stages) = ExperimentRunner.PrepareShardedRun(parsed.GetValue(run.Definition)!, shards, run.OptionsOf(parsed));
            var scripts = Path.Combine(folder, "slurm");
            Directory.CreateDirectory(Path.Combine(scripts, "logs"));
            var shardWords = run.ShardArguments(parsed, folder);
            string Header(string job, string log, int? array) => new StringBuilder()
                .Append("#!/usr/bin/env bash\n")
                .Append($"#SBATCH --job-name={job}\n")
                .Append(array is { } n ? $"#SBATCH --array=0-{n - 1}\n" : "")
                .Append($"#SBATCH --cpus-per-task={cpusPerTask}\n")
                .Append($"#SBATCH --chdir={Environment.CurrentDirectory}\n")
                .Append($"#SBATCH --output={Path.Combine(scripts, "logs", log)}\n")
                .Append(parsed.GetValue(partition) is { } p ? $"#SBATCH --partition={p}\n" : "")
                .Append(parsed.GetValue(time) is { } t ? $"#SBATCH --time={t}\n" : "")
                .ToString();
            for (var stage = 1; stage <= stages; stage++)
                Write(Path.Combine(scripts, $"stage-{stage}.sbatch"),
                    Header($"{name}-stage{stage}", $"stage-{stage}-%a.out", shards)
                    + $"# Stage {stage} of {stages} of the run {name}: array task $SLURM_ARRAY_TASK_ID runs shard $SLURM_ARRAY_TASK_ID + 1 of {shards}\n"
                    + "# (the program reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_CPUS_PER_TASK).\n"
                    + "set -euo pipefail\n"
                    + $"exec {Shell.Command(shardWords.Concat(["--stage", stage.ToString(CultureInfo.InvariantCulture), "--no-merge"]))}\n");
            Write(Path.Combine(scripts, "merge.sbatch"),
                Header($"{name}-merge", "merge.out", null)
                + $"# Merges the run {name} once every shard of every stage has finished: results.json and the report.\n"
                + "set -euo pipefail\n"
                + $"exec {Shell.Command(["merge", folder])}\n");
            var submit = new StringBuilder()
                .Append("#!/usr/bin/env bash\n")
                .Append($"# Submits the run {name} sharded over {shards} Slurm array tasks: one array per stage ({stages}), each after the\n")
                .Append("# previous one succeeded (afterok), then the merge. Arguments go to the merge's sbatch: with --wait this script\n")
                .Append("# returns when the merge has finished, with its exit code.\n")
                .Append("set -euo pipefail\n")
                .Append("here=$(cd \"$(dirname \"$0\")\" && pwd)\n")
                .Append("after=()\n");
            for (var stage = 1; stage <= stages; stage++)
                submit.Append($"id=$(sbatch --parsable \"${{after[@]}}\" \"$here/stage-{stage}.sbatch\")\n")
                    .Append($"id=${{id%%;*}}\n")
                    .Append($"echo \"stage {stage} of {stages}: job array $id\"\n")
                    .Append("after=(--kill-on-invalid-dep=yes \"--dependency=afterok:$id\")\n");
            submit.Append("echo \"merge: after job $id\"\n")
                .Append("sbatch --parsable \"${after[@]}\" \"$@\" \"$here/merge.sbatch\"\n");
            var submitPath = Path.Combine(scripts, "submit.sh");
            Write(submitPath, submit.ToString());
            Console.WriteLine($"prepared {folder}: {name} over {shards} shards in {stages} stage{(stages == 1 ? "" : "s")}; scripts in {scripts}");
            Console.WriteLine($"submit with: bash {Shell.Quote(submitPath)}   (add --wait to wait for the merge)");
            return ExitCodes.Success;
        });
        return command;
    }

    public static Command Kubernetes()
    {
        var run = new RunArguments();
        var image = new Option<string>("--image") { Description = "The container image holding this program (default vae-dotnet:latest), with `Vae.Experiments` on its PATH.", DefaultValueFactory = _ => "vae-dotnet:latest" };
        var claim = new Option<string>("--claim") { Description = "The PersistentVolumeClaim (ReadWriteMany) every pod mounts at /runs (default vae-runs).", DefaultValueFactory = _ => "vae-runs" };
        var command = new Command("k8s", "Write a Kubernetes Indexed Job (completionMode: Indexed) that runs a sharded run: pod i runs shard i + 1 of all stages (waiting for other pods' trainings a later stage needs) into /runs/<name of --out> on a shared volume; the last pod to finish merges. Untested against a cluster.");
        foreach (var symbol in run.All.Concat([image, claim])) Add(command, symbol);
        command.SetAction(parsed =>
        {
            var shards = parsed.GetValue(run.Shards);
            var cpusPerTask = run.CpusPerTask(parsed);
            var options = run.OptionsOf(parsed);
            var plan = ExperimentPlan.Load(parsed.GetValue(run.Definition)!);
            ExperimentRunner.ShardPlan(plan, shards, options); // checks the options and the shard count, as the pods will
            var output = Path.GetFullPath(parsed.GetValue(run.Output)!);
            Vae.Core.RunFolder.check(output);
            Directory.CreateDirectory(output);
            var folder = "/runs/" + Path.GetFileName(output.TrimEnd('/'));
            var words = run.ShardArguments(parsed, folder);
            if (parsed.GetValue(run.Data) is not null) words.RemoveRange(words.IndexOf("--data"), 2);
            words.AddRange(["--shards", shards.ToString(CultureInfo.InvariantCulture), "--lanes", cpusPerTask.ToString(CultureInfo.InvariantCulture)]);
            var jobName = "vae-" + new string(plan.Name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
            string Yaml(string word) => "\"" + word.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
            var manifest = new StringBuilder()
                .Append($"# The run {plan.Name} sharded over {shards} pods: a Kubernetes Indexed Job. Pod i (JOB_COMPLETION_INDEX, from 0)\n")
                .Append($"# runs shard i + 1 of {shards} into {folder} on the volume claim {parsed.GetValue(claim)}; a job that needs\n")
                .Append("# another pod's trainings waits for them; the last pod to finish merges (results.json, report).\n")
                .Append("# Written by `k8s`; not tested against a cluster. Apply with: kubectl apply -f job.yaml\n")
                .Append("apiVersion: batch/v1\nkind: Job\nmetadata:\n")
                .Append($"  name: {jobName}\n")
                .Append("spec:\n  completionMode: Indexed\n")
                .Append($"  completions: {shards}\n  parallelism: {shards}\n  backoffLimit: {2 * shards}\n")
                .Append("  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: shard\n")
                .Append($"          image: {Yaml(parsed.GetValue(image)!)}\n")
                .Append($"          command: [{string.Join(", ", new[] { "Vae.Experiments" }.Concat(words).Select(Yaml))}]\n")
                .Append(parsed.GetValue(run.Data) is not null ? "          env:\n            - name: FASHION_MNIST_DIR\n              value: \"/runs/fashion-mnist\"\n" : "")
                .Append($"          resources:\n            requests:\n              cpu: \"{cpusPerTask}\"\n              memory: 2Gi\n")
                .Append("          volumeMounts:\n            - name: runs\n              mountPath: /runs\n")
                .Append("      volumes:\n        - name: runs\n          persistentVolumeClaim:\n")
                .Append($"            claimName: {Yaml(parsed.GetValue(claim)!)}\n");
            var path = Path.Combine(output, "job.yaml");
            Write(path, manifest.ToString());
            Console.WriteLine($"wrote {path}: {plan.Name} over {shards} pods into {folder} on the claim {parsed.GetValue(claim)} (not tested against a cluster)");
            Console.WriteLine($"apply with: kubectl apply -f {Shell.Quote(path)}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Add(Command command, Symbol symbol)
    {
        switch (symbol)
        {
            case Argument argument: command.Arguments.Add(argument); break;
            case Option option: command.Options.Add(option); break;
        }
    }

    private static void Write(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }
}
