/// Where a run keeps its jobs' results (`RunPlan.jobs`): each finished job's in files of its own,
/// written whole or not at all the moment it finishes, and each unfinished training's state after
/// every epoch. A run stopped at any moment (Ctrl-C, a crash, kill -9) resumes from them: finished
/// jobs are read back instead of redone, bit for bit, and an unfinished training continues at the
/// epoch after its last saved state. `memory` keeps nothing (a run that cannot be resumed);
/// `folder` keeps the files under a run folder:
///
///     jobs/<experiment>/<model>/r<repeat>/train.safetensors       the training: history, best epoch, divergence
///     jobs/<experiment>/<model>/r<repeat>/state.safetensors       the training's state, while it trains
///     jobs/<experiment>/<model>/r<repeat>/measure.safetensors     the test-set measurements and pictures
///     jobs/<experiment>/<model>/r<repeat>/likelihood.safetensors  the IWAE estimate
///
/// and each trained model's weights as its checkpoint in the run's layout (written before the
/// training's file, which is what says the training finished). Numbers are stored as F64 tensors
/// and pictures as the model's own floats, so that they read back bit for bit; NaN and infinities
/// (a diverged epoch) included.
module Vae.Core.JobStore

open System
open System.Globalization
open System.IO
open TorchSharp
open Vae.Core.Training
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes

/// A run's store of job results; see the module. Every function is called on the lane that runs
/// the job, each job's files by that job only.
type JobStore =
    { /// A finished training's result and its seconds, if stored; the model is of `Architecture`
      /// (a stored model of another is refused).
      LoadTrained: JobId -> Architecture -> (TrainingResult * float) option
      /// Stores a finished training (its model's checkpoint, then its record) and drops its state.
      SaveTrained: JobId -> TrainingResult -> float -> unit
      /// The last saved state of an unfinished training with these options, if any; the caller
      /// disposes it (`TrainingState.dispose`).
      LoadState: JobId -> Architecture -> TrainingOptions -> TrainingState option
      /// Saves a training's state after an epoch (`TrainingHooks.OnEpochEnd`).
      SaveState: JobId -> TrainingState -> unit
      /// A stored measurement of the model trained as given, if any (the `Measure` job's outcome).
      LoadMeasured: JobId -> ModelSpec -> Architecture -> TrainingResult -> float -> ModelOutcome option
      /// Stores a measurement, its `MeasureSeconds` included.
      SaveMeasured: JobId -> ModelOutcome -> unit
      /// A stored IWAE estimate (Some None: the model has none, an autoencoder) and the seconds its
      /// job took (NaN when the file does not say), if any.
      LoadLikelihood: JobId -> (Likelihood.Estimate option * float) option
      /// Stores an IWAE estimate and the seconds its job took.
      SaveLikelihood: JobId -> Likelihood.Estimate option -> float -> unit
      /// Whether the job's results are stored: a training's record; a measurement's or an
      /// estimate's file, or the record of its training that diverged (such a model is not measured).
      Finished: JobId -> bool
      /// Before a run resumes: refuses stored results of a model and repeat that none of `jobs`
      /// is of (a run folder of another definition), and removes the temporary files that killed
      /// writes left in the folders of the jobs `mine` accepts (a shard leaves others' alone: their
      /// writers may be running).
      Prepare: JobId list -> (JobId -> bool) -> unit }

/// Keeps nothing: every job runs.
let memory: JobStore =
    { LoadTrained = fun _ _ -> None
      SaveTrained = fun _ _ _ -> ()
      LoadState = fun _ _ _ -> None
      SaveState = fun _ _ -> ()
      LoadMeasured = fun _ _ _ _ _ -> None
      SaveMeasured = fun _ _ -> ()
      LoadLikelihood = fun _ -> None
      SaveLikelihood = fun _ _ _ -> ()
      Finished = fun _ -> false
      Prepare = fun _ _ -> () }

/// The folder of a run's job files.
[<Literal>]
let JobsFolder = "jobs"

/// The folder of the jobs of a model in a repeat, relative to the run folder.
let modelFolder (job: JobId) = Path.Combine(JobsFolder, job.Experiment, job.Model, $"r{job.Repeat + 1}")

let private exact (x: float) = x.ToString("R", CultureInfo.InvariantCulture)

/// Writes `tensors` (F32, F64) and `metadata` to `path` as one safetensors file, whole or not at all.
let private write (path: string) (format: string) (metadata: (string * string) list) (tensors: (string * torch.Tensor) list) =
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    Safetensors.writeTensors path (("format", format) :: metadata) tensors

/// A job file read back: its metadata strings and tensors by name.
type private JobFile =
    { Path: string
      Metadata: Map<string, string>
      Tensors: Map<string, torch.Tensor> }

    /// The metadata `key`.
    member f.Meta(key: string) =
        match f.Metadata.TryFind key with
        | Some v -> v
        | None -> InvalidInput.about f.Path $"__metadata__.{key} is missing: not a job file of this library"

    /// A tensor `name` with `elements` values (any shape), or the problem named.
    member f.Tensor(name: string, elements: int64) =
        match f.Tensors.TryFind name with
        | Some t when t.NumberOfElements = elements -> t
        | Some t -> InvalidInput.about f.Path $"tensor {name} has {t.NumberOfElements} values, this job's result has {elements}"
        | None -> InvalidInput.about f.Path $"tensor {name} is missing"

    /// The values of the F64 tensor `name`, `count` of them.
    member f.Numbers(name: string, count: int) : float[] =
        let t = f.Tensor(name, int64 count)
        if t.dtype <> torch.ScalarType.Float64 then InvalidInput.about f.Path $"tensor {name} must be F64, is {Safetensors.dtypeName t.dtype}"
        t.data<float>().ToArray()

    /// The metadata `seconds` (a job's wall-clock time), or None when the file has none (a
    /// measurement or estimate written before job files kept their time).
    member f.Seconds: float option =
        f.Metadata.TryFind "seconds"
        |> Option.map (fun text ->
            match Double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, s when s >= 0.0 && Double.IsFinite s -> s
            | _ -> InvalidInput.about f.Path ("__metadata__.seconds is not a number of seconds: " + Safetensors.quoted text))

    /// The images of tensor `name`: `rows` × `width` values, as a [rows; width] tensor.
    member f.Images(name: string, rows: int64, width: int64) = f.Tensor(name, rows * width).view(rows, width)

    /// The whole number in metadata `key`.
    member f.Whole(key: string) =
        match Int32.TryParse(f.Meta key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
        | true, v -> v
        | _ -> InvalidInput.about f.Path $"__metadata__.{key} is not a whole number: {Safetensors.quoted (f.Meta key)}"

/// Reads the job file `path` of `format` (`what` names it in messages): every tensor F32 or F64,
/// its bytes matching its shape, the tensors tiling the data section.
let private read (path: string) (what: string) (format: string) : JobFile =
    let plan (header: ReadOnlyMemory<byte>) (dataLength: int64) =
        Safetensors.readHeader path what header (fun h ->
            Safetensors.checkFormat h format
            let metadata =
                [ for p in h.Metadata.EnumerateObject() ->
                      if p.Value.ValueKind <> Text.Json.JsonValueKind.String then
                          InvalidInput.about path $"__metadata__.{p.Name} must be a string, was {Safetensors.shown p.Value}"
                      p.Name, p.Value.GetString() ]
                |> Map.ofList
            let entries =
                [ for name in h.TensorNames ->
                      let dtypeText, shape, offsets = Safetensors.entry h name
                      let dtype, size =
                          match dtypeText with
                          | "F32" -> torch.ScalarType.Float32, 4L
                          | "F64" -> torch.ScalarType.Float64, 8L
                          | other -> InvalidInput.about path $"tensor {name}: dtype {Safetensors.quoted other}, expected F32 or F64"
                      let elements =
                          shape |> List.fold (fun n d -> if d > 0L && n > Int64.MaxValue / d then InvalidInput.about path $"tensor {name}: its shape is too large" else n * d) 1L
                      if elements > dataLength then InvalidInput.about path $"tensor {name}: its shape needs more than the file's {dataLength} data bytes"
                      match Safetensors.start offsets (elements * size) dataLength with
                      | Some first -> name, dtype, shape, first, elements * size
                      | None -> InvalidInput.about path $"tensor {name}: data_offsets {offsets} do not hold its {elements * size} bytes within the data section" ]
            Safetensors.checkTiling path [ for name, _, _, first, bytes in entries -> name, first, bytes ] dataLength what
            metadata, entries)
    let build (metadata, entries) (data: ReadOnlyMemory<byte>) =
        let tensors =
            [ for name, dtype, shape, first, bytes in entries ->
                  let slice = data.Slice(int first, int bytes).Span
                  let shape = Array.ofList shape
                  let t =
                      let flat =
                          if dtype = torch.ScalarType.Float64 then torch.tensor(Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(slice).ToArray())
                          else torch.tensor(Runtime.InteropServices.MemoryMarshal.Cast<byte, float32>(slice).ToArray())
                      if shape.Length = 1 then flat
                      else
                          use flat = flat
                          flat.reshape(shape).clone ()
                  name, t ]
            |> Map.ofList
        { Path = path; Metadata = metadata; Tensors = tensors }
    Safetensors.read path what plan build

/// Formats of the job files.
[<Literal>]
let TrainFormat = "vae-run/train/1"

[<Literal>]
let MeasureFormat = "vae-run/measure/1"

[<Literal>]
let LikelihoodFormat = "vae-run/likelihood/1"

/// The history as an [epochs; 6] F64 tensor (epoch, train reconstruction, train KL, validation
/// reconstruction, validation KL, seconds): non-finite values kept.
let private historyTensor (history: EpochRecord list) =
    use flat = torch.tensor([| for e in history do yield! [| float e.Epoch; e.TrainReconstruction; e.TrainKl; e.ValidationReconstruction; e.ValidationKl; e.Seconds |] |])
    flat.view(int64 history.Length, 6L).clone ()

let private historyOf (file: JobFile) (epochs: int) : EpochRecord list =
    let values = file.Numbers("history", epochs * 6)
    [ for i in 0 .. epochs - 1 ->
          let v = values.[i * 6 .. i * 6 + 5]
          if v.[0] <> float (i + 1) then InvalidInput.about file.Path $"tensor history: row {i} is epoch {v.[0]}, expected {i + 1}"
          { Epoch = i + 1
            TrainReconstruction = v.[1]
            TrainKl = v.[2]
            ValidationReconstruction = v.[3]
            ValidationKl = v.[4]
            Seconds = v.[5] } ]

/// The store of a run in `runFolder`; `checkpointOf` gives a trained model's checkpoint path in
/// the run's layout (relative to the run folder). A model whose training diverged has no
/// checkpoint: read back, it holds its initial weights (it is never measured nor saved).
let folder (runFolder: string) (checkpointOf: JobId -> string) : JobStore =
    let at (job: JobId) name = Path.Combine(runFolder, modelFolder job, name)
    let statePath job = at job "state.safetensors"
    let trainPath job = at job "train.safetensors"
    let measurePath job = at job "measure.safetensors"
    let likelihoodPath job = at job "likelihood.safetensors"
    let forKind kind (job: JobId) = { job with Kind = kind }
    let saveTrained (job: JobId) (result: TrainingResult) (seconds: float) =
        let checkpoint = if result.Diverged then "" else checkpointOf job
        if checkpoint <> "" then
            let path = Path.Combine(runFolder, checkpoint)
            Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
            Checkpoint.save path result.Model
        use history = historyTensor result.History
        write
            (trainPath job)
            TrainFormat
            [ "job", string job
              yield! Checkpoint.architectureMetadata result.Model.Architecture
              "epochs", string result.History.Length
              "bestEpoch", string result.BestEpoch
              "divergedAt", (match result.DivergedAt with Some e -> string e | None -> "none")
              "seconds", exact seconds
              "checkpoint", checkpoint ]
            [ "history", history ]
        File.Delete(statePath job)
    let loadTrained (job: JobId) (architecture: Architecture) =
        let path = trainPath job
        if not (File.Exists path) then None
        else
            let file = read path "job's training" TrainFormat
            try
                let epochs = file.Whole "epochs"
                if epochs < 0 then InvalidInput.about path $"__metadata__.epochs must not be negative, was {epochs}"
                let history = historyOf file epochs
                let bestEpoch = file.Whole "bestEpoch"
                if bestEpoch < 0 || bestEpoch > epochs then InvalidInput.about path $"__metadata__.bestEpoch is {bestEpoch}, the history has {epochs} epochs"
                let divergedAt =
                    match file.Meta "divergedAt" with
                    | "none" -> None
                    | _ -> Some(file.Whole "divergedAt")
                let seconds =
                    match file.Seconds with
                    | Some s -> s
                    | None -> InvalidInput.about path "__metadata__.seconds is missing: not a job file of this library"
                let model =
                    match file.Meta "checkpoint" with
                    | "" when divergedAt.IsSome -> Model.create 0L architecture
                    | "" -> InvalidInput.about path "__metadata__.checkpoint is empty, but the training did not diverge"
                    | relative ->
                        let model = Checkpoint.load (Path.Combine(runFolder, relative))
                        if model.Architecture <> architecture then
                            InvalidInput.about (Path.Combine(runFolder, relative)) $"holds a {model.Architecture}; this run's definition trains a {architecture} here"
                        model
                Some({ Model = model; History = history; BestEpoch = bestEpoch; DivergedAt = divergedAt }, seconds)
            finally
                for t in file.Tensors.Values do t.Dispose()
    let saveMeasured (job: JobId) (m: ModelOutcome) =
        let numbers (values: float seq) : torch.Tensor = torch.tensor(Array.ofSeq values)
        let owned =
            [ "test", numbers [ m.Test.Reconstruction; m.Test.Kl; m.Test.Loss; float m.Test.Count ]
              "distances", numbers [ m.GenerationDistance; m.FittedGenerationDistance ]
              "codeVariance", numbers m.CodeVariance
              "activeUnits", numbers [ float m.ActiveUnits ]
              "klPerDimension", numbers m.KlPerDimension
              "probe", numbers [ m.Probe.Linear; m.Probe.Knn; m.Probe.PcaLinear; m.Probe.PcaKnn ]
              "traversalDimensions", numbers (m.TraversalDimensions |> List.map float) ]
        try
            write
                (measurePath job)
                MeasureFormat
                [ "job", string job
                  "seconds", exact m.MeasureSeconds
                  "reconstructions", string m.Reconstructions.shape.[0]
                  "traversal", string m.Traversal.shape.[0]
                  "latent2d", string m.Latent2d.shape.[0] ]
                (owned
                 @ [ "generated", m.Generated
                     "generatedFitted", m.GeneratedFitted
                     "reconstructionImages", m.Reconstructions
                     "interpolation", m.Interpolation
                     "traversalImages", m.Traversal
                     "latent2d", m.Latent2d ])
        finally
            for _, t in owned do t.Dispose()
    let loadMeasured (job: JobId) (spec: ModelSpec) (architecture: Architecture) (training: TrainingResult) (seconds: float) =
        let path = measurePath job
        if not (File.Exists path) then None
        else
            let file = read path "job's measurements" MeasureFormat
            let pixels = int64 architecture.Input
            let latent = architecture.Latent
            let kept = Collections.Generic.HashSet<string>()
            let keep name (t: torch.Tensor) = kept.Add name |> ignore; t
            try
                let test = file.Numbers("test", 4)
                let distances = file.Numbers("distances", 2)
                let probe = file.Numbers("probe", 4)
                let dimensions = file.Whole "traversal" / 9
                let traversed = file.Numbers("traversalDimensions", dimensions) |> Array.map int |> List.ofArray
                Some
                    { Spec = spec
                      Architecture = architecture
                      Repeat = job.Repeat
                      Training = training
                      Test = { Reconstruction = test.[0]; Kl = test.[1]; Loss = test.[2]; Count = int test.[3] }
                      IwaeNll = None
                      IwaeStandardError = None
                      TrainingSeconds = seconds
                      MeasureSeconds = file.Seconds |> Option.defaultValue nan
                      LikelihoodSeconds = nan
                      ReusedFrom = None
                      GenerationDistance = distances.[0]
                      FittedGenerationDistance = distances.[1]
                      CodeVariance = file.Numbers("codeVariance", latent)
                      ActiveUnits = int (file.Numbers("activeUnits", 1)).[0]
                      KlPerDimension = file.Numbers("klPerDimension", latent)
                      Probe = { Linear = probe.[0]; Knn = probe.[1]; PcaLinear = probe.[2]; PcaKnn = probe.[3] }
                      Generated = keep "generated" (file.Images("generated", 9L, pixels))
                      GeneratedFitted = keep "generatedFitted" (file.Images("generatedFitted", 9L, pixels))
                      Reconstructions = keep "reconstructionImages" (file.Images("reconstructionImages", int64 (file.Whole "reconstructions"), pixels))
                      Interpolation = keep "interpolation" (file.Images("interpolation", 10L, pixels))
                      Traversal = keep "traversalImages" (file.Images("traversalImages", int64 (file.Whole "traversal"), pixels))
                      TraversalDimensions = traversed
                      Latent2d = keep "latent2d" (file.Images("latent2d", int64 (file.Whole "latent2d"), 2L)) }
            finally
                for KeyValue(name, t) in file.Tensors do
                    if not (kept.Contains name) then t.Dispose()
    let saveLikelihood (job: JobId) (iwae: Likelihood.Estimate option) (seconds: float) =
        let tensors =
            [ match iwae with
              | Some e ->
                  "iwaeNll", torch.tensor([| e.Nll |] : float[])
                  match e.StandardError with
                  | Some se -> "iwaeStandardError", torch.tensor([| se |] : float[])
                  | None -> ()
              | None -> () ]
        try write (likelihoodPath job) LikelihoodFormat [ "job", string job; "seconds", exact seconds ] tensors
        finally
            for _, t in tensors do t.Dispose()
    let loadLikelihood (job: JobId) =
        let path = likelihoodPath job
        if not (File.Exists path) then None
        else
            let file = read path "job's likelihood" LikelihoodFormat
            try
                let estimate =
                    match file.Tensors.TryFind "iwaeNll" with
                    | Some _ ->
                        // A likelihood written before the standard error was kept has none.
                        let standardError = file.Tensors.TryFind "iwaeStandardError" |> Option.map (fun _ -> (file.Numbers("iwaeStandardError", 1)).[0])
                        Some { Likelihood.Nll = (file.Numbers("iwaeNll", 1)).[0]; Likelihood.StandardError = standardError }
                    | None -> None
                Some(estimate, file.Seconds |> Option.defaultValue nan)
            finally
                for t in file.Tensors.Values do t.Dispose()
    // `Safetensors.writeAtomically`'s temporary files (`<file>.<process id>.tmp`) in `folder`
    // whose file name starts with `prefix`.
    let removeTemporary (folder: string) (prefix: string) =
        if Directory.Exists folder then
            for file in Directory.EnumerateFiles(folder, prefix + "*.tmp") do
                let parts = Path.GetFileName(file).Split('.')
                if parts.Length >= 3 && parts.[parts.Length - 2] |> Seq.forall Char.IsAsciiDigit then File.Delete file
    let prepare (jobs: JobId list) (mine: JobId -> bool) =
        let root = Path.Combine(runFolder, JobsFolder)
        if Directory.Exists root then
            let expected = jobs |> List.map (fun j -> Path.GetFullPath(Path.Combine(runFolder, modelFolder j))) |> Set.ofList
            for experiment in Directory.EnumerateDirectories root do
                for model in Directory.EnumerateDirectories experiment do
                    for repeat in Directory.EnumerateDirectories model do
                        if not (expected.Contains(Path.GetFullPath repeat)) then
                            InvalidInput.about (Path.Combine(runFolder, Path.GetRelativePath(runFolder, repeat))) "holds results of a model and repeat that this run's definition.json does not have"
        for job in jobs |> List.filter mine do
            removeTemporary (Path.Combine(runFolder, modelFolder job)) ""
            if job.Kind = Train then
                let checkpoint = Path.Combine(runFolder, checkpointOf job)
                removeTemporary (Path.GetDirectoryName checkpoint) (Path.GetFileName checkpoint + ".")
    let diverged (job: JobId) =
        let path = trainPath job
        File.Exists path
        && (let file = read path "job's training" TrainFormat
            try file.Meta "divergedAt" <> "none" finally for t in file.Tensors.Values do t.Dispose())
    let finished (job: JobId) =
        match job.Kind with
        | Train -> File.Exists(trainPath job)
        | Measure -> File.Exists(measurePath job) || diverged job
        | Likelihood -> File.Exists(likelihoodPath job) || diverged job
    { LoadTrained = fun job architecture -> loadTrained (forKind Train job) architecture
      SaveTrained = fun job result seconds -> saveTrained (forKind Train job) result seconds
      LoadState =
        fun job architecture options ->
            let path = statePath job
            if File.Exists path then Some(TrainingCheckpoint.load path architecture options) else None
      SaveState = fun job state -> Directory.CreateDirectory(Path.GetDirectoryName(statePath job)) |> ignore; TrainingCheckpoint.save (statePath job) state
      LoadMeasured = loadMeasured
      SaveMeasured = saveMeasured
      LoadLikelihood = loadLikelihood
      SaveLikelihood = saveLikelihood
      Finished = finished
      Prepare = prepare }

/// `store` for a merge, which runs no job: every job's results are read from it, and one that is
/// not there (removed since the merge checked) is refused, naming it; saving is a bug.
let readOnly (store: JobStore) : JobStore =
    let missing (job: JobId) = InvalidInput.about $"job {job}" "has no results in the run folder; run its shard again, then merge"
    let notSaved _ = invalidOp "a merge runs no job and saves nothing"
    { store with
        LoadTrained = fun job architecture -> match store.LoadTrained job architecture with Some t -> Some t | None -> missing { job with Kind = Train }
        SaveTrained = fun job _ _ -> notSaved job
        LoadState = fun _ _ _ -> None
        SaveState = fun job _ -> notSaved job
        LoadMeasured = fun job spec a t s -> match store.LoadMeasured job spec a t s with Some m -> Some m | None -> missing job
        SaveMeasured = fun job _ -> notSaved job
        LoadLikelihood = fun job -> match store.LoadLikelihood job with Some l -> Some l | None -> missing job
        SaveLikelihood = fun job _ _ -> notSaved job }
