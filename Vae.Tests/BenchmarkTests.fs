module Vae.Tests.BenchmarkTests

open System.Text.Json
open Expecto
open Vae.Core
open Vae.Core.Benchmark

let private report =
    { Model = "VAE 784-400-200-100-20"
      BatchSize = 64
      EpochSeconds = [| 4.0; 3.0; 3.2 |]
      MedianSecondsPerEpoch = 3.2
      ImagesPerSecond = 18750.0
      GflopPerEpoch = 300.7
      Gflops = 94.0
      PeakGflops = 190.0
      FloorSeconds = 1.58
      PlainEpochSeconds = [| 6.0; 5.5; 5.6 |]
      PlainMedianSecondsPerEpoch = 5.6
      Ratio = 0.56
      PeakResidentBytes = 1_500_000_000L
      Threads = 2
      FinalTrainingLoss = 249.5
      PlainFinalTrainingLoss = 249.7
      Machine = { Processor = "AMD EPYC"; Cores = 2 } }

[<Tests>]
let tests =
    testList "Benchmark" [
        test "the JSON report has the camelCase names the runner and its readers expect" {
            use document = JsonDocument.Parse(toJson report)
            let root = document.RootElement
            let names = [ for p in root.EnumerateObject() -> p.Name ]
            Expect.equal
                names
                [ "model"; "batchSize"; "epochSeconds"; "medianSecondsPerEpoch"; "imagesPerSecond"; "gflopPerEpoch"; "gflops"; "peakGflops"
                  "floorSeconds"; "plainEpochSeconds"; "plainMedianSecondsPerEpoch"; "ratio"; "peakResidentBytes"; "threads"; "finalTrainingLoss"
                  "plainFinalTrainingLoss"; "machine" ]
                "top-level names, in order"
            Expect.equal [ for e in root.GetProperty("epochSeconds").EnumerateArray() -> e.GetDouble() ] [ 4.0; 3.0; 3.2 ] "epoch seconds"
            Expect.equal (root.GetProperty("peakResidentBytes").GetInt64()) 1_500_000_000L "bytes"
            Expect.equal (root.GetProperty("machine").GetProperty("processor").GetString()) "AMD EPYC" "processor"
            Expect.equal (root.GetProperty("machine").GetProperty("cores").GetInt32()) 2 "cores"
        }

        test "a diverged loss is still written" {
            Expect.stringContains (toJson { report with FinalTrainingLoss = nan }) "\"NaN\"" "NaN as a named literal"
        }

        test "the median of an even count is the mean of the two middle values" {
            Expect.equal (median [| 5.0; 1.0; 3.0 |]) 3.0 "odd"
            Expect.equal (median [| 4.0; 1.0; 3.0; 10.0 |]) 3.5 "even"
            Expect.throwsT<System.ArgumentException> (fun () -> median [||] |> ignore) "empty"
        }

        test "the machine and the process's peak memory are read" {
            let m = machine ()
            Expect.isNotEmpty m.Processor "processor named"
            Expect.equal m.Cores System.Environment.ProcessorCount "logical cores"
            // The tests hold the data set (about 220 MB of float32 pixels) by now or soon; a
            // process with the engine loaded is well above 50 MB.
            Expect.isGreaterThan (peakResidentBytes ()) 50_000_000L "VmHWM in bytes, not kB"
        }
    ]
