/// What several test lists share: the real data set, loaded once, and small helpers.
module Vae.Tests.Shared

open System
open System.IO
open TorchSharp
open Vae.Core

/// The real Fashion-MNIST, found as a user's program finds it.
let dataset = lazy (FashionMnist.load None)

/// The seed study's split of the training set: 55,000 training and 5,000 validation images.
let trainValidation = lazy (FashionMnist.trainValidationSplit 42L 5000 dataset.Value.Train)

/// A fresh empty folder under the system's temporary folder.
let temporaryDirectory () =
    let dir = Path.Combine(Path.GetTempPath(), "vae-tests-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory dir |> ignore
    dir

/// The values of a float tensor.
let values (t: torch.Tensor) : float[] =
    use d = t.detach().to_type(torch.ScalarType.Float64).contiguous()
    d.data<float>().ToArray()

/// Runs `f` and returns the message of the exception of type 'E it raises.
let messageOf<'E when 'E :> exn> (f: unit -> unit) : string =
    try
        f ()
        failwith $"expected {typeof<'E>.Name}, nothing was raised"
    with :? 'E as e -> e.Message

/// Same shape and every element equal.
let same (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && (use eq = a.eq b in use all = eq.all() in all.item<bool>())

/// A file of `length` bytes that starts with `start` and takes no disk space for the rest (a sparse file).
let sparse (path: string) (start: byte[]) (length: int64) =
    use file = File.Create path
    file.Write(start, 0, start.Length)
    file.SetLength length

/// Bytes the managed heap hands out while `f` runs.
let allocatedBy (f: unit -> unit) =
    let before = GC.GetTotalAllocatedBytes true
    f ()
    GC.GetTotalAllocatedBytes true - before
