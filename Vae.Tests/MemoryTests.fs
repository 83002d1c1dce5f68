module Vae.Tests.MemoryTests

open System
open Expecto
open Vae.Core

[<Tests>]
let tests =
    testList "Memory" [
        test "the parameter count is the layout's, and saturates instead of overflowing" {
            for a in [ Architecture.baseline; Architecture.fiveLayer; Architecture.create Autoencoder [ 300; 200 ] 7; Architecture.create Vae [] 3 ] do
                Expect.equal (Memory.parameters a) (Architecture.parameterCount a) $"{a}"
            let huge = Architecture.create Vae [ Int32.MaxValue; Int32.MaxValue; Int32.MaxValue ] 20
            Expect.equal (Memory.parameters huge) Int64.MaxValue "saturated"
        }

        test "a model that needs more than half the memory is refused, with the estimate" {
            let big = Architecture.create Vae [ 20000; 20000 ] 20
            Expect.equal
                (Memory.checkWithin 24_000_000_000L 64 big)
                (Error "VAE 784-20000-20000-20 has 832,640,824 parameters; training it needs about 22.4 GB, more than the 12.0 GB this machine can give it (half of the 24.0 GB available)")
                "six copies of 3.3 GB of values, and the activations of 2,500 validation images"
            Expect.equal (Memory.checkWithin 48_000_000_000L 64 big) (Ok big) "accepted with twice the memory"
        }

        test "training the seed study's baseline needs tens of megabytes" {
            let bytes = Memory.trainingBytes 64 Architecture.baseline
            Expect.isTrue (bytes > 50e6 && bytes < 150e6) $"{bytes} bytes"
        }

        test "the memory available is positive and no more than the runtime sees" {
            let available = Memory.available ()
            Expect.isGreaterThan available 0L "positive"
            Expect.isLessThanOrEqual available (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) "at most the runtime's"
        }
    ]
