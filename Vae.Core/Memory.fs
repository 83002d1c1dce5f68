/// The memory training a model needs, and the memory this process may take: a model too large for
/// the machine is refused before anything is allocated. Unchecked, hidden widths [20000; 20000]
/// got the process killed by the kernel at 5.2 GB after 10 s, and [100000; 100000] failed inside
/// libtorch with a 40-line native trace.
module Vae.Core.Memory

open System
open System.Globalization
open System.IO
open Vae.Core.Architecture

/// a op b, or Int64.MaxValue where it overflows: widths come from users, and a count that wrapped
/// round to a small number would pass the check it exists for.
let private saturating (op: int64 -> int64 -> int64) (a: int64) (b: int64) =
    try op a b with :? OverflowException -> Int64.MaxValue

let private times = saturating Checked.(*)
let private plus = saturating Checked.(+)

/// Trainable values of `a`, counted as `Architecture.layout` lays them out, saturating at
/// Int64.MaxValue instead of overflowing.
let parameters (a: Architecture) : int64 =
    let layer (inputs: int64) (outputs: int64) = plus (times inputs outputs) outputs
    let trunk (widths: int64 list) = widths |> List.pairwise |> List.fold (fun sum (n, m) -> plus sum (layer n m)) 0L
    let maps = featureMaps a
    // Each convolution (and its transposed mirror): out × in × k² weights and `out` biases.
    let kernel = int64 (Convolution.Kernel * Convolution.Kernel)
    let convolutions =
        maps |> List.pairwise |> List.fold (fun sum ((cin, _, _), (cout, _, _)) -> plus sum (plus (layer (times (int64 cin) kernel) (int64 cout)) (plus (times (times (int64 cin) (int64 cout)) kernel) (int64 cin)))) 0L
    let flat =
        match List.tryLast maps with
        | Some(c, h, w) when not a.IsMlp -> times (times (int64 c) (int64 h)) (int64 w)
        | _ -> int64 a.Input
    let encoder = flat :: (a.Hidden |> List.map int64)
    let decoder = int64 a.Latent :: (List.rev a.Hidden |> List.map int64)
    let head = ModelKind.headWidth a.Kind (int64 a.Latent)
    [ convolutions
      trunk encoder
      layer (List.last encoder) head
      trunk decoder
      layer (List.last decoder) flat ]
    |> List.fold plus 0L

/// Copies of the parameters that training holds at once: the values and their gradients
/// (`Layers.allocate`), Adam's two moments (`Adam.create`) and the best epoch's values
/// (`Training.train`). A model of more than 2 GB of values takes Adam's engine-operation update
/// (`Adam.step`), whose denominator is a sixth copy.
let private copies (parameterCount: int64) =
    if times parameterCount 4L <= int64 Int32.MaxValue then 5.0 else 6.0

/// Bytes of values per image and layer width that a batch holds at once: each layer's output, kept
/// for the backward pass (or, when validating, until the batch's dispose scope ends), its gradient,
/// and a temporary of the same size for the element-wise steps.
[<Literal>]
let private ActivationBytes = 12.0

/// Bytes, roughly, that training `a` with batches of `batchSize` images needs: the parameters'
/// copies and a batch's activations. Validation passes `Evaluation.BatchSize` images at once,
/// usually more than a training batch; the larger counts.
let trainingBytes (batchSize: int) (a: Architecture) : float =
    let head = float (ModelKind.headWidth a.Kind (int64 a.Latent))
    // Encoder and decoder: the input and its reconstruction, every hidden width twice, the head and z.
    // With convolutions, every feature map twice too (autograd keeps each layer's input and output).
    let maps = featureMaps a |> List.skip (if a.IsMlp then 0 else 1) |> List.sumBy (fun (c, h, w) -> float c * float h * float w)
    let widths = 2.0 * float a.Input + 2.0 * (a.Hidden |> List.sumBy float) + head + float a.Latent + 4.0 * maps
    let images = float (max batchSize Evaluation.BatchSize)
    let p = parameters a
    float p * 4.0 * copies p + images * widths * ActivationBytes

/// A number read from the first line of a file, or None (no such file, "max", not a number).
let private readNumber (path: string) =
    try
        match Int64.TryParse((File.ReadAllText path).Trim()) with
        | true, v -> Some v
        | _ -> None
    with :? IOException | :? UnauthorizedAccessException -> None

/// /proc/meminfo's MemAvailable: what the kernel can give without swapping.
let private memAvailable () =
    try
        File.ReadLines "/proc/meminfo"
        |> Seq.tryFind (fun l -> l.StartsWith "MemAvailable:")
        |> Option.bind (fun l ->
            match Int64.TryParse(l.Substring("MemAvailable:".Length).Replace("kB", "").Trim()) with
            | true, kB -> Some(kB * 1024L)
            | _ -> None)
    with :? IOException | :? UnauthorizedAccessException -> None

/// The cgroup's limit less what the group uses already (cgroup v2, then v1), when there is a limit.
let private cgroupRoom () =
    let room limit usage =
        match readNumber limit, readNumber usage with
        | Some l, Some u -> Some(max 0L (l - u))
        | Some l, None -> Some l
        | None, _ -> None
    [ room "/sys/fs/cgroup/memory.max" "/sys/fs/cgroup/memory.current"
      room "/sys/fs/cgroup/memory/memory.limit_in_bytes" "/sys/fs/cgroup/memory/memory.usage_in_bytes" ]
    |> List.choose id
    |> List.tryHead

/// Bytes this process may still take: the least of the kernel's MemAvailable, the room left under
/// the cgroup's limit, and the runtime's own view (GC's TotalAvailableMemoryBytes honours cgroup
/// limits and a configured heap limit). Each source may be missing (another OS, no cgroup).
let available () : int64 =
    [ memAvailable (); cgroupRoom (); Some(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) ]
    |> List.choose id
    |> List.filter (fun b -> b > 0L)
    |> function
        | [] -> Int64.MaxValue
        | bytes -> List.min bytes

/// The share of `available` bytes one model may take: half. A run trains two models at once by
/// default (`Experiments.defaultLanes`), and holds the data set and the trained models beside
/// them; the estimate is rough.
let budget (available: int64) = available / 2L

let private gigabytes (bytes: float) = (bytes / 1e9).ToString("F1", CultureInfo.InvariantCulture) + " GB"

/// `a`, or why a machine with `available` bytes free cannot train it with batches of `batchSize`
/// images, e.g. "VAE 784-20000-20000-20 has 832,…,… parameters; training it needs about 20.0 GB,
/// more than the 12.1 GB this machine can give it (half of the 24.2 GB available)".
let checkWithin (available: int64) (batchSize: int) (a: Architecture) : Result<Architecture, string> =
    let needed = trainingBytes batchSize a
    if needed <= float (budget available) then Ok a
    else
        let count = (parameters a).ToString("N0", CultureInfo.InvariantCulture)
        Error $"{a} has {count} parameters; training it needs about {gigabytes needed}, more than the {gigabytes (float (budget available))} this machine can give it (half of the {gigabytes (float available)} available)"

/// `a`, or why this machine, as it is now, cannot train it (`checkWithin (available ())`).
let check (batchSize: int) (a: Architecture) : Result<Architecture, string> = checkWithin (available ()) batchSize a
