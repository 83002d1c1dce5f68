/// Running a plan of jobs on the lanes (several models at once, each on its share of the threads)
/// into outcomes.
module Vae.Core.Execution

open System
open System.Diagnostics
open TorchSharp
open Vae.Core.Data
open Vae.Core.Training
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes
open Vae.Core.Measurement

/// Where a model of a run is: experiment (index in the run), repeat, model (index in the experiment).
type private Slot = { Experiment: int; Repeat: int; Model: int }

/// Models trained at once by `run` unless the settings say otherwise: 2 when libtorch has at
/// least 2 threads (each model then gets half of them), else 1.
let defaultLanes () =
    Engine.ensureLoaded ()
    if torch.get_num_threads () >= 2 then 2 else 1

/// The lanes a run under `settings` trains on.
let effectiveLanes (settings: RunSettings) = settings.Lanes |> Option.defaultWith defaultLanes

/// libtorch threads each of `lanes` lanes trains and measures on (`Lanes.threadsPerLane`).
let threadsPerLane (lanes: int) = Lanes.threadsPerLane lanes

/// libtorch's threads in this process (usually the machine's cores): a shard runs as many lanes of
/// one thread each unless told otherwise.
let engineThreads () = Lanes.threadsPerLane 1

/// Which of a run's jobs a process runs.
type Part =
    /// Every job (a run in one process).
    | Whole
    /// The jobs `runs` accepts (a shard's, see `Shards`). A training of theirs that waits for
    /// trainings this process does not run calls `await` for each (which returns once the store
    /// holds it, or raises) and reads it back from the store.
    | Share of runs: (JobId -> bool) * await: (JobId -> unit)

/// Trains and measures every model of every experiment in every repeat (repeat r trains with
/// seed + r), several models at once (`settings.Lanes`, see `Lanes`; one model is measured
/// at a time): a model that takes another experiment's best architecture trains once every model
/// of that experiment has trained. Each model trains and is measured on one lane with its share of
/// the threads, so its numbers do not depend on which lane took it or when. Outcomes are in
/// definition order, each experiment seeing those before it. `onEvent` gets the run's events
/// (`RunEvent`) on the thread of the lane that raised them, two lanes at once when there are two:
/// it must be thread-safe, and quick, since the lane waits for it (`OnEngine.runAsync` queues them
/// and delivers them on one thread). `cancellation` stops the run: training checks it every batch,
/// measurement between its steps. `store` keeps each job's results as it finishes and each
/// training's state after every epoch (`JobStore`): a job whose results it holds is read back, not
/// run again, and a training with a saved state continues from it, so that a run resumed in a
/// folder gives the numbers of a run that never stopped.
let rec run (onEvent: RunEvent -> unit) (cancellation: Threading.CancellationToken) (store: JobStore.JobStore) (settings: RunSettings) (data: Map<DataSource, Dataset>) (experiments: ExperimentDefinition list) : ExperimentOutcome list =
    let lanes = effectiveLanes settings
    execute onEvent cancellation store settings data experiments Whole lanes (threadsPerLane lanes)

/// Runs `part` of the run (`run`) on `lanes` lanes of `perLane` libtorch threads each; the outcomes
/// of `Whole`, none of a `Share` (its results are in the store, for a merge).
and execute
    (onEvent: RunEvent -> unit)
    (cancellation: Threading.CancellationToken)
    (store: JobStore.JobStore)
    (settings: RunSettings)
    (data: Map<DataSource, Dataset>)
    (experiments: ExperimentDefinition list)
    (part: Part)
    (lanes: int)
    (perLane: int)
    : ExperimentOutcome list =
    let experiments = Array.ofList experiments
    let indexOf name = experiments |> Array.findIndex (fun e -> e.Name = name)
    let repeatsOf ei = effectiveRepeats settings experiments.[ei]
    let dataOf (e: ExperimentDefinition) = data.[e.Data.Source]
    let imageOf (e: ExperimentDefinition) = let d = (dataOf e).Description in d.Height, d.Width
    // What measuring needs, once per data set.
    let measuringOf (data: Dataset) =
        let pixels = data.Description.Pixels
        let probeTrain = if settings.Quick then take QuickProbeImages data.Train else data.Train
        let probeTest = data.Test
        let originals = Analysis.examples Examples data.Description.Classes.Length data.Test
        let from, ``to`` = data.Description.Interpolation
        // The PCA yardstick depends only on the data and the code size: fitted once, scored once per size.
        // Fitted on first use, which is inside a model's measurement: detached from that dispose scope.
        let pcaFit =
            lazy (
                let directions, mean = Probes.pcaFit pixels probeTrain.Images
                directions.DetachFromDisposeScope(), mean.DetachFromDisposeScope())
        let pcaScores = Collections.Concurrent.ConcurrentDictionary<int, Lazy<float * float>>()
        let pca latent =
            let score () =
                let directions, mean = pcaFit.Value
                // A code wider than the image is measured against all of the pixels' components.
                let leading = directions.narrow(1L, 0L, int64 (min latent pixels)), mean
                use trainX = Probes.pcaProject leading probeTrain.Images
                use testX = Probes.pcaProject leading probeTest.Images
                Probes.linearAccuracy trainX probeTrain.Labels testX probeTest.Labels,
                Probes.knnAccuracy 5 trainX probeTrain.Labels testX probeTest.Labels
            pcaScores.GetOrAdd(latent, fun _ -> lazy (score ())).Value
        { Data = data
          ProbeTrain = probeTrain
          ProbeTest = probeTest
          Originals = originals
          InterpolationEnds = torch.stack([| Analysis.firstOfClass from data.Test; Analysis.firstOfClass ``to`` data.Test |], 0L)
          Pca = pca
          Frechet =
            fun generated ->
                let directions, mean = pcaFit.Value
                Analysis.frechetDistance (directions.narrow(1L, 0L, int64 (min Analysis.FrechetComponents pixels)), mean) data.Test.Images generated
          Cancellation = cancellation }
    let measurings = experiments |> Array.map (fun e -> e.Data.Source) |> Array.distinct |> Array.map (fun s -> s, measuringOf data.[s]) |> dict
    let measuringFor (e: ExperimentDefinition) = measurings.[e.Data.Source]
    // One split per split setting, as indices into the training images (`Rows`), freed when the run ends.
    let splits =
        experiments
        |> Array.map (fun e -> e.Data)
        |> Array.distinct
        |> Array.map (fun d -> d, trainValidationRows d.SplitSeed d.ValidationSize data.[d.Source].Train)
        |> dict
    use _ =
        { new IDisposable with
            member _.Dispose() =
                for rows in splits.Values |> Seq.collect (fun (t, v) -> [ t; v ]) do
                    match rows with
                    | Picked(_, indices) -> indices.Dispose()
                    | All _ -> () }
    let splitOf (e: ExperimentDefinition) =
        let train, validation = splits.[e.Data]
        if settings.Quick then Rows.take QuickTrainingImages train, Rows.take QuickValidationImages validation else train, validation
    let slots =
        [ for ei in 0 .. experiments.Length - 1 do
              for r in 0 .. repeatsOf ei - 1 do
                  for i in 0 .. experiments.[ei].Models.Length - 1 -> { Experiment = ei; Repeat = r; Model = i } ]
    let specOf slot = experiments.[slot.Experiment].Models.[slot.Model]
    let isTrained slot =
        match (specOf slot).Source with
        | BestOf _ -> false
        | _ -> true
    // Written by the lanes, each slot once, read after the lanes that wrote it have finished.
    let trained = Collections.Concurrent.ConcurrentDictionary<Slot, Architecture * TrainingResult * float>()
    let measured = Collections.Concurrent.ConcurrentDictionary<Slot, ModelOutcome>()
    let runStarted = DateTime.UtcNow
    let startedAt = Collections.Concurrent.ConcurrentDictionary<int, DateTime>()
    // A slot's architecture and training; a bestOf slot's are its source's best model's (None when
    // every model there diverged).
    let rec trainingOf slot : (Architecture * TrainingResult) option =
        match (specOf slot).Source with
        | BestOf other ->
            let oi = indexOf other
            match bestOf oi (fun _ -> true) with
            | -1 -> None
            | best -> trainingOf { Experiment = oi; Repeat = min slot.Repeat (repeatsOf oi - 1); Model = best }
        | _ ->
            let architecture, result, _ = trained.[slot]
            Some(architecture, result)
    // The model of experiment `ei` (among those `keep` accepts, and never one that diverged in any
    // repeat) with the lowest mean best validation loss over repeats; the first of equals; -1 if none.
    and bestOf ei (keep: Architecture -> bool) : int =
        let healthy i =
            List.init (repeatsOf ei) (fun r -> trainingOf { Experiment = ei; Repeat = r; Model = i })
            |> List.forall (function
                | Some(_, t) -> not t.Diverged
                | None -> false)
        let candidates =
            experiments.[ei].Models
            |> List.indexed
            |> List.filter (fun (i, _) -> healthy i && keep (fst (trainingOf { Experiment = ei; Repeat = 0; Model = i }).Value))
        let meanLoss i =
            List.init (repeatsOf ei) (fun r -> (snd (trainingOf { Experiment = ei; Repeat = r; Model = i }).Value).Best.ValidationLoss) |> List.average
        match candidates |> Statistics.best Statistics.Lower (fun (i, _) -> meanLoss i) with
        | None -> -1
        | Some(i, _) -> i
    let architectureOf slot =
        let experiment = experiments.[slot.Experiment]
        match (specOf slot).Source with
        | Widths design -> Architecture.ofDesign (imageOf experiment) design
        | ArchitectureOf(kind, other) ->
            let oi = indexOf other
            match bestOf oi (fun a -> ModelKind.hasPosterior a.Kind) with
            | -1 ->
                InvalidInput.raise experiment.Name "" $"architectureOf \"{other}\": that experiment has no VAE that trained without diverging"
            | best ->
                let a = fst (trainingOf { Experiment = oi; Repeat = 0; Model = best }).Value
                Architecture.ofDesign (imageOf experiment) (Design.asKind kind a.Design)
        | BestOf _ -> invalidOp "a bestOf model is not trained"
    let seedOf slot = (effectiveTraining settings experiments.[slot.Experiment]).Seed + int64 slot.Repeat
    let slotOf (id: JobId) =
        let ei = indexOf id.Experiment
        { Experiment = ei; Repeat = id.Repeat; Model = experiments.[ei].Models |> List.findIndex (fun m -> m.Name = id.Model) }
    // A training another process ran (a shard's), read back once it is stored; in `After` order,
    // which is the order trainings can be read in (each one's architecture may need those before).
    let readOther (job: JobId) =
        match part with
        | Whole -> ()
        | Share(_, await) ->
            let slot = slotOf job
            if not (trained.ContainsKey slot) then
                await job
                lock trained (fun () ->
                    if not (trained.ContainsKey slot) then
                        let architecture = architectureOf slot
                        match store.LoadTrained job architecture with
                        | Some(result, seconds) -> trained.[slot] <- (architecture, result, seconds)
                        | None -> InvalidInput.about $"job {job}" "was reported finished but its results are not in the run folder")
    let train (job: JobId) (after: JobId list) slot () =
        for other in after do readOther other
        let experiment = experiments.[slot.Experiment]
        startedAt.TryAdd(slot.Experiment, DateTime.UtcNow) |> ignore
        let options = { effectiveTraining settings experiment with Seed = seedOf slot }
        let trainSplit, validationSplit = splitOf experiment
        onEvent (Started(job, options.MaxEpochs, batchesPerEpoch options (Rows.count trainSplit)))
        let architecture = architectureOf slot
        match store.LoadTrained job architecture with
        | Some(result, seconds) ->
            // Finished before: its epochs are reported as they were.
            for record in result.History do onEvent (Epoch(job, record))
            trained.[slot] <- (architecture, result, seconds)
            if result.Diverged then onEvent (Diverged(job, result))
        | None ->
            let hooks =
                { OnEpoch = fun record -> onEvent (Epoch(job, record))
                  OnBatch = fun epoch batch batches -> onEvent (Batch(job, epoch, batch, batches))
                  OnEpochEnd = store.SaveState job
                  Cancellation = cancellation }
            let clock = Stopwatch.StartNew()
            let state = store.LoadState job architecture options
            let result, earlier =
                try
                    // A resumed training reports the epochs it had done, and counts their time.
                    let earlier =
                        match state with
                        | Some s ->
                            for record in s.History do onEvent (Epoch(job, record))
                            s.History |> List.sumBy _.Seconds
                        | None -> 0.0
                    Training.trainFromRows hooks options state trainSplit validationSplit (Model.create options.Seed architecture), earlier
                finally
                    state |> Option.iter TrainingState.dispose
            let seconds = earlier + clock.Elapsed.TotalSeconds
            store.SaveTrained job result seconds
            trained.[slot] <- (architecture, result, seconds)
            if result.Diverged then onEvent (Diverged(job, result))
    // A model is measured by two jobs: `measure` and the IWAE estimate (`likelihood`); the
    // second to finish puts the outcome together and reports the model finished. Recording a
    // job's part, reporting it and looking for the other's are one step under the lock: exactly
    // one of the two finds both, and Finished comes after both Measured. Nothing computes with the
    // model after that (its checkpoint is in the store): its tensors are freed then, not held until
    // the run ends (27 models of the shipped study, about 6 MB each with their gradient buffers).
    let likelihoods = Collections.Concurrent.ConcurrentDictionary<Slot, Likelihood.Estimate option * float>()
    let completed (job: JobId) slot (record: unit -> unit) =
        lock measured (fun () ->
            record ()
            onEvent (Measured job)
            match measured.TryGetValue slot, likelihoods.TryGetValue slot with
            | (true, outcome), (true, (iwae, seconds)) ->
                let outcome =
                    { outcome with
                        IwaeNll = iwae |> Option.map (fun e -> e.Nll)
                        IwaeStandardError = iwae |> Option.bind (fun e -> e.StandardError)
                        LikelihoodSeconds = if iwae.IsSome then seconds else nan }
                measured.[slot] <- outcome
                Model.dispose outcome.Training.Model
                onEvent (Finished(experiments.[slot.Experiment].Name, outcome))
            | _ -> ())
    // A model whose training diverged is not measured (its weights are not a model's to judge).
    let measureSlot (job: JobId) slot () =
        let architecture, result, seconds = trained.[slot]
        if not result.Diverged then
            let outcome =
                match store.LoadMeasured job (specOf slot) architecture result seconds with
                | Some outcome -> outcome
                | None ->
                    let clock = Stopwatch.StartNew()
                    let outcome = measure (measuringFor experiments.[slot.Experiment]) (seedOf slot) slot.Repeat (specOf slot) architecture result seconds None
                    let outcome = { outcome with MeasureSeconds = clock.Elapsed.TotalSeconds }
                    store.SaveMeasured job outcome
                    outcome
            completed job slot (fun () -> measured.[slot] <- outcome)
    let likelihoodSlot (job: JobId) slot () =
        let _, result, _ = trained.[slot]
        if not result.Diverged then
            let iwae =
                match store.LoadLikelihood job with
                | Some iwae -> iwae
                | None ->
                    let clock = Stopwatch.StartNew()
                    let iwae = likelihood (measuringFor experiments.[slot.Experiment]) (effectiveAnalysis settings experiments.[slot.Experiment]) (seedOf slot) result.Model
                    let seconds = clock.Elapsed.TotalSeconds
                    store.SaveLikelihood job iwae seconds
                    iwae, seconds
            completed job slot (fun () -> likelihoods.[slot] <- iwae)
    // The plan (`jobs`) run on the lanes: each job's work is its kind's, for its slot.
    // A share runs its jobs stage by stage (`Shards.stages`), so that a lane waits for another
    // process's trainings only when this one has nothing else to do.
    let plan =
        let all = jobs settings (List.ofArray experiments)
        match part with
        | Whole -> all
        | Share(runs, _) ->
            let stage = Shards.stages all
            all |> List.filter (fun j -> runs j.Id) |> List.sortBy (fun j -> stage.[j.Id])
    let position = plan |> List.mapi (fun i job -> job.Id, i) |> dict
    let laneJobs: Lanes.LaneJob list =
        [ for job in plan ->
              let slot = slotOf job.Id
              { Lanes.LaneJob.After = job.After |> List.filter position.ContainsKey |> List.map (fun a -> position.[a])
                Exclusive = job.Exclusive
                Work =
                  match job.Id.Kind with
                  | Train -> train job.Id job.After slot
                  | Measure -> measureSlot job.Id slot
                  | Likelihood -> likelihoodSlot job.Id slot } ]
    Lanes.runWith lanes perLane laneJobs
    match part with
    | Share _ -> []
    | Whole ->
        // Outcomes in definition order; a bestOf model is its source's outcome, measured there.
        experiments
        |> Array.indexed
        |> Array.fold
            (fun (previous: ExperimentOutcome list) (ei, experiment) ->
                let slotsOf i = List.init (repeatsOf ei) (fun r -> { Experiment = ei; Repeat = r; Model = i })
                let divergedModel i =
                    match experiment.Models.[i].Source with
                    | BestOf _ -> false
                    | _ -> slotsOf i |> List.exists (fun slot -> let _, t, _ = trained.[slot] in t.Diverged)
                let healthy, diverged = List.init experiment.Models.Length id |> List.partition (divergedModel >> not)
                let outcomeOf slot =
                    match (specOf slot).Source with
                    | BestOf other ->
                        let spec = specOf slot
                        let source = previous |> List.find (fun o -> o.Definition.Name = other)
                        match source.Best with
                        | None ->
                            InvalidInput.raise experiment.Name "" $"bestOf \"{other}\": every model of that experiment diverged"
                        | Some sourceBest ->
                            let best = source.RepeatsOf sourceBest.Spec.Name |> List.item (min slot.Repeat (source.Repeats.Length - 1))
                            // The same model: its measurements (and samples) are the ones taken where it was trained.
                            let outcome = { best with Spec = spec; Repeat = slot.Repeat; ReusedFrom = Some(other, best.Spec.Name) }
                            onEvent (Finished(experiment.Name, outcome))
                            outcome
                    | _ -> measured.[slot]
                let outcome =
                    { Definition = experiment
                      Training = effectiveTraining settings experiment
                      Analysis = effectiveAnalysis settings experiment
                      StartedUtc = match startedAt.TryGetValue ei with | true, t -> t | _ -> runStarted
                      Data = (dataOf experiment).Description
                      Originals = (measuringFor experiment).Originals
                      InterpolationEnds = (measuringFor experiment).InterpolationEnds
                      TestLabels = (dataOf experiment).Test.Labels
                      Repeats = List.init (repeatsOf ei) (fun r -> healthy |> List.map (fun i -> outcomeOf { Experiment = ei; Repeat = r; Model = i }))
                      Diverged =
                        diverged
                        |> List.map (fun i ->
                            let trainings = slotsOf i |> List.map (fun slot -> let a, t, _ = trained.[slot] in slot.Repeat, a, t)
                            { Spec = experiment.Models.[i]
                              Architecture = (let _, a, _ = trainings.Head in a)
                              Trainings = trainings |> List.map (fun (r, _, t) -> r, t) }) }
                previous @ [ outcome ])
            []

/// Checks, before a run in `store` resumes, that what the store holds belongs to a run of
/// `experiments` under `settings` (`JobStore.Prepare`), and that every stored training and state of a
/// model with its own widths is of that model's architecture and training options (a model that
/// takes another experiment's architecture is checked when it trains); removes the temporary files
/// of writes a killed run left. Only the jobs `mine` accepts are checked and cleaned (a shard's:
/// other shards may be writing theirs). Raises the bad-input error naming the file at fault.
let checkStored (store: JobStore.JobStore) (settings: RunSettings) (data: Map<DataSource, Dataset>) (experiments: ExperimentDefinition list) (mine: JobId -> bool) =
    let plan = jobs settings experiments
    let trainings = plan |> List.filter (fun j -> j.Id.Kind = Train) |> List.map _.Id
    let byName = experiments |> List.map (fun e -> e.Name, e) |> Map.ofList
    for job in trainings |> List.filter mine do
        let e = byName.[job.Experiment]
        match (e.Models |> List.find (fun m -> m.Name = job.Model)).Source with
        | Widths design ->
            let d = data.[e.Data.Source].Description
            let architecture = Architecture.ofDesign (d.Height, d.Width) design
            let training = effectiveTraining settings e
            let options = { training with Seed = training.Seed + int64 job.Repeat }
            store.LoadTrained job architecture |> Option.iter (fun (result, _) -> result.Model.Parameters.Values.Dispose())
            store.LoadState job architecture options |> Option.iter TrainingState.dispose
        | _ -> ()
    store.Prepare trainings mine

/// The jobs of a run of `experiments` under `settings` whose results `store` does not hold, in plan order.
let missing (store: JobStore.JobStore) (settings: RunSettings) (experiments: ExperimentDefinition list) : JobId list =
    jobs settings experiments |> List.map _.Id |> List.filter (store.Finished >> not)
