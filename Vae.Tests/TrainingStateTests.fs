module Vae.Tests.TrainingStateTests

open System
open System.IO
open System.Threading
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Training
open Vae.Tests.Shared

/// 1,280 training images (20 batches an epoch) and 500 for validation: an epoch of the five-layer
/// model in a fraction of a second.
let private subset () =
    let train, validation = trainValidation.Value
    Data.take 1280 train, Data.take 500 validation

/// The history without its timings.
/// The baseline trained for `epochs` epochs on `subset ()` with `seed` (its model's seed too), and a
/// copy of its state after epoch 1 (the caller disposes it): (train, validation, options, result, state).
let private trainedKeepingEpochOne (epochs: int) (seed: int64) =
    let train, validation = subset ()
    let options = { TrainingOptions.defaults with MaxEpochs = epochs; Patience = None; Seed = seed }
    let mutable kept = None
    let hooks = { TrainingHooks.none with OnEpochEnd = fun s -> if s.Epoch = 1 then kept <- Some(TrainingState.copy s) }
    let whole = Training.train hooks options train validation (Model.create seed Architecture.baseline)
    train, validation, options, whole, kept.Value

let private untimed (history: EpochRecord list) = history |> List.map (fun e -> { e with Seconds = 0.0 })

let private stateFile (dir: string) (epoch: int) = Path.Combine(dir, $"state-{epoch}.safetensors")

/// What ends the process in `stoppedAfter`.
exception private Killed

/// Trains until the state of epoch `k` has been saved to `dir`, then ends the training there, as a
/// kill -9 right after the save would; returns the state file.
let private stoppedAfter (k: int) (dir: string) options architecture (train: Data.Split) validation =
    let hooks =
        { TrainingHooks.none with
            OnEpochEnd =
                fun state ->
                    TrainingCheckpoint.save (stateFile dir state.Epoch) state
                    if state.Epoch = k then raise Killed }
    try
        Training.train hooks options train validation (Model.create options.Seed architecture) |> ignore
        failwith $"training ended before epoch {k}"
    with Killed -> stateFile dir k

/// One training that never stops against trainings stopped after epochs `ks` and resumed from
/// their saved states, each into a fresh model (as a new process would).
let private resumesExactly (architecture: Architecture) (options: TrainingOptions) (ks: int list -> int list) (check: TrainingResult -> unit) =
    let train, validation = subset ()
    let whole = Training.train TrainingHooks.none options train validation (Model.create options.Seed architecture)
    check whole
    let epochs = whole.History |> List.map _.Epoch
    for k in ks epochs do
        let dir = temporaryDirectory ()
        let file = stoppedAfter k dir options architecture train validation
        let state = TrainingCheckpoint.load file architecture options
        let reported = Collections.Generic.List<int>()
        let hooks = { TrainingHooks.none with OnEpoch = fun e -> reported.Add e.Epoch }
        // A model of another seed: everything it holds must come from the state.
        let resumed = Training.trainFrom hooks options (Some state) train validation (Model.create 99L architecture)
        let what = $"{architecture}, stopped after epoch {k} of {epochs.Length}"
        Expect.equal (untimed resumed.History) (untimed whole.History) $"{what}: the same history, timings aside"
        Expect.equal (List.truncate k resumed.History) state.History $"{what}: the epochs before the stop as they were recorded"
        Expect.equal (List.ofSeq reported) [ k + 1 .. List.last epochs ] $"{what}: only the epochs after the stop are trained"
        Expect.equal resumed.BestEpoch whole.BestEpoch $"{what}: best epoch"
        Expect.equal resumed.DivergedAt whole.DivergedAt $"{what}: divergence"
        Expect.isTrue (same resumed.Model.Parameters.Values whole.Model.Parameters.Values) $"{what}: bit-identical weights"
        TrainingState.dispose state
        Directory.Delete(dir, true)

[<Tests>]
let tests =
    testSequenced <| testList "TrainingState" [
        test "a training stopped after epoch k and resumed from its saved state gives the same history (timings aside), best epoch and bit-identical weights as one that never stopped" {
            // The baseline VAE at a learning rate this high: its validation loss rises after epoch 6,
            // patience 1 stops training at epoch 7 of 10, and the best epoch is not the last.
            let early = { TrainingOptions.defaults with MaxEpochs = 10; Patience = Some 1; LearningRate = 0.05; Seed = 3L }
            resumesExactly Architecture.baseline early (fun epochs -> [ 1; epochs.Length / 2; epochs.Length ]) (fun whole ->
                Expect.isLessThan whole.History.Length early.MaxEpochs "early stopping ended the training"
                Expect.isLessThan whole.BestEpoch whole.History.Length "the best epoch is not the last: restoring it matters")
            let plain = { TrainingOptions.defaults with MaxEpochs = 4; Patience = None; Seed = 4L }
            // The five-layer autoencoder, every epoch.
            resumesExactly (Architecture.create Autoencoder [ 400; 200; 100 ] 20) plain (fun _ -> [ 1; 2; 4 ]) (fun whole ->
                Expect.hasLength whole.History 4 "every epoch")
        }

        test "a state taken in memory (TrainingState.copy) resumes the same way, and trainFrom leaves it as it was" {
            let train, validation, options, whole, state = trainedKeepingEpochOne 3 6L
            let before = TrainingState.copy state
            let resumed = Training.trainFrom TrainingHooks.none options (Some state) train validation (Model.create 6L Architecture.baseline)
            Expect.isTrue (same resumed.Model.Parameters.Values whole.Model.Parameters.Values) "bit-identical weights"
            for name, a, b in
                [ "weights", state.Weights, before.Weights; "best", state.Best, before.Best; "m", state.Adam.FirstMoment, before.Adam.FirstMoment
                  "v", state.Adam.SecondMoment, before.Adam.SecondMoment; "shuffle", state.Shuffle, before.Shuffle; "noise", state.Noise, before.Noise ] do
                Expect.isTrue (same a b) $"the state's {name} is unchanged"
            TrainingState.dispose state
            TrainingState.dispose before
        }

        test "a resumed training differs if a generator's state is not restored (the test above can fail)" {
            let train, validation, options, whole, state = trainedKeepingEpochOne 2 7L
            // The shuffle generator as it was at the start instead of after epoch 1.
            use fresh = new torch.Generator(uint64 options.Seed)
            use start = fresh.get_state ()
            let wrong = { state with Shuffle = start }
            let resumed = Training.trainFrom TrainingHooks.none options (Some wrong) train validation (Model.create 7L Architecture.baseline)
            Expect.isFalse (same resumed.Model.Parameters.Values whole.Model.Parameters.Values) "other weights"
            Expect.notEqual (untimed resumed.History) (untimed whole.History) "another history"
            TrainingState.dispose state
        }

        test "no tensor is left behind per epoch by the state hook, saving or not, resumed or not" {
            let train, validation = subset ()
            let options = { TrainingOptions.defaults with MaxEpochs = 5; Patience = None; Seed = 8L }
            let dir = temporaryDirectory ()
            let live = Collections.Generic.List<int64>()
            let hooks =
                { TrainingHooks.none with
                    OnEpochEnd =
                        fun state ->
                            TrainingCheckpoint.save (stateFile dir state.Epoch) state
                            live.Add DisposeScopeManager.Statistics.ThreadTotalLiveCount }
            Training.train hooks options (Data.take 320 train) validation (Model.create 8L Architecture.baseline) |> ignore
            Expect.hasLength live 5 "a state after each epoch"
            Expect.equal live.[4] live.[1] $"live tensors after epoch 5 and after epoch 2 (all: {List.ofSeq live})"
            let state = TrainingCheckpoint.load (stateFile dir 2) Architecture.baseline options
            live.Clear()
            Training.trainFrom hooks options (Some state) (Data.take 320 train) validation (Model.create 8L Architecture.baseline) |> ignore
            Expect.hasLength live 3 "epochs 3 to 5"
            Expect.equal live.[2] live.[0] $"resumed: live tensors after epoch 5 and after epoch 3 (all: {List.ofSeq live})"
            TrainingState.dispose state
            Directory.Delete(dir, true)
        }

        test "OnEpochEnd comes after OnEpoch with the history so far, and not for an epoch that diverged" {
            let train, validation = subset ()
            let events = Collections.Generic.List<string>()
            let hooks =
                { TrainingHooks.none with
                    OnEpoch = fun e -> events.Add $"epoch {e.Epoch}"
                    OnEpochEnd = fun s -> events.Add $"state {s.Epoch}: {s.History.Length} records, {s.Adam.Steps} steps" }
            let options = { TrainingOptions.defaults with MaxEpochs = 2; Patience = None; Seed = 9L }
            Training.train hooks options (Data.take 320 train) validation (Model.create 9L Architecture.baseline) |> ignore
            Expect.equal (List.ofSeq events) [ "epoch 1"; "state 1: 1 records, 5 steps"; "epoch 2"; "state 2: 2 records, 10 steps" ] "in order"
            events.Clear()
            let diverged = Training.train hooks { options with LearningRate = 1e6 } (Data.take 320 train) validation (Model.create 9L Architecture.baseline)
            Expect.equal diverged.DivergedAt (Some 1) "diverged in epoch 1"
            Expect.equal (List.ofSeq events) [ "epoch 1" ] "no state for the diverged epoch"
        }

        test "OnEngine.trainFrom resumes on the engine's thread from a state that OnEngine.loadTrainingState loaded" {
            let data = { dataset.Value with Train = Data.take 1500 dataset.Value.Train }
            let options = { TrainingOptions.defaults with MaxEpochs = 2; Patience = None; Seed = 12L }
            let dir = temporaryDirectory ()
            let hooks = { TrainingHooks.none with OnEpochEnd = fun s -> TrainingCheckpoint.save (stateFile dir s.Epoch) s }
            let whole = OnEngine.train hooks options 42L 300 data (OnEngine.createModel 12L Architecture.baseline)
            let state = OnEngine.loadTrainingState (stateFile dir 1) Architecture.baseline options
            let resumed = OnEngine.trainFrom TrainingHooks.none options state 42L 300 data (OnEngine.createModel 12L Architecture.baseline)
            Expect.equal (untimed resumed.History) (untimed whole.History) "the same history"
            Expect.isTrue (same resumed.Model.Parameters.Values whole.Model.Parameters.Values) "bit-identical weights"
            TrainingState.dispose state
            Directory.Delete(dir, true)
        }

        test "trainFrom refuses a state of another training, naming what differs" {
            let train, validation = subset ()
            let options = { TrainingOptions.defaults with MaxEpochs = 2; Patience = None; Seed = 10L }
            let mutable kept = None
            let hooks = { TrainingHooks.none with OnEpochEnd = fun s -> if s.Epoch = 1 then kept <- Some(TrainingState.copy s) }
            Training.train hooks options (Data.take 320 train) validation (Model.create 10L Architecture.baseline) |> ignore
            let state = kept.Value
            let refused options' (train': Data.Split) architecture =
                messageOf<InvalidInputException> (fun () ->
                    Training.trainFrom TrainingHooks.none options' (Some state) train' validation (Model.create 10L architecture) |> ignore)
            Expect.equal (refused { options with Seed = 11L } (Data.take 320 train) Architecture.baseline)
                "training state (epoch 1): does not belong to this training: its seed is 10, this training's is 11" "seed"
            Expect.equal (refused options (Data.take 320 train) Architecture.fiveLayer)
                "training state (epoch 1): does not belong to this training: it is of VAE 784-400-20, this training's model is VAE 784-400-200-100-20" "architecture"
            Expect.equal (refused options (Data.take 640 train) Architecture.baseline)
                "training state (epoch 1): does not belong to this training: it trained on 320 images, this training has 640" "split"
            Expect.equal (refused { options with Patience = Some 2 } (Data.take 320 train) Architecture.baseline)
                "training state (epoch 1): does not belong to this training: its patience is none, this training's is 2" "patience"
            TrainingState.dispose state
        }
    ]

[<Tests>]
let generatorTests =
    testList "GeneratorState" [
        test "libtorch's generator state is laid out as GeneratorState reads it: 5,056 bytes, the seed first, every check passed" {
            Engine.ensureLoaded ()
            use generator = new torch.Generator(123456789UL)
            use drawn = torch.randn ([| 1001L |], generator = generator)
            use one = torch.randn ([| 1L |], dtype = torch.ScalarType.Float64, generator = generator)
            use state = generator.get_state ()
            let bytes = state.bytes.ToArray()
            Expect.equal bytes.Length GeneratorState.Bytes "length"
            Expect.equal (GeneratorState.seed bytes) 123456789UL "the seed at offset 0"
            Expect.equal (GeneratorState.problem bytes) None "passes the checks"
        }

        test "a generator given another's state draws the same numbers" {
            use a = new torch.Generator(5UL)
            use _ = torch.rand ([| 700L |], generator = a)
            use state = GeneratorState.get a
            use b = new torch.Generator(77UL)
            GeneratorState.set b state
            use x = torch.randn ([| 50L |], generator = a)
            use y = torch.randn ([| 50L |], generator = b)
            Expect.isTrue (same x y) "same draws"
        }

        test "each broken generator state is refused before libtorch sees it (libtorch would end the process)" {
            use generator = new torch.Generator(5UL)
            use state = generator.get_state ()
            let good = state.bytes.ToArray()
            let edited (at: int) (value: byte[]) =
                let copy = Array.copy good
                value.CopyTo(copy, at)
                copy
            let cases =
                [ "short", good.[.. 99], "is 100 bytes, a generator's state is 5056"
                  "left 0", edited 8 (BitConverter.GetBytes 0), "has left = 0, outside 1..624"
                  "left 625", edited 8 (BitConverter.GetBytes 625), "has left = 625, outside 1..624"
                  "next 625", edited 16 (BitConverter.GetBytes 625UL), "has next = 625, more than 624"
                  "next 2^32 + 1", edited 16 (BitConverter.GetBytes 4294967297UL), "has next = 4294967297, more than 624"
                  "not seeded", edited 12 (BitConverter.GetBytes 0), "has seeded = 0, not 1"
                  "a wide word", edited (24 + 8 * 600) (BitConverter.GetBytes 4294967296UL), "has state word 600 = 4294967296, more than 32 bits"
                  "normal flag 2", edited 5040 (BitConverter.GetBytes 2), "has normal_is_valid = 2, not 0 or 1"
                  "cached NaN", Array.concat [ (edited 5040 (BitConverter.GetBytes 1)).[.. 5031]; BitConverter.GetBytes nan; (edited 5040 (BitConverter.GetBytes 1)).[5040 ..] ],
                  "has a cached normal sample that is not finite"
                  "float flag 2", edited 5052 [| 2uy |], "has is_next_float_normal_sample_valid = 2, not 0 or 1"
                  "cached float infinity", edited 5048 (Array.append (BitConverter.GetBytes infinityf) [| 1uy |]), "has a cached float normal sample that is not finite" ]
            for name, bytes, expected in cases do
                Expect.equal (GeneratorState.problem bytes) (Some expected) name
                if bytes.Length = GeneratorState.Bytes then
                    use t = torch.tensor (bytes, dtype = torch.ScalarType.Byte)
                    let m = messageOf<ArgumentException> (fun () -> GeneratorState.set generator t)
                    Expect.stringContains m expected $"{name}: set refuses it"
        }
    ]
