/// A run spread over several processes, on one machine or many (a Slurm job array, a Kubernetes
/// Indexed Job): each process, a shard, runs its share of the run's jobs (`RunPlan.jobs`) into one
/// shared run folder, and one merge reads them all back into results.json and the report. The unit
/// is a trained model in one repeat: its training, measurement and IWAE estimate go to the same
/// shard. Jobs that need another experiment's trainings (a model that takes its best architecture)
/// are in a later stage than those trainings. Pure values: no data, engine or files.
module Vae.Core.Shards

open System
open Vae.Core.Experiments
open Vae.Core.RunPlan

/// Shard `Index` (0-based) of `Count`; people and `--shard` count from 1 (`ToString`: "2/3").
type Shard =
    { Index: int
      Count: int }

    override s.ToString() = $"{s.Index + 1}/{s.Count}"

/// The most shards a run is spread over.
[<Literal>]
let MaxShards = 10000

/// The stage of each job (0-based): a training that waits for other trainings is one stage after
/// the latest of them; a measurement and an IWAE estimate are in their training's stage.
let stages (plan: Job list) : Map<JobId, int> =
    plan
    |> List.fold
        (fun (stage: Map<JobId, int>) job ->
            let s =
                match job.Id.Kind with
                | Train -> job.After |> List.map (fun a -> stage.[a] + 1) |> List.fold max 0
                | Measure
                | Likelihood -> stage.[{ job.Id with Kind = Train }]
            stage.Add(job.Id, s))
        Map.empty

/// The expected cost of each training job (with its model's measurement and estimate), in
/// arbitrary units: the forward pass's multiply-adds per image (`Architecture.forwardCost`: the
/// parameters of a perceptron) × (3 × images × epochs for training's forward and backward passes,
/// + samples × images of the IWAE estimate's decoding, + the measurement's fixed share). A model
/// that takes another experiment's best architecture counts as the largest VAE there. Early
/// stopping is not foreseen: every training counts its maximum epochs.
let costs (shapeOf: DataSource -> int * (int * int)) (settings: RunSettings) (experiments: ExperimentDefinition list) : Map<JobId, float> =
    let byName = experiments |> List.map (fun e -> e.Name, e) |> Map.ofList
    let rec parametersOf (e: ExperimentDefinition) (m: ModelSpec) : float =
        let imageOf (e: ExperimentDefinition) = snd (shapeOf e.Data.Source)
        match m.Source with
        | Widths design -> float (Architecture.forwardCost (Architecture.ofDesign (imageOf e) design))
        | ArchitectureOf(_, other) ->
            let source = byName.[other]
            source.Models
            |> List.filter (fun m ->
                match m.Source with
                | Widths design -> ModelKind.hasPosterior design.Kind
                | ArchitectureOf _ -> true
                | BestOf _ -> false)
            |> List.map (parametersOf source)
            |> List.fold max 1.0
        | BestOf _ -> 0.0
    let costOf (e: ExperimentDefinition) (m: ModelSpec) =
        let training = effectiveTraining settings e
        let analysis = effectiveAnalysis settings e
        let images, _ = shapeOf e.Data.Source
        let images = if settings.Quick then min images QuickTrainingImages else max 1 (images - e.Data.ValidationSize)
        let measurement = 20000.0
        parametersOf e m * (3.0 * float images * float training.MaxEpochs + float analysis.IwaeSamples * float analysis.IwaeImages + measurement)
    [ for e in experiments do
          for m in e.Models do
              if not m.Source.IsBestOf then
                  for r in 0 .. effectiveRepeats settings e - 1 ->
                      { Experiment = e.Name; Model = m.Name; Repeat = r; Kind = Train }, costOf e m ]
    |> Map.ofList

/// The shard (0-based) of every job of `plan` over `count` shards: within each stage, the trainings
/// from the most expensive to the least (equal costs in job-id order) each go to the shard with
/// the least cost so far in that stage (the lowest index among equals); a measurement and an
/// estimate go with their training. The same plan, costs and count give the same assignment;
/// shards beyond the number of trainings get no job.
let assign (costs: Map<JobId, float>) (count: int) (plan: Job list) : Map<JobId, int> =
    if count < 1 then invalidArg (nameof count) $"must be at least 1, was {count}"
    let stage = stages plan
    let trainings = plan |> List.filter (fun j -> j.Id.Kind = Train) |> List.map _.Id
    let shardOfTraining =
        trainings
        |> List.groupBy (fun j -> stage.[j])
        |> List.collect (fun (_, jobs) ->
            let load = Array.zeroCreate<float> count
            jobs
            |> List.sortWith (fun a b ->
                match compare costs.[b] costs.[a] with
                | 0 -> String.CompareOrdinal(string a, string b)
                | c -> c)
            |> List.map (fun job ->
                let shard = Array.IndexOf(load, Array.min load)
                load.[shard] <- load.[shard] + costs.[job]
                job, shard))
        |> Map.ofList
    plan |> List.map (fun j -> j.Id, shardOfTraining.[{ j.Id with Kind = Train }]) |> Map.ofList

/// Parses `--shard`'s "I/N" (1-based I, 1 ≤ I ≤ N ≤ MaxShards).
let parse (text: string) : Result<Shard, string * string> =
    match text.Split('/') with
    | [| i; n |] ->
        match Int32.TryParse(i.Trim()), Int32.TryParse(n.Trim()) with
        | (true, i), (true, n) when n >= 1 && n <= MaxShards && i >= 1 && i <= n -> Ok { Index = i - 1; Count = n }
        | (true, _), (true, n) when n < 1 || n > MaxShards -> Error("--shard", $"the count must be between 1 and {MaxShards}, was {n}")
        | (true, i), (true, n) -> Error("--shard", $"the shard must be between 1 and {n} (shards count from 1), was {i}")
        | _ -> Error("--shard", $"expected I/N with whole numbers (e.g. 2/3), was \"{text}\"")
    | _ -> Error("--shard", $"expected I/N (e.g. 2/3 for the second of three shards), was \"{text}\"")

/// The shard a process runs and where it was read: `--shard I/N` (1-based) when given; else a Slurm
/// array task's (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, divided by `SLURM_ARRAY_TASK_STEP`,
/// of `SLURM_ARRAY_TASK_COUNT` or the count MIN..MAX spans); else a Kubernetes Indexed Job's
/// (`JOB_COMPLETION_INDEX`, 0-based, of `shards`). None: the whole run. `shards` (`--shards`), when
/// given, must agree with the count found.
let resolve (shardOption: string option) (shards: int option) (environment: string -> string option) : Result<(Shard * string) option, string * string> =
    let number name =
        match environment name with
        | None -> Ok None
        | Some text ->
            match Int32.TryParse(text.Trim()) with
            | true, n when n >= 0 -> Ok(Some n)
            | _ -> Error(name, $"is \"{text}\", not a whole number")
    let agree (shard: Shard) source =
        match shards with
        | Some n when n <> shard.Count -> Error("--shards", $"is {n}, but {source} gives {shard.Count} shards")
        | _ -> Ok(Some(shard, source))
    match shards with
    | Some n when n < 1 || n > MaxShards -> Error("--shards", $"must be between 1 and {MaxShards}, was {n}")
    | _ ->
    match shardOption with
    | Some text -> parse text |> Result.bind (fun s -> agree s "--shard")
    | None ->
        match number "SLURM_ARRAY_TASK_ID", number "SLURM_ARRAY_TASK_MIN", number "SLURM_ARRAY_TASK_MAX", number "SLURM_ARRAY_TASK_COUNT", number "SLURM_ARRAY_TASK_STEP" with
        | Error e, _, _, _, _
        | _, Error e, _, _, _
        | _, _, Error e, _, _
        | _, _, _, Error e, _
        | _, _, _, _, Error e -> Error e
        | Ok(Some id), Ok low, Ok high, Ok count, Ok step ->
            let low = defaultArg low 0
            let step = max 1 (defaultArg step 1)
            let count =
                match count, high with
                | Some c, _ -> Some c
                | None, Some h -> Some((h - low) / step + 1)
                | None, None -> None
            match count with
            | None -> Error("SLURM_ARRAY_TASK_ID", "is set without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MAX: cannot tell the number of shards")
            | Some count when id < low || (id - low) % step <> 0 || (id - low) / step >= count ->
                Error("SLURM_ARRAY_TASK_ID", $"{id} is not one of the array's {count} tasks from {low} by {step}")
            | Some count when count > MaxShards -> Error("SLURM_ARRAY_TASK_COUNT", $"the Slurm array has {count} tasks; at most {MaxShards} shards")
            | Some count -> agree { Index = (id - low) / step; Count = count } "SLURM_ARRAY_TASK_ID"
        | Ok None, _, _, _, _ ->
            match number "JOB_COMPLETION_INDEX" with
            | Error e -> Error e
            | Ok(Some index) ->
                match shards with
                | None -> Error("JOB_COMPLETION_INDEX", "is set: give --shards N, the Job's completions")
                | Some n when index >= n -> Error("JOB_COMPLETION_INDEX", $"{index} is not below --shards {n} (it counts from 0)")
                | Some n -> Ok(Some({ Index = index; Count = n }, "JOB_COMPLETION_INDEX"))
            | Ok None ->
                match shards with
                | Some _ -> Error("--shards", "needs --shard I/N, a Slurm array task or JOB_COMPLETION_INDEX to say which shard this is")
                | None -> Ok None

/// The shard (0-based) of each job of a run of `experiments` under `settings` over `count` shards
/// (`assign`, the costs sized by each data set's training images, read from their header).
let assignRun (settings: RunSettings) (experiments: ExperimentDefinition list) (count: int) : Map<JobId, int> =
    let shapes =
        experiments
        |> List.map _.Data.Source
        |> List.distinct
        |> List.map (fun s -> let n, h, w = DataSource.trainingShape s in s, (n, (h, w)))
        |> Map.ofList
    assign (costs (fun s -> shapes.[s]) settings experiments) count (jobs settings experiments)
