module Vae.Tests.CheckpointTests

open System.IO
open System.Text
open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private trained () =
    let train, validation = trainValidation.Value
    let options = { Training.TrainingOptions.defaults with MaxEpochs = 1; Patience = None }
    (Training.train Training.TrainingHooks.none options (FashionMnist.take 3200 train) (FashionMnist.take 500 validation) (Model.create 4L Architecture.fiveLayer)).Model

/// Replaces `text` in the checkpoint's JSON header (the header length follows).
let private editHeader (bytes: byte[]) (text: string) (replacement: string) =
    let length = int (System.BitConverter.ToUInt64(bytes, 0))
    let header = Encoding.UTF8.GetString(bytes, 8, length)
    let edited = Encoding.UTF8.GetBytes(header.Replace(text, replacement))
    Array.concat [ System.BitConverter.GetBytes(uint64 edited.Length); edited; bytes.[8 + length ..] ]

let private problem bytes = messageOf<Checkpoint.CheckpointException> (fun () -> Checkpoint.ofBytes "m.safetensors" bytes |> ignore)

[<Tests>]
let tests =
    testSequenced <| testList "Checkpoint" [
        test "a saved and reloaded model gives identical outputs" {
            let model = trained ()
            let path = Path.Combine(temporaryDirectory (), "model.safetensors")
            Checkpoint.save path model
            let loaded = Checkpoint.load path
            Expect.equal (string loaded.Architecture) (string model.Architecture) "architecture"
            use _ = torch.no_grad ()
            let x = dataset.Value.Test.Images.narrow(0L, 0L, 100L)
            Expect.isTrue (same (Model.reconstruct loaded x) (Model.reconstruct model x)) "identical reconstructions"
            Expect.isTrue (same (Model.encode loaded x) (Model.encode model x)) "identical codes"
            Expect.isFalse (File.Exists(path + $".{System.Environment.ProcessId}.tmp")) "no temporary file left"
        }

        test "the file is safetensors: header length, JSON header with offsets, then the data" {
            let model = Model.create 1L Architecture.baseline
            let bytes = Checkpoint.toBytes model
            let length = int (System.BitConverter.ToUInt64(bytes, 0))
            Expect.equal (length % 8) 0 "the data starts 8-byte aligned"
            let header = System.Text.Json.JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, length)).RootElement
            let head = header.GetProperty("encoder.head.weight")
            Expect.equal (head.GetProperty("dtype").GetString()) "F32" "dtype"
            Expect.equal [ for d in head.GetProperty("shape").EnumerateArray() -> d.GetInt64() ] [ 40L; 400L ] "shape"
            Expect.equal (bytes.Length - 8 - length) (4 * int (Model.parameterCount model)) "every value once, no holes"
            Expect.equal (header.GetProperty("__metadata__").GetProperty("hidden").GetString()) "400" "architecture in the metadata"
        }

        test "an autoencoder and a float64 model round-trip too" {
            let ae = Model.create 2L (Architecture.create Autoencoder [ 30 ] 5)
            let loaded = Checkpoint.ofBytes "ae" (Checkpoint.toBytes ae)
            Expect.equal loaded.Architecture.Kind Autoencoder "kind"
            Expect.isTrue (same (loaded.Parameters.Values) (ae.Parameters.Values)) "values"
            let wide = Model.convert torch.ScalarType.Float64 ae
            Expect.isTrue (same (Checkpoint.ofBytes "f64" (Checkpoint.toBytes wide)).Parameters.Values wide.Parameters.Values) "float64"
        }

        test "a checkpoint whose tensors do not match the architecture it claims is rejected" {
            let bytes = Checkpoint.toBytes (Model.create 1L Architecture.baseline)
            let m = problem (editHeader bytes "\"latent\":\"20\"" "\"latent\":\"21\"")
            Expect.stringContains m "m.safetensors: tensor encoder.head.weight has shape [40; 400], the architecture VAE 784-400-21 needs [42; 400]" "shape"
            let m2 = problem (editHeader bytes "\"hidden\":\"400\"" "\"hidden\":\"400,5\"")
            Expect.stringContains m2 "is missing" "missing tensor"
            let m3 = problem (editHeader bytes "\"kind\":\"vae\"" "\"kind\":\"ae\" ")
            Expect.stringContains m3 "has shape [40; 400], the architecture AE 784-400-20 needs [20; 400]" "kind"
        }

        test "truncated and foreign files are rejected with the reason" {
            let bytes = Checkpoint.toBytes (Model.create 1L Architecture.baseline)
            Expect.stringContains (problem bytes.[.. bytes.Length - 5]) "data_offsets" "truncated data"
            Expect.stringContains (problem bytes.[.. 100]) "runs past the end" "truncated header"
            Expect.stringContains (problem (editHeader bytes "vae-core/1" "other/99")) "__metadata__.format" "another format"
            Expect.stringContains (problem (Array.append (System.BitConverter.GetBytes 4UL) "nope"B)) "not a JSON object" "not JSON"
            Expect.stringContains (messageOf<Checkpoint.CheckpointException> (fun () -> Checkpoint.load "/nonexistent/m.safetensors" |> ignore)) "cannot be read" "missing file"
        }
    ]
