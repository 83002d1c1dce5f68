/// The one bad-input error: every validator of the core raises it, naming the input, where in it, and the problem.
module Vae.Tests.InvalidInputTests

open System
open System.IO
open Expecto
open Vae.Core
open Vae.Core.RunPlan
open Vae.Tests.Shared

/// The error `f` raises.
let private errorOf (f: unit -> 'a) : InvalidInputException =
    try
        f () |> ignore
        failwith "expected InvalidInputException, nothing was raised"
    with :? InvalidInputException as e -> e

let private expectError (input: string) (location: string) (problem: string) (e: InvalidInputException) =
    Expect.equal (e.Input, e.Location) (input, location) "input and location"
    Expect.stringContains e.Problem problem "problem"
    Expect.isFalse (e.Message.Contains '\n') "one line"

[<Tests>]
let tests =
    testList "InvalidInput" [
        test "the core declares one bad-input error; the only other exception is the engine failing to load" {
            let declared =
                typeof<InvalidInputException>.Assembly.GetTypes()
                |> Array.filter (fun t -> typeof<exn>.IsAssignableFrom t)
                |> Array.map _.Name
                |> Array.sort
            Expect.equal declared [| "EngineLoadException"; "InvalidInputException" |] "exception types of Vae.Core"
        }

        test "the message is source: location: problem, on one line, the location left out when there is none" {
            Expect.equal (InvalidInputException("d.json", "models[2].latent", "must be at least 1").Message) "d.json: models[2].latent: must be at least 1" "with a location"
            Expect.equal (InvalidInputException("a\nb.json", "", "no such definition file").Message) "a\\nb.json: no such definition file" "a newline in a file name"
        }

        test "each validator raises it with the input, the location and the problem" {
            errorOf (fun () -> Experiments.parse "d.json" """{ "name": "d", "models": 1 }""") |> expectError "d.json" "data" ""
            errorOf (fun () -> Idx.parse "f.idx" [| 1uy; 2uy |]) |> expectError "f.idx" "" ""
            errorOf (fun () -> Checkpoint.ofBytes "m.safetensors" [| 1uy |]) |> expectError "m.safetensors" "" "too short"
            errorOf (fun () -> RunSettings.check { RunSettings.none with Epochs = Some 0 }) |> expectError "--epochs" "" "must be at least 1, was 0"
            errorOf (fun () -> Architecture.create Vae [ 400; 0 ] 20) |> expectError "architecture" "" "hidden[1]: must be at least 1"
            let dir = temporaryDirectory ()
            try
                File.WriteAllText(Path.Combine(dir, "x"), "")
                errorOf (fun () -> RunFolder.check dir) |> expectError $"output folder {dir}" "" "already exists and is not empty"
            finally
                Directory.Delete(dir, true)
            let model = OnEngine.createModel 1L (Architecture.create Vae [ 8 ] 2)
            errorOf (fun () -> OnEngine.encode model [| Array.zeroCreate FashionMnist.Pixels; Array.zeroCreate 5 |]) |> expectError "images" "[1]" "has 5 values, the model takes 784"
            errorOf (fun () -> OnEngine.decode model [| Array.zeroCreate 3 |]) |> expectError "codes" "[0]" "has 3 values, the model takes 2"
        }
    ]
