/// Saving and loading a training's state (`Training.TrainingState`) as one safetensors file, so that
/// a training stopped by Ctrl-C or kill -9 resumes at its next epoch with nothing lost. Tensors:
/// `weights`, `best`, `adam.firstMoment`, `adam.secondMoment` (the flat parameter buffer's layout,
/// all F32 or all F64) and `generator.shuffle`, `generator.noise` (U8, libtorch's generator
/// states). `__metadata__` (strings, as the format requires): the format, the architecture (as in
/// a model checkpoint), the training options, the split sizes, the epoch, the best epoch and its
/// loss, Adam's settings and steps, and the history as a JSON array. Floating-point numbers are
/// written in their shortest round-trip form, so that they read back bit for bit.
module Vae.Core.TrainingCheckpoint

open System
open System.Globalization
open System.Text.Json
open TorchSharp
open Vae.Core.Training

/// Written to `__metadata__.format`.
[<Literal>]
let Format = "vae-core/training-state/1"

let private floatTensors = [ "weights"; "best"; "adam.firstMoment"; "adam.secondMoment" ]
let private generatorTensors = [ "generator.shuffle"; "generator.noise" ]

/// A number in its shortest form that reads back to the same bits.
let private exact (x: float) = x.ToString("R", CultureInfo.InvariantCulture)

let private historyJson (history: EpochRecord list) =
    use buffer = new IO.MemoryStream()
    (use writer = new Utf8JsonWriter(buffer)
     writer.WriteStartArray()
     for e in history do
         writer.WriteStartObject()
         writer.WriteNumber("epoch", e.Epoch)
         // Utf8JsonWriter writes the shortest form that reads back to the same double.
         writer.WriteNumber("trainReconstruction", e.TrainReconstruction)
         writer.WriteNumber("trainKl", e.TrainKl)
         writer.WriteNumber("validationReconstruction", e.ValidationReconstruction)
         writer.WriteNumber("validationKl", e.ValidationKl)
         writer.WriteNumber("seconds", e.Seconds)
         writer.WriteEndObject()
     writer.WriteEndArray())
    Text.Encoding.UTF8.GetString(buffer.ToArray())

let private metadata (state: TrainingState) =
    let o = state.Options
    [ "format", Format
      yield! Checkpoint.architectureMetadata state.Architecture
      "maxEpochs", string o.MaxEpochs
      "batchSize", string o.BatchSize
      "learningRate", exact o.LearningRate
      "patience", (match o.Patience with Some p -> string p | None -> "none")
      "seed", string o.Seed
      "trainCount", string state.TrainCount
      "validationCount", string state.ValidationCount
      "epoch", string state.Epoch
      "bestEpoch", string state.BestEpoch
      "bestLoss", exact state.BestLoss
      "adam.beta1", exact state.Adam.Beta1
      "adam.beta2", exact state.Adam.Beta2
      "adam.epsilon", exact state.Adam.Epsilon
      "adam.steps", string state.Adam.Steps
      "history", historyJson state.History ]

/// The state's tensors in file order.
let private tensorsOf (state: TrainingState) =
    List.zip (floatTensors @ generatorTensors) [ state.Weights; state.Best; state.Adam.FirstMoment; state.Adam.SecondMoment; state.Shuffle; state.Noise ]

/// The state as bytes.
let toBytes (state: TrainingState) : byte[] =
    let tensors = [ for name, t in tensorsOf state -> name, t.contiguous () ]
    try Array.concat [ yield Safetensors.headerOfTensors (metadata state) tensors; for _, t in tensors -> t.bytes.ToArray() ]
    finally
        for _, t in tensors do t.Dispose()

/// Saves `state` to `path` as one file, whole or not at all: written beside it, flushed to the
/// disk, then renamed over it (`Safetensors.writeTensors`), so that a process killed at any
/// moment leaves the previous state or this one.
let save (path: string) (state: TrainingState) = Safetensors.writeTensors path (metadata state) (tensorsOf state)

/// What the header says, checked: every scalar of the state and where each tensor starts.
type private Plan =
    { Architecture: Architecture
      Options: TrainingOptions
      TrainCount: int
      ValidationCount: int
      Epoch: int
      BestEpoch: int
      BestLoss: float
      Beta1: float
      Beta2: float
      Epsilon: float
      Steps: int
      History: EpochRecord list
      DType: torch.ScalarType
      /// Values per float tensor: the architecture's parameter count.
      Count: int64
      /// Where each tensor starts in the data section, by name.
      Starts: Map<string, int64> }

/// The history in `__metadata__.history`: `epochs` records numbered 1 .. epochs, every number finite.
let private readHistory (file: string) (text: string) (epochs: int) : EpochRecord list =
    let fail (location: string) problem = InvalidInput.about file $"__metadata__.history{location}: {problem}"
    use document =
        try JsonDocument.Parse(text, JsonDocumentOptions(AllowDuplicateProperties = false))
        with :? JsonException as e -> fail "" $"is not JSON ({e.Message})"
    let root = document.RootElement
    if root.ValueKind <> JsonValueKind.Array then fail "" $"must be an array, was {Safetensors.shown root}"
    if root.GetArrayLength() <> epochs then fail "" $"has {root.GetArrayLength()} epochs, the state {epochs}"
    let fields = [ "epoch"; "trainReconstruction"; "trainKl"; "validationReconstruction"; "validationKl"; "seconds" ]
    [ for i, e in Seq.indexed (root.EnumerateArray()) ->
          let at = $"[{i}]"
          if e.ValueKind <> JsonValueKind.Object then fail at $"must be an object, was {Safetensors.shown e}"
          match e.EnumerateObject() |> Seq.map _.Name |> Seq.tryFind (fun n -> not (List.contains n fields)) with
          | Some extra -> fail at $"has an unknown field {Safetensors.quoted extra}"
          | None -> ()
          let value (name: string) =
              match e.TryGetProperty name with
              | true, v -> v
              | _ -> fail $"{at}.{name}" "is missing"
          let number name =
              match value name with
              | v when v.ValueKind = JsonValueKind.Number ->
                  match v.TryGetDouble() with
                  | true, x when Double.IsFinite x -> x
                  | _ -> fail $"{at}.{name}" $"must be a finite number, was {Safetensors.shown v}"
              | v -> fail $"{at}.{name}" $"must be a number, was {Safetensors.shown v}"
          let epoch =
              match value "epoch" with
              | v when v.ValueKind = JsonValueKind.Number && (match v.TryGetInt32() with | true, n -> n = i + 1 | _ -> false) -> i + 1
              | v -> fail $"{at}.epoch" $"must be {i + 1}, was {Safetensors.shown v}"
          let seconds = number "seconds"
          if seconds < 0.0 then fail $"{at}.seconds" $"must not be negative, was {exact seconds}"
          { Epoch = epoch
            TrainReconstruction = number "trainReconstruction"
            TrainKl = number "trainKl"
            ValidationReconstruction = number "validationReconstruction"
            ValidationKl = number "validationKl"
            Seconds = seconds } ]

/// Checks every field of the header against itself, the tensors' dtypes, shapes and byte ranges
/// against the architecture and a data section of `dataLength` bytes, and that the state belongs to
/// a training of the `expected` architecture with `expectedOptions`. Nothing is
/// allocated here that the header's own length does not bound.
let private plan (file: string) (expected: Architecture) (expectedOptions: TrainingOptions) (header: ReadOnlyMemory<byte>) (dataLength: int64) : Plan =
    let fail problem = InvalidInput.about file problem
    Safetensors.readHeader file "training state" header (fun header ->
        Safetensors.checkFormat header Format
        let meta = Safetensors.meta header
        let field name problem = fail $"__metadata__.{name} {problem}"
        let whole name = Safetensors.whole header name (meta name)
        let number name =
            let text = meta name
            match Double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, x when Double.IsFinite x -> x
            | _ -> field name $"is not a finite number: {Safetensors.quoted text}"
        let architecture = Safetensors.architecture header dataLength
        let options =
            { MaxEpochs = whole "maxEpochs"
              BatchSize = whole "batchSize"
              LearningRate = number "learningRate"
              Patience = (match meta "patience" with "none" -> None | _ -> Some(whole "patience"))
              Seed =
                let text = meta "seed"
                match Int64.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
                | true, seed -> seed
                | _ -> field "seed" $"is not a whole number: {Safetensors.quoted text}" }
        match TrainingOptions.validate options with
        | Error problem -> fail $"__metadata__.{problem}"
        | Ok _ -> ()
        match TrainingState.settingsMismatch expected expectedOptions architecture options with
        | Some problem -> fail $"does not belong to this training: {problem}"
        | None -> ()
        let count name =
            let n = whole name
            if n < 1 then field name $"must be at least 1, was {n}"
            n
        let trainCount = count "trainCount"
        let validationCount = count "validationCount"
        let epoch = whole "epoch"
        if epoch < 1 || epoch > options.MaxEpochs then field "epoch" $"must be in 1..{options.MaxEpochs} (maxEpochs), was {epoch}"
        let bestEpoch = whole "bestEpoch"
        if bestEpoch < 1 || bestEpoch > epoch then field "bestEpoch" $"must be in 1..{epoch} (epoch), was {bestEpoch}"
        match options.Patience with
        | Some p when epoch - bestEpoch > p ->
            field "bestEpoch" $"is {bestEpoch}: with patience {p}, training stops before epoch {epoch}"
        | _ -> ()
        let fraction name =
            let x = number name
            if not (x > 0.0 && x < 1.0) then field name $"must be between 0 and 1, was {exact x}"
            x
        let beta1 = fraction "adam.beta1"
        let beta2 = fraction "adam.beta2"
        let epsilon = number "adam.epsilon"
        if epsilon <= 0.0 then field "adam.epsilon" $"must be positive, was {exact epsilon}"
        let steps = whole "adam.steps"
        let mostSteps = int64 epoch * int64 (batchesPerEpoch options trainCount)
        if steps < 0 || int64 steps > mostSteps then
            field "adam.steps" $"must be in 0..{mostSteps} ({epoch} epochs of {batchesPerEpoch options trainCount} batches), was {steps}"
        let history = readHistory file (meta "history") epoch
        let owner = $"a training state of {architecture}"
        Safetensors.checkNames header (Set.ofList (floatTensors @ generatorTensors)) owner
        let entries = [ for name in floatTensors @ generatorTensors -> name, Safetensors.entry header name ]
        let dtype =
            match [ for name, (d, _, _) in entries do if List.contains name floatTensors then d ] |> List.distinct with
            | [ "F32" ] -> torch.ScalarType.Float32
            | [ "F64" ] -> torch.ScalarType.Float64
            | dtypes -> fail $"""{String.Join(", ", floatTensors)} must all be F32 or all F64, found {String.Join(", ", dtypes |> List.truncate 5 |> List.map Safetensors.quoted)}"""
        let parameters = Architecture.parameterCount architecture
        let sizes =
            [ for name, (d, shape, offsets) in entries ->
                  let isFloat = List.contains name floatTensors
                  if not isFloat && d <> "U8" then fail $"tensor {name}: dtype is {Safetensors.quoted d}, a generator's state is \"U8\""
                  let expectedShape = if isFloat then [ parameters ] else [ int64 GeneratorState.Bytes ]
                  if shape <> expectedShape then fail $"tensor {name} has shape {shape}, {owner} needs {expectedShape}"
                  let bytes = if isFloat then parameters * Safetensors.floatSize dtype else int64 GeneratorState.Bytes
                  match Safetensors.start offsets bytes dataLength with
                  | Some first -> name, first, bytes
                  | None -> fail $"tensor {name} has data_offsets {offsets}, which do not hold its {bytes} bytes within the {dataLength} data bytes" ]
        Safetensors.checkTiling file sizes dataLength owner
        { Architecture = architecture
          Options = options
          TrainCount = trainCount
          ValidationCount = validationCount
          Epoch = epoch
          BestEpoch = bestEpoch
          BestLoss = number "bestLoss"
          Beta1 = beta1
          Beta2 = beta2
          Epsilon = epsilon
          Steps = steps
          History = history
          DType = dtype
          Count = parameters
          Starts = sizes |> List.map (fun (name, first, _) -> name, first) |> Map.ofList })

/// The state the plan describes, its tensors copied from `data`. Refused first, on the file's
/// bytes: non-finite weights or moments, a negative second moment (its square root is NaN), and a
/// generator state libtorch cannot take (it would end the process).
let private build (file: string) (plan: Plan) (data: ReadOnlyMemory<byte>) : TrainingState =
    let floatBytes = plan.Count * Safetensors.floatSize plan.DType
    let slice name bytes = data.Slice(int plan.Starts.[name], int bytes)
    for name in floatTensors do
        let bad = Safetensors.nonFinite plan.DType (slice name floatBytes).Span
        if bad > 0 then InvalidInput.about file $"tensor {name} holds non-finite values ({bad} of {plan.Count})"
    let negative =
        let values = (slice "adam.secondMoment" floatBytes).Span
        if plan.DType = torch.ScalarType.Float64 then
            let mutable n = 0
            for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float> values do
                if v < 0.0 then n <- n + 1
            n
        else
            let mutable n = 0
            for v in Runtime.InteropServices.MemoryMarshal.Cast<byte, float32> values do
                if v < 0.0f then n <- n + 1
            n
    if negative > 0 then InvalidInput.about file $"tensor adam.secondMoment holds negative values ({negative} of {plan.Count})"
    for name in generatorTensors do
        match GeneratorState.problem ((slice name (int64 GeneratorState.Bytes)).ToArray()) with
        | Some problem -> InvalidInput.about file $"tensor {name} {problem}"
        | None -> ()
    Engine.ensureLoaded ()
    let tensor name (dtype: torch.ScalarType) (count: int64) bytes =
        let t = torch.empty ([| count |], dtype = dtype)
        (slice name bytes).Span.CopyTo(t.bytes)
        t
    let floats name = tensor name plan.DType plan.Count floatBytes
    let generator name = tensor name torch.ScalarType.Byte (int64 GeneratorState.Bytes) (int64 GeneratorState.Bytes)
    { Architecture = plan.Architecture
      Options = plan.Options
      TrainCount = plan.TrainCount
      ValidationCount = plan.ValidationCount
      Epoch = plan.Epoch
      Weights = floats "weights"
      Best = floats "best"
      Adam =
        { LearningRate = plan.Options.LearningRate
          Beta1 = plan.Beta1
          Beta2 = plan.Beta2
          Epsilon = plan.Epsilon
          FirstMoment = floats "adam.firstMoment"
          SecondMoment = floats "adam.secondMoment"
          Steps = plan.Steps }
      Shuffle = generator "generator.shuffle"
      Noise = generator "generator.noise"
      History = plan.History
      BestEpoch = plan.BestEpoch
      BestLoss = plan.BestLoss }

/// Reads a state from bytes as `load` does; `file` only names the source in errors.
let ofBytes (file: string) (architecture: Architecture) (options: TrainingOptions) (bytes: byte[]) : TrainingState =
    Safetensors.ofBytes file bytes (plan file architecture options) (build file)

/// Loads a state saved by `save` for a training of `architecture` with `options`; the caller owns
/// its tensors (`TrainingState.dispose`). Any fault in the file (hostile, truncated, half-written)
/// raises InvalidInputException naming the file and the field at fault, before anything is
/// allocated; so does a state of another architecture or other options. Only a regular file is
/// opened, and only the header is read before the file's length is checked against it.
let load (path: string) (architecture: Architecture) (options: TrainingOptions) : TrainingState =
    Safetensors.read path "a training state" (plan path architecture options) (build path)
