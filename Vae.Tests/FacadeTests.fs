module Vae.Tests.FacadeTests

open System.IO
open Expecto
open Vae.Tests.Shared

[<Tests>]
let tests =
    testSequenced <| testList "Facade" [
        test "the C# tour trains, evaluates, encodes, reconstructs, generates, saves and loads through the façade only" {
            let folder = temporaryDirectory ()
            use log = new StringWriter()
            let summary = FacadeTour.Tour.RunAsync(folder, log).GetAwaiter().GetResult()
            Expect.equal summary.Epochs 2 "two epochs"
            Expect.isLessThan summary.ValidationLossAfter summary.ValidationLossBefore "learned"
            Expect.isTrue (File.Exists summary.Checkpoint) "checkpoint written"
            Expect.stringContains (log.ToString()) "VAE 784-128-8" "described"
        }

        test "a ModelSpec declares convolutions and β; the model it creates keeps them, and a bad one is refused with the rule" {
            let spec = Vae.Facade.ModelSpec(Vae.Reporting.ModelKind.Vae, [| 256 |], 20, Conv = [| 32; 64 |], Beta = 4.0)
            Expect.equal (spec.Describe()) "VAE 784-c32-c64-256-20 (β = 4)" "described"
            let model = Vae.Facade.VaeModel.Create(spec, 1L)
            Expect.equal model.ParameterCount spec.ParameterCount "created with its parameters"
            Expect.equal (model.Spec.Conv |> List.ofSeq, model.Spec.Beta) ([ 32; 64 ], 4.0) "read back from the core's architecture"
            let bad = Vae.Facade.ModelSpec(Vae.Reporting.ModelKind.Autoencoder, [| 256 |], 20, Beta = 2.0)
            Expect.stringContains (messageOf<Vae.Core.InvalidInputException> (fun () -> bad.Describe() |> ignore)) "beta: weights the KL term" "β on an autoencoder"
        }

        test "a run cancelled through the façade is marked interrupted and ResumeAsync completes it with the numbers of a run never stopped" {
            let dir = temporaryDirectory ()
            let options folder = Vae.Facade.RunOptions(OutputFolder = Path.Combine(dir, folder), Quick = true)
            let struct (_, whole) = Vae.Facade.ExperimentRunner.RunAsync("task1", options "whole").GetAwaiter().GetResult()
            use cancel = new System.Threading.CancellationTokenSource()
            // Cancelled once the five-layer VAE has finished its first epoch.
            let progress =
                { new System.IProgress<Vae.Facade.RunEvent> with
                    member _.Report e =
                        match e with
                        | :? Vae.Facade.RunEvent.EpochDone as d when d.Model = "five-layer" -> cancel.Cancel()
                        | _ -> () }
            let interrupted =
                try
                    Vae.Facade.ExperimentRunner.RunAsync("task1", options "stopped", progress, cancel.Token).GetAwaiter().GetResult() |> ignore
                    failtest "the run was not interrupted"
                with :? Vae.Facade.RunInterruptedException as e -> e.Folder
            Expect.equal interrupted (Path.Combine(dir, "stopped")) "the exception names the folder"
            Expect.stringContains (File.ReadAllText(Path.Combine(interrupted, "run.json"))) "\"status\": \"interrupted\"" "marked interrupted"
            let struct (_, resumed) = Vae.Facade.ExperimentRunner.ResumeAsync(interrupted).GetAwaiter().GetResult()
            let numbers folder =
                let node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))
                let rec strip (n: System.Text.Json.Nodes.JsonNode) =
                    match n with
                    | :? System.Text.Json.Nodes.JsonObject as o ->
                        for key in [ for kv in o -> kv.Key ] do
                            if key.ToLowerInvariant().EndsWith "seconds" || key = "startedUtc" then o.Remove key |> ignore else strip o[key]
                    | :? System.Text.Json.Nodes.JsonArray as a -> for x in a do strip x
                    | _ -> ()
                strip node
                node.ToJsonString()
            Expect.equal (numbers resumed) (numbers whole) "results.json, timings aside"
            let weights folder = File.ReadAllBytes(Path.Combine(folder, "task1", "five-layer", "model.safetensors"))
            Expect.equal (weights resumed) (weights whole) "the five-layer VAE's weights"
        }

        test "a model too large for this machine is refused before anything is allocated" {
            let create (hidden: int[]) = messageOf<Vae.Core.InvalidInputException> (fun () -> Vae.Facade.VaeModel.Create(Vae.Facade.ModelSpec(Vae.Reporting.ModelKind.Vae, hidden, 20)) |> ignore)
            let clock = System.Diagnostics.Stopwatch.StartNew()
            // Unchecked, libtorch failed to allocate 80 GB with a 40-line native trace.
            Expect.stringContains (create [| 100000; 100000 |]) "VAE 784-100000-100000-20 has 20,163,200,824 parameters; training it needs about 496.0 GB, more than the" "huge"
            Expect.isLessThan clock.Elapsed.TotalSeconds 5.0 "at once"
            if float (Vae.Core.Memory.budget (Vae.Core.Memory.available ())) >= 22.4e9 then skiptest "this machine can give 22.4 GB to one model"
            // Unchecked, the process was killed at 5.2 GB while training.
            Expect.stringContains (create [| 20000; 20000 |]) "VAE 784-20000-20000-20 has 832,640,824 parameters; training it needs about 22.4 GB, more than the" "big"
        }

        test "no F# type appears in the façade's public signatures" {
            let assembly = typeof<Vae.Facade.VaeModel>.Assembly
            let isFSharp (t: System.Type) =
                t.Assembly = typeof<list<int>>.Assembly || t.Assembly = typeof<Vae.Core.Model>.Assembly
            let rec mentions (t: System.Type) =
                isFSharp t || (t.IsGenericType && t.GetGenericArguments() |> Array.exists mentions) || (t.HasElementType && mentions (t.GetElementType()))
            let offenders =
                [ for t in assembly.GetExportedTypes() do
                      for m in t.GetMembers(System.Reflection.BindingFlags.Public ||| System.Reflection.BindingFlags.Instance ||| System.Reflection.BindingFlags.Static ||| System.Reflection.BindingFlags.DeclaredOnly) do
                          let types =
                              match m with
                              | :? System.Reflection.MethodInfo as mi -> mi.ReturnType :: [ for p in mi.GetParameters() -> p.ParameterType ]
                              | :? System.Reflection.PropertyInfo as pi -> [ pi.PropertyType ]
                              | :? System.Reflection.FieldInfo as fi -> [ fi.FieldType ]
                              | :? System.Reflection.ConstructorInfo as ci -> [ for p in ci.GetParameters() -> p.ParameterType ]
                              | _ -> []
                          if types |> List.exists mentions then yield $"{t.Name}.{m.Name}" ]
            Expect.isEmpty offenders "public members that expose F# or core types"
        }
    
        test "VaeModel.Load refuses each hostile checkpoint with InvalidInputException and one line" {
            let dir = temporaryDirectory ()
            let cases =
                [ for i, (name, bytes, problem) in List.indexed Vae.Tests.CheckpointTests.hostileCheckpoints.Value do
                      let path = Path.Combine(dir, $"hostile-{i}.safetensors")
                      File.WriteAllBytes(path, bytes)
                      name, path, $"{path}: {problem}"
                  "/dev/zero", "/dev/zero", "/dev/zero: is not a regular file (a character device)" ]
            for name, path, expected in cases do
                let e = Expect.throwsC (fun () -> Vae.Facade.VaeModel.Load path |> ignore) id
                match e with
                | :? Vae.Core.InvalidInputException ->
                    Expect.equal e.Message expected name
                    Expect.isFalse (e.Message.Contains '\n') $"{name}: one line"
                | other -> failtest $"{name}: {other.GetType().Name} instead of InvalidInputException: {other.Message}"
        }
    ]
