/// Models as compositions of layers: the autograd path on convolutional models and β, against
/// finite differences and the hand-written MLP gradient; a conv VAE on real data; its layout and
/// checkpoint.
module Vae.Tests.CompositionTests

open System
open System.IO
open System.Text
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Layers
open Vae.Tests.Shared

let private float64 = torch.ScalarType.Float64

let private design kind conv hidden latent beta = { Kind = kind; Conv = conv; Hidden = hidden; Latent = latent; Beta = beta }

/// The beyond study's conv VAE: conv [32; 64], hidden [256], latent 20.
let private convVae beta = Architecture.ofDesign (28, 28) (design Vae [ 32; 64 ] [ 256 ] 20 beta)

/// `count` random images of `pixels` values, with exact zeros as Fashion-MNIST's background has.
let private images (pixels: int64) (count: int64) (dtype: torch.ScalarType) =
    use generator = new torch.Generator(11UL)
    let x = torch.rand ([| count; pixels |], dtype = dtype, generator = generator)
    x.masked_fill_(x.lt ((0.3).ToScalar()), (0.0).ToScalar()) |> ignore
    x

/// Summed reconstruction + β·KL of `model` on `x`, z's noise from seed 5, without a graph.
let private objectiveOf (model: Model) (x: torch.Tensor) =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    use generator = new torch.Generator(5UL)
    let t = Losses.terms generator model x
    (t.Reconstruction.sum() + t.Kl.sum() * model.Architecture.Beta).to_type(float64).item<float>()

/// The gradient of `objectiveOf` by central differences, one parameter at a time.
let private finiteDifferences (model: Model) (x: torch.Tensor) =
    let values = model.Parameters.Values
    let h = 1e-6
    Array.init (int values.shape.[0]) (fun i ->
        use _ = torch.no_grad ()
        use slot = values.narrow(0L, int64 i, 1L)
        let original = slot.item<float>()
        slot.fill_((original + h).ToScalar()) |> ignore
        let up = objectiveOf model x
        slot.fill_((original - h).ToScalar()) |> ignore
        let down = objectiveOf model x
        slot.fill_(original.ToScalar()) |> ignore
        (up - down) / (2.0 * h))

/// Every slot's share of a flat gradient: (name, largest absolute value).
let private bySlot (model: Model) (gradient: float[]) =
    model.Parameters.Layout
    |> List.mapFold (fun offset slot -> (slot.Name, gradient.[offset .. offset + int (elements slot) - 1] |> Array.map abs |> Array.max), offset + int (elements slot)) 0
    |> fst

/// Mean loss per image (reconstruction + β·KL) of `steps` Adam steps on consecutive batches of 64
/// of `train`, each batch's gradient from `gradient`.
let private trainSteps (gradient: torch.Generator -> Model -> torch.Tensor -> Gradients.BatchLoss) (steps: int) (model: Model) (train: Data.Split) =
    use noise = new torch.Generator(7UL)
    let mutable adam = Adam.create 1e-3 model.Parameters
    let losses =
        [ for b in 0 .. steps - 1 ->
              use scope = torch.NewDisposeScope()
              let x = train.Images.narrow(0L, int64 (b * 64), 64L)
              let loss = gradient noise model x
              adam <- Adam.step adam model.Parameters
              (loss.Reconstruction + model.Architecture.Beta * loss.Kl) / 64.0 ]
    adam.FirstMoment.Dispose()
    adam.SecondMoment.Dispose()
    losses

[<Tests>]
let tests =
    testList "Composition" [
        test "autograd's gradient of a conv VAE (β = 1 and 4) and a conv autoencoder is the finite differences' in float64" {
            for kind, beta in [ Vae, 1.0; Vae, 4.0; Autoencoder, 1.0 ] do
                // 8 × 8 images: 1 × 8 × 8 → 3 × 4 × 4 → 4 × 2 × 2, flattened to 16, then 5, then the head.
                let architecture = Architecture.ofDesign (8, 8) (design kind [ 3; 4 ] [ 5 ] 2 beta)
                let what = string architecture
                let model = Model.create 3L architecture |> Model.convert float64
                use x = images 64L 3L float64
                // Whatever the buffer held must not survive.
                model.Parameters.Gradients.fill_(nan.ToScalar()) |> ignore
                use generator = new torch.Generator(5UL)
                let loss = Gradients.autograd generator model x
                Expect.floatClose Accuracy.veryHigh (loss.Reconstruction + beta * loss.Kl) (objectiveOf model x) $"{what}: the loss is reconstruction + β·KL"
                if kind = Autoencoder then Expect.equal loss.Kl 0.0 $"{what}: no KL term"
                let analytic = values model.Parameters.Gradients
                let numeric = finiteDifferences model x
                let scale = numeric |> Array.map abs |> Array.max
                let difference = Array.map2 (fun a n -> abs (a - n)) analytic numeric |> Array.max
                Expect.isLessThan difference (1e-6 * scale) $"{what}: largest difference from finite differences (scale {scale})"
                for name, largest in bySlot model analytic do
                    Expect.isGreaterThan largest 0.0 $"{what}: {name} has a gradient"
        }

        test "β weights the KL term: the gradient of reconstruction + β·KL is the finite differences' for a perceptron too" {
            let architecture = Architecture.withBeta 0.25 (Shared.architecture Vae 12 [ 7 ] 3)
            let model = Model.create 3L architecture |> Model.convert float64
            use x = images 12L 5L float64
            use generator = new torch.Generator(5UL)
            Gradients.autograd generator model x |> ignore
            let analytic = values model.Parameters.Gradients
            let numeric = finiteDifferences model x
            let scale = numeric |> Array.map abs |> Array.max
            Expect.isLessThan (Array.map2 (fun a n -> abs (a - n)) analytic numeric |> Array.max) (1e-6 * scale) "largest difference"
        }

        test "the hand-written MLP gradient is autograd's with β ≠ 1, in float64 and in the float32 loops" {
            for beta in [ 0.5; 4.0 ] do
                let model = Architecture.withBeta beta (Architecture.create Vae [ 7; 5 ] 6) |> Model.create 3L |> Model.convert float64
                use x = images 784L 9L float64
                use g1 = new torch.Generator(5UL)
                let expectedLoss = Gradients.autograd g1 model x
                use expected = model.Parameters.Gradients.clone()
                model.Parameters.Gradients.fill_(nan.ToScalar()) |> ignore
                use g2 = new torch.Generator(5UL)
                Expect.isTrue (Gradients.takesFastPath model) "a perceptron takes the hand-written path"
                let loss = Gradients.byHand g2 model x
                Expect.floatClose Accuracy.veryHigh loss.Kl expectedLoss.Kl $"β = {beta}: the same KL"
                let scale = expected.abs().max().item<float>()
                Expect.isLessThan ((model.Parameters.Gradients - expected).abs().max().item<float>()) (1e-12 * scale) $"β = {beta}, float64: largest difference"
                // float32: the loops (Kernels.sampleBackward) weight the KL's derivatives.
                let model32 = Architecture.withBeta beta Architecture.fiveLayer |> Model.create 3L
                use x32 = images 784L 37L torch.ScalarType.Float32
                use g3 = new torch.Generator(5UL)
                Gradients.autograd g3 model32 x32 |> ignore
                use expected32 = model32.Parameters.Gradients.clone()
                use g4 = new torch.Generator(5UL)
                Gradients.byHand g4 model32 x32 |> ignore
                let relative = (model32.Parameters.Gradients - expected32).norm().item<float32>() / expected32.norm().item<float32>() |> float
                Expect.isLessThan relative 1e-5 $"β = {beta}, float32: relative difference of the whole gradient"
        }

        test "training by hand and through autograd gives the same losses over 300 steps, β = 1 and β = 4" {
            let train = (fst Shared.trainValidation.Value)
            for beta in [ 1.0; 4.0 ] do
                let architecture = Architecture.withBeta beta Architecture.baseline
                let byHand = trainSteps Gradients.byHand 300 (Model.create 1L architecture) train
                let autograd = trainSteps Gradients.autograd 300 (Model.create 1L architecture) train
                let first = abs (byHand.Head - autograd.Head) / byHand.Head
                Expect.isLessThan first 1e-5 $"β = {beta}: the first step's loss"
                let mean (l: float list) = List.average l.[200..]
                let last = abs (mean byHand - mean autograd) / mean byHand
                Expect.isLessThan last 2e-3 $"β = {beta}: mean loss of steps 201-300 ({mean byHand} by hand, {mean autograd} through autograd)"
                let worst = List.map2 (fun a b -> abs (a - b) / a) byHand autograd |> List.max
                Expect.isLessThan worst 0.02 $"β = {beta}: every step's loss"
                Expect.isLessThan (mean byHand) (0.6 * byHand.Head) $"β = {beta}: training lowers the loss"
        }

        test "a conv VAE trains on real data: 300 steps lower its validation loss, and its checkpoint loads back identical" {
            let train, validation = Shared.trainValidation.Value
            let validation = Data.take 1000 validation
            let model = Model.create 1L (convVae 1.0)
            Expect.isFalse (Gradients.takesFastPath model) "a conv model takes autograd"
            let before = Evaluation.evaluate 3L model validation
            let losses = trainSteps Gradients.lossAndGradient 300 model train
            let after = Evaluation.evaluate 3L model validation
            Expect.isLessThan after.Loss (0.6 * before.Loss) $"validation loss {before.Loss:F1} → {after.Loss:F1} (training {losses.Head:F1} → {List.last losses:F1})"
            Expect.isLessThan after.Loss 300.0 "below 300 nats after 300 steps"
            let dir = temporaryDirectory ()
            let path = Path.Combine(dir, "conv.safetensors")
            Checkpoint.save path model
            let loaded = Checkpoint.load path
            Expect.equal loaded.Architecture model.Architecture "the architecture"
            Expect.isTrue (same loaded.Parameters.Values model.Parameters.Values) "the values"
            use _ = torch.no_grad ()
            let x = validation.Images.narrow(0L, 0L, 10L)
            Expect.isTrue (same (Model.reconstruct loaded x) (Model.reconstruct model x)) "the same reconstructions"
            Directory.Delete(dir, true)
        }

        test "a conv VAE's parameters have PyTorch's state_dict names and shapes, weight before bias" {
            let layout = Architecture.layout (convVae 1.0) |> List.map (fun s -> s.Name, s.Shape)
            Expect.equal
                layout
                [ "encoder.conv.0.weight", [ 32L; 1L; 4L; 4L ]
                  "encoder.conv.0.bias", [ 32L ]
                  "encoder.conv.1.weight", [ 64L; 32L; 4L; 4L ]
                  "encoder.conv.1.bias", [ 64L ]
                  "encoder.0.weight", [ 256L; 3136L ]
                  "encoder.0.bias", [ 256L ]
                  "encoder.head.weight", [ 40L; 256L ]
                  "encoder.head.bias", [ 40L ]
                  "decoder.0.weight", [ 256L; 20L ]
                  "decoder.0.bias", [ 256L ]
                  "decoder.1.weight", [ 3136L; 256L ]
                  "decoder.1.bias", [ 3136L ]
                  "decoder.deconv.0.weight", [ 64L; 32L; 4L; 4L ]
                  "decoder.deconv.0.bias", [ 32L ]
                  "decoder.output.weight", [ 32L; 1L; 4L; 4L ]
                  "decoder.output.bias", [ 1L ] ]
                "nn.Conv2d, nn.Linear and nn.ConvTranspose2d names and shapes"
            Expect.equal (Memory.parameters (convVae 1.0)) (Architecture.parameterCount (convVae 1.0)) "Memory counts them as the layout does"
            let ae = Architecture.ofDesign (28, 28) (design Autoencoder [ 8 ] [] 5 1.0)
            Expect.equal (Memory.parameters ae) (Architecture.parameterCount ae) "an autoencoder with one convolution and no hidden layer"
            Expect.equal (string (convVae 4.0)) "VAE 784-c32-c64-256-20 (β = 4)" "its name"
            use _ = torch.no_grad ()
            let model = Model.create 1L (convVae 1.0)
            use x = images 784L 3L torch.ScalarType.Float32
            Expect.equal (Model.decodeLogits model (Model.encode model x)).shape [| 3L; 784L |] "the decoder gives logits of the image's size"
        }

        test "a conv β-VAE's checkpoint records convolutions, image size and β; a perceptron's records neither" {
            let model = Model.create 2L (convVae 4.0)
            let bytes = Checkpoint.toBytes model
            let header = Encoding.UTF8.GetString(bytes, 8, int (BitConverter.ToInt64(bytes, 0)))
            for field in [ "\"conv\":\"32,64\""; "\"height\":\"28\""; "\"width\":\"28\""; "\"beta\":\"4\"" ] do
                Expect.stringContains header field "metadata"
            let loaded = Checkpoint.ofBytes "conv.safetensors" bytes
            Expect.equal loaded.Architecture model.Architecture "loads back as the same architecture"
            let plain = Encoding.UTF8.GetString(Checkpoint.toBytes (Model.create 2L Architecture.baseline))
            for field in [ "conv"; "height"; "beta" ] do
                Expect.isFalse (plain.Contains $"\"{field}\"") $"a perceptron with β = 1 writes no {field} (its checkpoints are as before)"
            let refusal (b: byte[]) = messageOf<InvalidInputException> (fun () -> Checkpoint.ofBytes "conv.safetensors" b |> ignore)
            let latin (s: string) = Encoding.Latin1.GetBytes s
            let swap (from: string) (into: string) = latin ((Encoding.Latin1.GetString bytes).Replace(from, into))
            Expect.stringContains (refusal (swap "\"height\":\"28\"" "\"height\":\"27\"")) "__metadata__.height × width is 27 × 28, not the input's 784 values" "height"
            Expect.stringContains (refusal (swap "\"beta\":\"4\"" "\"beta\":\"0\"")) "beta: must be a positive number, was 0" "β"
            Expect.stringContains (refusal (swap "\"conv\":\"32,64\"" "\"conv\":\"32,6x\"")) "conv[1]" "a channel count"
            Expect.stringContains (refusal (swap "\"conv\":\"32,64\"" "\"conv\":\"99999\"")) "__metadata__.conv: its last feature map (19599804 values) needs more than the file's" "a feature map the file cannot hold"
        }

        test "β = 1 gives the same model as no β; convolutions that do not fit the images are refused with the JSON path" {
            let json (extra: string) =
                $"""{{ "name": "t", "data": {{ "validationSize": 5000, "splitSeed": 42 }},
                      "training": {{ "maxEpochs": 3, "batchSize": 64, "learningRate": 0.001, "patience": 2, "seed": 1 }},
                      "models": [ {{ "name": "a", "kind": "vae", "hidden": [400], "latent": 20{extra} }} ] }}"""
            let sourceOf text =
                match Experiments.parse "d.json" text with
                | Experiments.Experiment e -> e.Models.Head.Source
                | _ -> failtest "an experiment"
            Expect.equal (sourceOf (json ", \"beta\": 1")) (sourceOf (json "")) "\"beta\": 1 is the default"
            Expect.equal (Architecture.withBeta 1.0 Architecture.baseline) Architecture.baseline "the same architecture, so the same numbers"
            let dir = temporaryDirectory ()
            File.WriteAllText(Path.Combine(dir, "t.json"), json ", \"conv\": [8, 8, 8]")
            Expect.stringContains
                (messageOf<InvalidInputException> (fun () -> Experiments.plan (Path.Combine(dir, "t.json")) |> ignore))
                "t.json: models[0].conv: 3 stride-2 convolutions need the image's height and width divisible by 8; 28 × 28 allows at most 2"
                "too many stride-2 convolutions for 28 × 28"
            File.WriteAllText(Path.Combine(dir, "t.json"), json ", \"conv\": [8, 8]")
            Expect.equal (Experiments.plan (Path.Combine(dir, "t.json")) |> snd |> List.length) 1 "two fit"
            Directory.Delete(dir, true)
        }
    ]
