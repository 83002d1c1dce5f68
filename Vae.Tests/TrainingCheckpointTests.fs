module Vae.Tests.TrainingCheckpointTests

open System
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Vae.Core
open Vae.Core.Training
open Vae.Tests.Shared

/// VAE 3-2-1: 27 values, a state of about 11 KB (most of it the two generators).
let private tinyArchitecture = architecture Vae 3 [ 2 ] 1

let private options = { TrainingOptions.defaults with MaxEpochs = 5; Patience = Some 3; Seed = 21L }

/// Doubles that a decimal form of fewer than 17 digits, or one that is not the shortest, would not
/// bring back bit for bit.
let private awkward = [ 0.1 + 0.2; 1.0 / 3.0; 5e-324; 2.2250738585072009e-308; 1.7976931348623157e308; Math.PI * 100.0; 543.21000000000004 ]

/// A state of epoch 3 made up to use every field: moments, both generators drawn from, a history
/// of awkward numbers, a best epoch that is not the last.
let private synthetic (architecture: Architecture) (dtype: torch.ScalarType) : TrainingState =
    Engine.ensureLoaded ()
    let model = Model.create 3L architecture |> Model.convert dtype
    use shuffle = new torch.Generator(21UL)
    use noise = new torch.Generator(22UL)
    use _ = torch.randperm (1280L, generator = shuffle)
    use _ = torch.randn ([| 3L |], generator = noise)
    let values = model.Parameters.Values
    let adam = Adam.create options.LearningRate model.Parameters
    adam.FirstMoment.copy_ (torch.randn_like values) |> ignore
    adam.SecondMoment.copy_ (torch.rand_like values) |> ignore
    let record i =
        { Epoch = i
          TrainReconstruction = awkward.[i % awkward.Length] * 2.0
          TrainKl = awkward.[(i + 1) % awkward.Length]
          ValidationReconstruction = awkward.[(i + 2) % awkward.Length]
          ValidationKl = awkward.[(i + 3) % awkward.Length]
          Seconds = awkward.[(i + 4) % awkward.Length] }
    { Architecture = architecture
      Options = options
      TrainCount = 1280
      ValidationCount = 500
      Epoch = 3
      Weights = values.clone ()
      Best = values.mul(torch.tensor 0.5)
      Adam = { adam with Steps = 57 }
      Shuffle = shuffle.get_state ()
      Noise = noise.get_state ()
      History = [ for i in 1..3 -> record i ]
      BestEpoch = 2
      BestLoss = 0.1 + 0.2 }

let private tiny = lazy (synthetic tinyArchitecture torch.ScalarType.Float32)

/// Every field equal; tensors element for element, numbers bit for bit.
let private expectSame (a: TrainingState) (b: TrainingState) =
    Expect.equal b.Architecture a.Architecture "architecture"
    Expect.equal b.Options a.Options "options"
    Expect.equal (b.TrainCount, b.ValidationCount, b.Epoch, b.BestEpoch) (a.TrainCount, a.ValidationCount, a.Epoch, a.BestEpoch) "counts and epochs"
    Expect.equal (BitConverter.DoubleToInt64Bits b.BestLoss) (BitConverter.DoubleToInt64Bits a.BestLoss) "best loss, bit for bit"
    Expect.equal b.History a.History "history"
    let bits (h: EpochRecord list) =
        h |> List.collect (fun e -> [ e.TrainReconstruction; e.TrainKl; e.ValidationReconstruction; e.ValidationKl; e.Seconds ] |> List.map BitConverter.DoubleToInt64Bits)
    Expect.equal (bits b.History) (bits a.History) "history, bit for bit"
    Expect.equal (b.Adam.LearningRate, b.Adam.Beta1, b.Adam.Beta2, b.Adam.Epsilon, b.Adam.Steps) (a.Adam.LearningRate, a.Adam.Beta1, a.Adam.Beta2, a.Adam.Epsilon, a.Adam.Steps) "Adam's settings and steps"
    for name, x, y in
        [ "weights", a.Weights, b.Weights; "best", a.Best, b.Best; "first moment", a.Adam.FirstMoment, b.Adam.FirstMoment
          "second moment", a.Adam.SecondMoment, b.Adam.SecondMoment; "shuffle", a.Shuffle, b.Shuffle; "noise", a.Noise, b.Noise ] do
        Expect.equal y.dtype x.dtype $"{name}: dtype"
        Expect.isTrue (same x y) $"{name}: every element"

let private header (bytes: byte[]) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    Encoding.UTF8.GetString(bytes, 8, length)

/// Replaces `text` in the state's JSON header (the header length follows).
let private editHeader (bytes: byte[]) (text: string) (replacement: string) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    let h = header bytes
    if not (h.Contains text) then failwith $"the header does not contain {text}"
    let edited = Encoding.UTF8.GetBytes(h.Replace(text, replacement))
    Array.concat [ BitConverter.GetBytes(uint64 edited.Length); edited; bytes.[8 + length ..] ]

/// Replaces the metadata string `key` by `edit` of it (the header length follows).
let private editMetadata (bytes: byte[]) (key: string) (edit: string -> string) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    let root = JsonNode.Parse(header bytes).AsObject()
    let metadata = root["__metadata__"].AsObject()
    metadata[key] <- JsonValue.Create(edit (metadata[key].GetValue<string>()))
    let edited = Encoding.UTF8.GetBytes(root.ToJsonString())
    Array.concat [ BitConverter.GetBytes(uint64 edited.Length); edited; bytes.[8 + length ..] ]

/// The history's JSON with the first `"name":value,` (or `"name":value}`) replaced by `replacement`.
let private firstField (name: string) (replacement: string) (history: string) =
    Text.RegularExpressions.Regex($"\"{name}\":[^,}}]*[,}}]").Replace(history, replacement, 1)

/// The state's bytes with the bytes of tensor `name` from `at` on replaced by `value`.
let private editData (bytes: byte[]) (name: string) (at: int) (value: byte[]) =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    use document = JsonDocument.Parse(header bytes)
    let first = document.RootElement.GetProperty(name).GetProperty("data_offsets").[0].GetInt32()
    let copy = Array.copy bytes
    value.CopyTo(copy, 8 + length + first + at)
    copy

let private problem bytes =
    messageOf<InvalidInputException> (fun () -> TrainingCheckpoint.ofBytes "s.safetensors" tinyArchitecture options bytes |> TrainingState.dispose)

/// States built to break the reader, each named and with the problem it must be refused for (the
/// message after "file: ").
let private hostileStates =
    lazy
        (let bytes = TrainingCheckpoint.toBytes tiny.Value
         let history = editMetadata bytes "history"
         [ "another format", editHeader bytes "vae-core/training-state/1" "vae-core/1", "__metadata__.format is \"vae-core/1\", expected \"vae-core/training-state/1\""
           "a model checkpoint", Checkpoint.toBytes (Model.create 1L tinyArchitecture), "__metadata__.format is \"vae-core/1\", expected \"vae-core/training-state/1\""
           "no epoch", editHeader bytes "\"epoch\":\"3\"," "", "__metadata__.epoch is missing: not a training state of this library"
           "epoch 0", editHeader bytes "\"epoch\":\"3\"" "\"epoch\":\"0\"", "__metadata__.epoch must be in 1..5 (maxEpochs), was 0"
           "epoch 6 of 5", editHeader bytes "\"epoch\":\"3\"" "\"epoch\":\"6\"", "__metadata__.epoch must be in 1..5 (maxEpochs), was 6"
           "epoch as a number", editHeader bytes "\"epoch\":\"3\"" "\"epoch\":3", "__metadata__.epoch must be a string, was 3"
           "best epoch after the epoch", editHeader bytes "\"bestEpoch\":\"2\"" "\"bestEpoch\":\"4\"", "__metadata__.bestEpoch must be in 1..3 (epoch), was 4"
           "patience run out",
           editHeader (editHeader bytes "\"patience\":\"3\"" "\"patience\":\"1\"") "\"bestEpoch\":\"2\"" "\"bestEpoch\":\"1\"",
           "does not belong to this training: its patience is 1, this training's is 3"
           "best loss NaN", editHeader bytes "\"bestLoss\":\"0.30000000000000004\"" "\"bestLoss\":\"NaN\"", "__metadata__.bestLoss is not a finite number: \"NaN\""
           "a learning rate in words", editHeader bytes "\"learningRate\":\"0.001\"" "\"learningRate\":\"fast\"", "__metadata__.learningRate is not a finite number: \"fast\""
           "batch size 0", editHeader bytes "\"batchSize\":\"64\"" "\"batchSize\":\"0\"", "__metadata__.batchSize: must be at least 1, was 0"
           "no training images", editHeader bytes "\"trainCount\":\"1280\"" "\"trainCount\":\"0\"", "__metadata__.trainCount must be at least 1, was 0"
           "more Adam steps than batches", editHeader bytes "\"adam.steps\":\"57\"" "\"adam.steps\":\"61\"", "__metadata__.adam.steps must be in 0..60 (3 epochs of 20 batches), was 61"
           "β₁ of 1", editHeader bytes "\"adam.beta1\":\"0.9\"" "\"adam.beta1\":\"1\"", "__metadata__.adam.beta1 must be between 0 and 1, was 1"
           "ε of 0", editHeader bytes "\"adam.epsilon\":\"1E-08\"" "\"adam.epsilon\":\"0\"", "__metadata__.adam.epsilon must be positive, was 0"
           "a history that is not JSON", history (fun h -> "{" + h), "__metadata__.history: is not JSON ('[' is an invalid start of a property name. Expected a '\"'. LineNumber: 0 | BytePositionInLine: 1.)"
           "a history that is an object", history (fun _ -> "{}"), "__metadata__.history: must be an array, was {}"
           "a history of four epochs", history (fun h -> h.Replace("[{", "[{},{")), "__metadata__.history: has 4 epochs, the state 3"
           "an epoch record that is a number", history (fun h -> "[1," + h.Substring(h.IndexOf("},{") + 2)), "__metadata__.history[0]: must be an object, was 1"
           "an epoch numbered 7", history (fun h -> h.Replace("\"epoch\":1,", "\"epoch\":7,")), "__metadata__.history[0].epoch: must be 1, was 7"
           "an unknown field", history (fun h -> h.Replace("\"epoch\":1,", "\"epoch\":1,\"x\":1,")), "__metadata__.history[0]: has an unknown field \"x\""
           "a missing field", history (fun h -> firstField "trainKl" "" h), "__metadata__.history[0].trainKl: is missing"
           "a KL as a string", history (firstField "trainKl" "\"trainKl\":\"1\","), "__metadata__.history[0].trainKl: must be a number, was \"1\""
           "a loss of 1e999", history (firstField "validationKl" "\"validationKl\":1e999,"), "__metadata__.history[0].validationKl: must be a finite number, was 1e999"
           "negative seconds", history (firstField "seconds" "\"seconds\":-1}"), "__metadata__.history[0].seconds: must not be negative, was -1"
           "another architecture", editHeader bytes "\"latent\":\"1\"" "\"latent\":\"2\"", "does not belong to this training: it is of VAE 3-2-2, this training's model is VAE 3-2-1"
           "an extra tensor",
           editHeader bytes "\"weights\":{" "\"extra\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"weights\":{",
           "tensor \"extra\" does not belong to a training state of VAE 3-2-1"
           "a generator state as F32",
           editHeader bytes "\"generator.noise\":{\"dtype\":\"U8\"" "\"generator.noise\":{\"dtype\":\"F32\"",
           "tensor generator.noise: dtype is \"F32\", a generator's state is \"U8\""
           "weights of F64 beside moments of F32",
           editHeader bytes "\"weights\":{\"dtype\":\"F32\"" "\"weights\":{\"dtype\":\"F64\"",
           "weights, best, adam.firstMoment, adam.secondMoment must all be F32 or all F64, found \"F64\", \"F32\""
           "a wrong shape", editHeader bytes "\"shape\":[27]" "\"shape\":[28]", "tensor weights has shape [28], a training state of VAE 3-2-1 needs [27]"
           "NaN weights", editData bytes "best" 8 (BitConverter.GetBytes nanf), "tensor best holds non-finite values (1 of 27)"
           "a negative second moment", editData bytes "adam.secondMoment" 4 (BitConverter.GetBytes -1.0f), "tensor adam.secondMoment holds negative values (1 of 27)"
           "a generator past its state", editData bytes "generator.shuffle" 16 (BitConverter.GetBytes 100000UL), "tensor generator.shuffle has next = 100000, more than 624"
           "a generator not seeded", editData bytes "generator.noise" 12 (BitConverter.GetBytes 0), "tensor generator.noise has seeded = 0, not 1"
           "data beyond the tensors", Array.append bytes (Array.zeroCreate 8), $"the data section is {4 * 4 * 27 + 2 * 5056 + 8} bytes, a training state of VAE 3-2-1 needs {4 * 4 * 27 + 2 * 5056}" ])

/// The tiny state with a few bytes changed, cut short, or with a piece of its header replaced by a
/// JSON fragment: every fault must be refused with one line, and a state that loads must be one a
/// generator takes (a state libtorch refuses ends the process).
let private mutated =
    let bytes = TrainingCheckpoint.toBytes tiny.Value
    let fragments = [ "1"; "-1"; "0"; "1e9"; "\"x\""; "\"\""; "[]"; "{}"; "null"; "[1,2]"; ","; ":"; "\"U8\""; "\"F64\""; "\\\"epoch\\\":2"; "\"none\""; "\"999\"" ]
    safetensorsMutations bytes fragments (fun headerLength ->
        Gen.frequency [ 2, Gen.choose (0, 8 + headerLength - 1); 2, Gen.choose (8 + headerLength, bytes.Length - 1) ])

[<Tests>]
let tests =
    testSequenced <| testList "TrainingCheckpoint" [
        test "a saved and loaded state has the same tensors and metadata, numbers bit for bit" {
            let path = Path.Combine(temporaryDirectory (), "state.safetensors")
            TrainingCheckpoint.save path tiny.Value
            let loaded = TrainingCheckpoint.load path tinyArchitecture options
            expectSame tiny.Value loaded
            TrainingState.dispose loaded
            let wide = synthetic (Architecture.create Autoencoder [ 30 ] 5) torch.ScalarType.Float64
            let back = TrainingCheckpoint.ofBytes "f64" wide.Architecture options (TrainingCheckpoint.toBytes wide)
            expectSame wide back
            TrainingState.dispose back
            TrainingState.dispose wide
        }

        test "the file is safetensors: metadata of strings, six tensors tiling the data after an 8-byte aligned header" {
            let bytes = TrainingCheckpoint.toBytes tiny.Value
            let length = int (BitConverter.ToUInt64(bytes, 0))
            Expect.equal (length % 8) 0 "aligned"
            use document = JsonDocument.Parse(header bytes)
            let root = document.RootElement
            let metadata = root.GetProperty "__metadata__"
            Expect.isTrue (metadata.EnumerateObject() |> Seq.forall (fun p -> p.Value.ValueKind = JsonValueKind.String)) "every metadata value a string"
            Expect.equal (metadata.GetProperty("format").GetString()) "vae-core/training-state/1" "format"
            Expect.equal (metadata.GetProperty("hidden").GetString()) "2" "architecture as in a model checkpoint"
            use history = JsonDocument.Parse(metadata.GetProperty("history").GetString())
            Expect.equal (history.RootElement.[0].GetProperty("trainKl").GetDouble()) tiny.Value.History.Head.TrainKl "history as JSON"
            let names = root.EnumerateObject() |> Seq.map _.Name |> Seq.filter ((<>) "__metadata__") |> List.ofSeq
            Expect.equal names [ "weights"; "best"; "adam.firstMoment"; "adam.secondMoment"; "generator.shuffle"; "generator.noise" ] "tensors"
            Expect.equal (bytes.Length - 8 - length) (4 * 4 * 27 + 2 * 5056) "every value once, no holes"
        }

        test "a save replaces an existing state whole, and a leftover temporary file is not a state" {
            let dir = temporaryDirectory ()
            let path = Path.Combine(dir, "state.safetensors")
            TrainingCheckpoint.save path tiny.Value
            // What a process killed while writing leaves: its temporary file, half written.
            let next = { tiny.Value with Epoch = 4; History = tiny.Value.History @ [ { tiny.Value.History.Head with Epoch = 4 } ] }
            let nextBytes = TrainingCheckpoint.toBytes next
            File.WriteAllBytes($"{path}.12345.tmp", nextBytes.[.. nextBytes.Length / 2])
            let loaded = TrainingCheckpoint.load path tinyArchitecture options
            Expect.equal loaded.Epoch 3 "the state saved before"
            TrainingState.dispose loaded
            TrainingCheckpoint.save path next
            let replaced = TrainingCheckpoint.load path tinyArchitecture options
            expectSame next replaced
            TrainingState.dispose replaced
            Expect.equal (File.ReadAllBytes path) nextBytes "the new state, byte for byte"
            Expect.isFalse (File.Exists $"{path}.{Environment.ProcessId}.tmp") "no temporary file of this process left"
            Directory.Delete(dir, true)
        }

        test "a write that fails midway leaves the previous file and no temporary file" {
            let dir = temporaryDirectory ()
            let path = Path.Combine(dir, "state.safetensors")
            TrainingCheckpoint.save path tiny.Value
            let before = File.ReadAllBytes path
            Expect.throwsT<IOException> (fun () ->
                Safetensors.writeAtomically path (fun stream ->
                    stream.Write(before, 0, 100)
                    raise (IOException "disk full"))) "the failure reaches the caller"
            Expect.equal (File.ReadAllBytes path) before "the previous state, whole"
            Expect.isFalse (File.Exists $"{path}.{Environment.ProcessId}.tmp") "no temporary file left"
            Directory.Delete(dir, true)
        }

        test "each hostile state is refused with one line naming the field" {
            let wrong =
                [ for name, bytes, expected in hostileStates.Value do
                      let actual = problem bytes
                      if actual <> $"s.safetensors: {expected}" then $"{name}: {actual}" ]
            Expect.isEmpty wrong "every state refused for its own fault"
        }

        test "a state cut short anywhere is refused with one line" {
            let bytes = TrainingCheckpoint.toBytes tiny.Value
            for n in [ 0; 7; 8; 100; 8 + int (BitConverter.ToUInt64(bytes, 0)); bytes.Length - 5056; bytes.Length - 1 ] do
                let m = problem bytes.[.. n - 1]
                Expect.isFalse (m.Contains '\n') $"cut at {n}: one line"
                Expect.stringStarts m "s.safetensors: " $"cut at {n}: names the file"
        }

        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 300 } "any mutation of a state loads, and its generators take it, or it raises InvalidInputException with a one-line message"
            (Prop.forAll mutated (fun bytes ->
                try
                    let state = TrainingCheckpoint.ofBytes "s.safetensors" tinyArchitecture options bytes
                    use generator = new torch.Generator(1UL)
                    GeneratorState.set generator state.Shuffle
                    GeneratorState.set generator state.Noise
                    TrainingState.dispose state
                    true
                with :? InvalidInputException as e -> not (e.Message.Contains '\n')))

        test "a state of other training options is refused, naming the option" {
            let bytes = TrainingCheckpoint.toBytes tiny.Value
            let refused o = messageOf<InvalidInputException> (fun () -> TrainingCheckpoint.ofBytes "s.safetensors" tinyArchitecture o bytes |> TrainingState.dispose)
            Expect.equal (refused { options with Seed = 22L }) "s.safetensors: does not belong to this training: its seed is 21, this training's is 22" "seed"
            Expect.equal (refused { options with LearningRate = 2e-3 }) "s.safetensors: does not belong to this training: its learningRate is 0.001, this training's is 0.002" "rate"
            Expect.equal (refused { options with MaxEpochs = 6 }) "s.safetensors: does not belong to this training: its maxEpochs is 5, this training's is 6" "epochs"
            Expect.equal (refused { options with BatchSize = 32 }) "s.safetensors: does not belong to this training: its batchSize is 64, this training's is 32" "batch"
            let other = messageOf<InvalidInputException> (fun () -> TrainingCheckpoint.ofBytes "s.safetensors" Architecture.baseline options bytes |> TrainingState.dispose)
            Expect.equal other "s.safetensors: does not belong to this training: it is of VAE 3-2-1, this training's model is VAE 784-400-20" "architecture"
        }

        test "load refuses a missing file and a path that is not a regular file" {
            let loadProblem path = messageOf<InvalidInputException> (fun () -> TrainingCheckpoint.load path tinyArchitecture options |> TrainingState.dispose)
            Expect.stringContains (loadProblem "/nonexistent/state.safetensors") "/nonexistent/state.safetensors: " "missing"
            Expect.equal (loadProblem "/dev/zero") "/dev/zero: is not a regular file (a character device)" "a device"
        }
    ]
