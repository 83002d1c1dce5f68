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
                | :? Vae.Facade.InvalidInputException ->
                    Expect.equal e.Message expected name
                    Expect.isFalse (e.Message.Contains '\n') $"{name}: one line"
                | other -> failtest $"{name}: {other.GetType().Name} instead of InvalidInputException: {other.Message}"
        }
    ]
