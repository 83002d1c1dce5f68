/// What several test lists share: the real data set, loaded once, and small helpers.
module Vae.Tests.Shared

open System
open System.IO
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Vae.Core

/// The real Fashion-MNIST, found as a user's program finds it.
let dataset = lazy (FashionMnist.load None)

/// The seed study's split of the training set: 55,000 training and 5,000 validation images.
let trainValidation = lazy (Data.trainValidationSplit 42L 5000 dataset.Value.Train)

/// A small architecture for tests (any input size; `Architecture.create` is for 784-pixel images).
let architecture kind (input: int) (hidden: int list) (latent: int) =
    match Architecture.tryCreate kind input hidden latent with
    | Ok a -> a
    | Error e -> failwith e

/// The repository's root (the folder holding Vae.sln), walking up from the test program.
let repository () =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "Vae.sln not found above the test program"
        elif File.Exists(Path.Combine(dir.FullName, "Vae.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// A TCP port of 127.0.0.1 that nothing listens on (free when asked).
let freePort () =
    let probe = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
    probe.Start()
    let port = (probe.LocalEndpoint :?> Net.IPEndPoint).Port
    probe.Stop()
    port

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

/// Writes a synthetic data set of IDX files into `dir` (created if missing) and returns `dir`:
/// `train` and `test` images of `height` × `width` pixels, labels cycling through `classes`
/// classes, each class a pattern (horizontal bars, vertical bars, a centred block, in turn) moved
/// by the image's index, with seeded noise: the same files every time. `gzip` writes the
/// ".gz" names.
let writeIdxDataSet (dir: string) (height: int, width: int) (classes: int) (train: int) (test: int) (gzip: bool) =
    Directory.CreateDirectory dir |> ignore
    let random = Random 11
    let image (label: int) (i: int) =
        Array.init (height * width) (fun p ->
            let r, c = p / width, p % width
            let on =
                match label % 3 with
                | 0 -> (r + i) % 4 < 2
                | 1 -> (c + i) % 4 < 2
                | _ -> abs (r - height / 2) <= 2 + i % 2 && abs (c - width / 2) <= 2 + i % 2
            byte (Math.Clamp((if on then 200 else 30) + random.Next(-25, 26), 0, 255)))
    let write (name: string) (array: Idx.IdxArray) =
        let bytes = Idx.serialise array
        if gzip then File.WriteAllBytes(Path.Combine(dir, name + ".gz"), Idx.gzip bytes)
        else File.WriteAllBytes(Path.Combine(dir, name), bytes)
    for prefix, count in [ "train", train; "t10k", test ] do
        let labels = Array.init count (fun i -> byte (i % classes))
        write $"{prefix}-images-idx3-ubyte" { Dimensions = [ count; height; width ]; Data = Array.concat [ for i in 0 .. count - 1 -> image (int labels.[i]) i ] }
        write $"{prefix}-labels-idx1-ubyte" { Dimensions = [ count ]; Data = labels }
    dir

/// safetensors `bytes` mutated for FsCheck: a few bytes changed (at positions drawn by `flipAt`
/// from the header's length, mostly to printable ones), cut short, or with a piece of the header
/// replaced by one of `fragments` (the header length kept right), so that most faults get past the
/// JSON parser to the fields.
let safetensorsMutations (bytes: byte[]) (fragments: string list) (flipAt: int -> Gen<int>) : Arbitrary<byte[]> =
    let headerLength = int (BitConverter.ToUInt64(bytes, 0))
    let header = Text.Encoding.UTF8.GetString(bytes, 8, headerLength)
    let flips =
        Gen.nonEmptyListOf (Gen.zip (flipAt headerLength) (Gen.frequency [ 3, Gen.choose (32, 126); 1, Gen.choose (0, 255) ]))
        |> Gen.map (fun edits ->
            let copy = Array.copy bytes
            for i, b in edits do copy.[i] <- byte b
            copy)
    let cuts = Gen.choose (0, bytes.Length - 1) |> Gen.map (fun n -> bytes.[.. n - 1])
    let splices =
        Gen.choose (0, header.Length - 1)
        |> Gen.bind (fun at ->
            Gen.zip (Gen.choose (0, min 12 (header.Length - at))) (Gen.elements fragments)
            |> Gen.map (fun (width, fragment) ->
                let edited = Text.Encoding.UTF8.GetBytes(header.Substring(0, at) + fragment + header.Substring(at + width))
                Array.concat [ BitConverter.GetBytes(uint64 edited.Length); edited; bytes.[8 + headerLength ..] ]))
    Gen.frequency [ 2, flips; 1, cuts; 3, splices ] |> Arb.fromGen
