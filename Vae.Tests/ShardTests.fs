/// A run spread over processes (issue 13): the shard assignment and stages as values, the shard a
/// process reads from Slurm's or Kubernetes' variables, and real runner processes writing one folder:
/// two shards at once, a merge with a job missing, a wait that times out, and a real single-node
/// Slurm cluster running the scripts `slurm` wrote. Every sharded run must give the numbers of one
/// process that trains each model on one thread.
module Vae.Tests.ShardTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Tests.Shared
open Vae.Tests.Processes

let private shipped (name: string) = snd (Experiments.plan name)

let private quick = { RunSettings.none with Quick = true }

/// An environment of these variables only.
let private environment (variables: (string * string) list) (name: string) = variables |> List.tryFind (fst >> (=) name) |> Option.map snd

/// `task3 --quick` (task1's two VAEs, then task3's autoencoder) in one process, each model on one
/// libtorch thread (as many lanes as threads): what every sharded run of it must equal.
let private reference =
    lazy (
        let folder = Path.Combine(temporaryDirectory (), "reference")
        let o = run [ "run"; "task3"; "--quick"; "--lanes"; string (torch.get_num_threads ()); "--out"; folder ]
        Expect.equal o.ExitCode 0 $"the reference run completes (stderr: {o.FirstError})"
        folder)

/// The repository's folder (holding .ci), found from the test program's.
let private repository =
    lazy (
        let rec up (dir: DirectoryInfo) =
            if isNull dir then failwith "no .ci folder above the test program"
            elif Directory.Exists(Path.Combine(dir.FullName, ".ci")) then dir.FullName
            else up dir.Parent
        up (DirectoryInfo AppContext.BaseDirectory))

/// Runs `command` with `arguments` (SLURM_CONF set when given), waiting at most `minutes`: exit code, output.
let private shell (slurmConf: string option) (minutes: float) (command: string) (arguments: string list) =
    let info = ProcessStartInfo(command, arguments, RedirectStandardOutput = true, RedirectStandardError = true)
    slurmConf |> Option.iter (fun c -> info.Environment["SLURM_CONF"] <- c)
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(TimeSpan.FromMinutes minutes)) then
        p.Kill true
        failwith $"{command} {String.Join(' ', arguments)} did not finish within {minutes} min"
    p.ExitCode, output.Result + error.Result

[<Tests>]
let tests =
    testList "Shards" [
        test "stages: a model that takes another experiment's best architecture trains a stage later; its measurement and estimate go with it" {
            let plan = jobs RunSettings.none (shipped "seed-study")
            let stages = Shards.stages plan
            for job in plan do
                let expected = if job.Id.Experiment = "task3" then 1 else 0
                Expect.equal stages.[job.Id] expected $"{job.Id}"
            Expect.equal (stages.Values |> Seq.max) 1 "the seed study has two stages"
        }

        test "every job is in exactly one shard, the same on every call, for 1 to more shards than trainings; each stage balanced" {
            for name, settings in [ "seed-study", RunSettings.none; "task3", quick; "seed-study", { RunSettings.none with Repeats = Some 1 } ] do
                let experiments = shipped name
                let plan = jobs settings experiments
                let stages = Shards.stages plan
                let costs = Shards.costs (fun _ -> 60000, (28, 28)) settings experiments
                let trainings = plan |> List.filter (fun j -> j.Id.Kind = Train)
                for count in 1 .. trainings.Length + 2 do
                    let assignment = Shards.assign costs count plan
                    Expect.equal (Shards.assign costs count plan) assignment $"{name}, {count} shards: the same assignment again"
                    Expect.equal (Set.ofSeq assignment.Keys) (plan |> List.map _.Id |> Set.ofList) $"{name}, {count} shards: every job has a shard"
                    for job in plan do
                        let shard = assignment.[job.Id]
                        Expect.isTrue (shard >= 0 && shard < count) $"{job.Id}: shard {shard} of {count}"
                        Expect.equal shard assignment.[{ job.Id with Kind = Train }] $"{job.Id}: with its training"
                    // Greedy balancing: no shard's cost in a stage exceeds the stage's mean by more than its costliest training.
                    for stage, inStage in trainings |> List.groupBy (fun j -> stages.[j.Id]) do
                        let loads = Array.zeroCreate<float> count
                        for j in inStage do loads.[assignment.[j.Id]] <- loads.[assignment.[j.Id]] + costs.[j.Id]
                        let largest = inStage |> List.map (fun j -> costs.[j.Id]) |> List.max
                        Expect.isLessThanOrEqual (Array.max loads) (Array.average loads + largest) $"{name}, stage {stage}, {count} shards: balanced"
                        if count >= inStage.Length then
                            Expect.equal (loads |> Array.filter ((<) 0.0) |> Array.length) inStage.Length $"{name}, stage {stage}: one training per shard when there are enough"
        }

        test "the shard is read from --shard, then a Slurm array task, then JOB_COMPLETION_INDEX with --shards; bad values are named" {
            let resolve shard shards variables = Shards.resolve shard shards (environment variables)
            let shardOf = Result.map (Option.map (fun (s: Shards.Shard, source) -> s.Index, s.Count, source))
            Expect.equal (resolve (Some "2/3") None [] |> shardOf) (Ok(Some(1, 3, "--shard"))) "--shard counts from 1"
            Expect.equal (resolve (Some "1/2") None [ "SLURM_ARRAY_TASK_ID", "5"; "SLURM_ARRAY_TASK_COUNT", "9" ] |> shardOf) (Ok(Some(0, 2, "--shard"))) "--shard first"
            Expect.equal (resolve None None [ "SLURM_ARRAY_TASK_ID", "2"; "SLURM_ARRAY_TASK_COUNT", "3"; "SLURM_ARRAY_TASK_MIN", "0" ] |> shardOf) (Ok(Some(2, 3, "SLURM_ARRAY_TASK_ID"))) "Slurm, from 0"
            Expect.equal (resolve None None [ "SLURM_ARRAY_TASK_ID", "3"; "SLURM_ARRAY_TASK_MIN", "1"; "SLURM_ARRAY_TASK_MAX", "4" ] |> shardOf) (Ok(Some(2, 4, "SLURM_ARRAY_TASK_ID"))) "Slurm, --array=1-4: the count from MIN and MAX"
            Expect.equal (resolve None None [ "SLURM_ARRAY_TASK_ID", "4"; "SLURM_ARRAY_TASK_MIN", "0"; "SLURM_ARRAY_TASK_MAX", "6"; "SLURM_ARRAY_TASK_STEP", "2" ] |> shardOf) (Ok(Some(2, 4, "SLURM_ARRAY_TASK_ID"))) "Slurm, --array=0-6:2"
            Expect.equal (resolve None (Some 4) [ "JOB_COMPLETION_INDEX", "3" ] |> shardOf) (Ok(Some(3, 4, "JOB_COMPLETION_INDEX"))) "Kubernetes, from 0"
            Expect.equal (resolve None None [ "OTHER", "1" ] |> shardOf) (Ok None) "nothing: the whole run"
            let refused shard shards variables (input: string) (words: string) =
                match resolve shard shards variables with
                | Error(i, problem) ->
                    Expect.equal i input "names the input"
                    Expect.stringContains problem words "says what is wrong"
                | Ok found -> failtest $"{shard} {shards} {variables}: refused, not {found}"
            refused (Some "0/3") None [] "--shard" "count from 1"
            refused (Some "4/3") None [] "--shard" "between 1 and 3"
            refused (Some "2") None [] "--shard" "expected I/N"
            refused (Some "a/b") None [] "--shard" "whole numbers"
            refused (Some "1/2") (Some 3) [] "--shards" "is 3, but --shard gives 2"
            refused None (Some 2) [ "SLURM_ARRAY_TASK_ID", "0"; "SLURM_ARRAY_TASK_COUNT", "3" ] "--shards" "SLURM_ARRAY_TASK_ID gives 3"
            refused None None [ "SLURM_ARRAY_TASK_ID", "x"; "SLURM_ARRAY_TASK_COUNT", "3" ] "SLURM_ARRAY_TASK_ID" "not a whole number"
            refused None None [ "SLURM_ARRAY_TASK_ID", "1" ] "SLURM_ARRAY_TASK_ID" "cannot tell the number of shards"
            refused None None [ "JOB_COMPLETION_INDEX", "1" ] "JOB_COMPLETION_INDEX" "give --shards"
            refused None (Some 2) [ "JOB_COMPLETION_INDEX", "2" ] "JOB_COMPLETION_INDEX" "not below --shards 2"
            refused None (Some 2) [] "--shards" "needs --shard"
        }

        testSequenced <| testList "processes" [
            test "two processes running the two shards into one folder at once give the run of one process; the last to finish merges" {
                let folder = Path.Combine(temporaryDirectory (), "run")
                let shard i = start [] [ "run"; "task3"; "--quick"; "--shard"; $"{i}/2"; "--out"; folder ]
                let first, second = shard 1, shard 2
                let outcomes = [ finish 5.0 first; finish 5.0 second ]
                for o in outcomes do
                    Expect.equal o.ExitCode 0 $"each shard finishes (stderr: {String.Join(Environment.NewLine, o.Error)})"
                let merged = outcomes |> List.filter (fun o -> o.Output |> List.exists (fun l -> l.StartsWith "wrote "))
                Expect.hasLength merged 1 "exactly one shard merged the run"
                sameRun reference.Value folder "two shards at once"
                for i in 1 .. 2 do
                    use record = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "shards", string i, "shard.json")))
                    Expect.equal (record.RootElement.GetProperty("status").GetString()) "complete" $"shard {i}'s record says complete"
            }

            test "merge names a job without results and its shard (exit 2); once the shard has run, the run is the one of one process" {
                let folder = Path.Combine(temporaryDirectory (), "run")
                let plan = jobs quick (shipped "task3")
                let stages = Shards.stages plan
                let assignment = Shards.assignRun quick (shipped "task3") 2
                // The shard that needs no other shard's training runs alone; the other's jobs are then missing.
                let alone = [ 0; 1 ] |> List.find (fun s -> plan |> List.forall (fun j -> assignment.[j.Id] <> s || stages.[j.Id] = 0))
                let other = 1 - alone
                let shard s extra = run ([ "run"; "task3"; "--quick"; "--shard"; $"{s + 1}/2"; "--out"; folder ] @ extra)
                let first = shard alone [ "--no-merge" ]
                Expect.equal first.ExitCode 0 $"shard {alone + 1} runs (stderr: {first.FirstError})"
                let missing = plan |> List.filter (fun j -> assignment.[j.Id] = other) |> List.map (fun j -> string j.Id)
                Expect.isNonEmpty missing "the other shard has jobs"
                let merge = run [ "merge"; folder ]
                refused "no results" merge
                Expect.stringContains merge.FirstError $"{missing.Head} (shard {other + 1}/2)" "names a missing job and its shard"
                Expect.stringContains merge.FirstError $"{missing.Length} job" "counts them"
                Expect.equal (status folder) "running" "not merged"
                let jobFiles () = fileHashes folder |> Map.filter (fun file _ -> not (file.StartsWith "shards/"))
                let before = jobFiles ()
                let again = shard alone [ "--no-merge" ]
                Expect.equal again.ExitCode 0 "the same shard again"
                Expect.equal (jobFiles ()) before "its jobs are read back, not redone: every file as it was (a training's record keeps its seconds)"
                let second = shard other []
                Expect.equal second.ExitCode 0 $"the other shard runs and merges (stderr: {second.FirstError})"
                sameRun reference.Value folder "one shard after the other"
                let remerged = run [ "merge"; folder ]
                Expect.equal remerged.ExitCode 0 "merging a merged run writes it again"
                sameRun reference.Value folder "merged twice"
            }

            test "a later stage waits for another shard's trainings, and gives up after --wait-timeout naming the job and its shard (exit 2)" {
                let folder = Path.Combine(temporaryDirectory (), "run")
                let clock = Stopwatch.StartNew()
                let o = run [ "run"; "task3"; "--quick"; "--shard"; "1/3"; "--stage"; "2"; "--wait-timeout"; "0.05"; "--out"; folder ]
                refused "--wait-timeout" o
                Expect.exists o.Output (fun l -> l.StartsWith "waiting for task1/") "says what it waits for"
                let last = o.FirstError
                Expect.stringStarts last "error: job task1/" "the error names the job"
                Expect.stringContains last "(shard " "and its shard"
                Expect.stringContains last "--wait-timeout" "and how to wait longer"
                Expect.isGreaterThanOrEqual clock.Elapsed.TotalSeconds 3.0 "it waited"
                use record = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "shards", "1", "shard.json")))
                Expect.equal (record.RootElement.GetProperty("status").GetString()) "failed" "the shard's record says failed"
            }

            test "a shard is refused another run's folder, another shard count, a stage the run lacks, no --out; resume points a sharded run to its shards" {
                let folder = Path.Combine(temporaryDirectory (), "run")
                let prepared = run [ "slurm"; "task3"; "--quick"; "--shards"; "2"; "--out"; folder ]
                Expect.equal prepared.ExitCode 0 $"slurm prepares the folder (stderr: {prepared.FirstError})"
                Expect.isTrue (File.Exists(Path.Combine(folder, "slurm", "submit.sh"))) "and writes the scripts"
                refused "describes another run" (run [ "run"; "task3"; "--quick"; "--epochs"; "1"; "--shard"; "1/2"; "--out"; folder ])
                refused "describes another run" (run [ "run"; "task3"; "--quick"; "--batch-size"; "128"; "--shard"; "1/2"; "--out"; folder ])
                refused "describes another run" (run [ "run"; "task3"; "--quick"; "--lr"; "0.002"; "--shard"; "1/2"; "--out"; folder ])
                let overridden = Path.Combine(temporaryDirectory (), "run")
                let prepared = run [ "slurm"; "task3"; "--quick"; "--shards"; "2"; "--batch-size"; "128"; "--lr"; "0.002"; "--out"; overridden ]
                Expect.equal prepared.ExitCode 0 $"slurm with --batch-size and --lr (stderr: {prepared.FirstError})"
                Expect.stringContains (File.ReadAllText(Path.Combine(overridden, "slurm", "stage-1.sbatch"))) "--batch-size 128 --lr 0.002" "every shard is given them"
                refused "sharded over 2, not 3" (run [ "run"; "task3"; "--quick"; "--shard"; "1/3"; "--out"; folder ])
                refused "--stage: must be between 1 and 2" (run [ "run"; "task3"; "--quick"; "--shard"; "1/2"; "--stage"; "3"; "--out"; folder ])
                refused "--out: is required for a shard" (run [ "run"; "task3"; "--quick"; "--shard"; "1/2" ])
                refused "--stage: applies to a shard" (run [ "run"; "task3"; "--quick"; "--stage"; "1" ])
                refused "holds a run sharded over 2" (run [ "resume"; folder ])
                refused "already holds a run" (run [ "run"; "task3"; "--quick"; "--out"; folder ])
                refused "--shards: must be between 1" (run [ "slurm"; "task3"; "--shards"; "0"; "--out"; Path.Combine(temporaryDirectory (), "x") ])
                refused "already holds a run" (run [ "slurm"; "task3"; "--quick"; "--shards"; "2"; "--out"; folder ])
                let manifest = Path.Combine(temporaryDirectory (), "k8s")
                let written = run [ "k8s"; "task3"; "--quick"; "--shards"; "3"; "--out"; manifest; "--image"; "registry/vae:1" ]
                Expect.equal written.ExitCode 0 $"k8s writes a manifest (stderr: {written.FirstError})"
                let yaml = File.ReadAllText(Path.Combine(manifest, "job.yaml"))
                for expected in [ "kind: Job"; "completionMode: Indexed"; "completions: 3"; "parallelism: 3"; "image: \"registry/vae:1\""; "\"--shards\", \"3\""; "\"--out\", \"/runs/k8s\""; "claimName: \"vae-runs\"" ] do
                    Expect.stringContains yaml expected "the Indexed Job's contract"
            }

            test "a real single-node Slurm cluster runs the scripts `slurm` wrote (a job array per stage, afterok, the merge): the numbers of one process" {
                let cluster = temporaryDirectory ()
                let script = Path.Combine(repository.Value, ".ci", "slurm-cluster.sh")
                let conf = Some(Path.Combine(cluster, "slurm.conf"))
                try
                    let code, output = shell None 2.0 "bash" [ script; "up"; cluster ]
                    Expect.equal code 0 $"the cluster starts: {output}"
                    let folder = Path.Combine(temporaryDirectory (), "run")
                    let prepared = run [ "slurm"; "task3"; "--quick"; "--shards"; "3"; "--out"; folder ]
                    Expect.equal prepared.ExitCode 0 $"slurm writes the scripts (stderr: {prepared.FirstError})"
                    let submit = Path.Combine(folder, "slurm", "submit.sh")
                    Expect.exists prepared.Output (fun l -> l.Contains $"bash {submit}") "and prints the command that submits them"
                    let code, output = shell conf 10.0 "bash" [ submit; "--wait" ]
                    Expect.equal code 0 $"the merge job succeeds after both stages: {output}"
                    Expect.stringContains output "stage 2 of 2: job array" "two stages submitted"
                    for stage, shard in [ for s in 1 .. 2 do for i in 0 .. 2 -> s, i ] do
                        let log = Path.Combine(folder, "slurm", "logs", $"stage-{stage}-{shard}.out")
                        Expect.stringStarts (File.ReadAllText log) $"shard {shard + 1}/3 (from SLURM_ARRAY_TASK_ID), stage {stage}" $"array task {shard} of stage {stage} ran its shard"
                    sameRun reference.Value folder "three Slurm array tasks per stage"
                finally
                    shell None 1.0 "bash" [ script; "down"; cluster ] |> ignore
                Expect.isFalse (Directory.Exists cluster) "the cluster's files are removed"
            }
        ]
    ]
