/// Element-wise steps as loops over float32 tensors' memory, where a sequence of engine operations
/// costs more than the arithmetic: each engine operation is a call through the dispatcher and a new
/// tensor, and most of these steps touch a few thousand values. The tensors must be contiguous
/// float32 CPU tensors (see `Layers.float32Values`).
module Vae.Core.Kernels

open System
open System.Numerics
open System.Runtime.InteropServices
open TorchSharp
open Vae.Core.Layers

// Training (Gradients.lossAndGradient): between its matrix products a step of the five-layer VAE
// made about 40 small engine operations (the latent sample and KL, binary cross-entropy and its
// derivative, the ReLU masks). Measured on 2 cores, best of 12 interleaved blocks of 150 steps:
// 3.34 → 2.84 ms per step (ReLU masks, cross-entropy and the latent block each about 0.2 ms).

/// True when every tensor is float32 on the CPU, so that these loops can take them (contiguous).
let apply (tensors: torch.Tensor list) =
    tensors |> List.forall (fun t -> t.dtype = torch.ScalarType.Float32 && t.device_type = DeviceType.CPU)

let private vectors (values: Span<float32>) = MemoryMarshal.Cast<float32, Vector<float32>> values

/// ∂L/∂(pre-activation) of a ReLU from ∂L/∂(output), in place: zero where `y` (the ReLU's
/// output, same length) is not positive.
let reluBackwardValues (d: Span<float32>) (y: Span<float32>) =
    let dv = vectors d
    let yv = vectors y
    for k in 0 .. dv.Length - 1 do
        dv.[k] <- Vector.ConditionalSelect(Vector.GreaterThan(yv.[k], Vector<float32>.Zero), dv.[k], Vector<float32>.Zero)
    for k in dv.Length * Vector<float32>.Count .. d.Length - 1 do
        if y.[k] <= 0.0f then d.[k] <- 0.0f

/// `reluBackwardValues` on tensors: `gradient` in place, `output` the ReLU's output (same shape).
let reluBackward (gradient: torch.Tensor) (output: torch.Tensor) = reluBackwardValues (float32Values gradient) (float32Values output)

/// Binary cross-entropy of `x` under Bernoulli `logits` (same shape), summed, and its
/// derivative σ(l) − x written into `gradient`. With e = exp(−|l|): BCE = max(l, 0) + log(1 + e)
/// − x·l and σ(l) = (l ≥ 0 ? 1 : e) / (1 + e), so exp never overflows.
let binaryCrossEntropyValues (l: Span<float32>) (xs: Span<float32>) (d: Span<float32>) : float =
    let lv = vectors l
    let xv = vectors xs
    let dv = vectors d
    let one = Vector<float32>.One
    let mutable sum = Vector<float32>.Zero
    let mutable total = 0.0
    for k in 0 .. lv.Length - 1 do
        let li = lv.[k]
        let e = Vector.Exp(-(Vector.Abs li))
        sum <- sum + (Vector.Max(li, Vector<float32>.Zero) + Vector.Log(one + e) - xv.[k] * li)
        dv.[k] <- Vector.ConditionalSelect(Vector.GreaterThanOrEqual(li, Vector<float32>.Zero), one, e) / (one + e) - xv.[k]
        // Partial sums in float64 every 64 vectors keep float32 rounding out of a 50,000-term sum.
        if k % 64 = 63 then
            total <- total + float (Vector.Sum sum)
            sum <- Vector<float32>.Zero
    total <- total + float (Vector.Sum sum)
    for k in lv.Length * Vector<float32>.Count .. l.Length - 1 do
        let e = MathF.Exp(-(abs l.[k]))
        total <- total + float (max l.[k] 0.0f + MathF.Log(1.0f + e) - xs.[k] * l.[k])
        d.[k] <- (if l.[k] >= 0.0f then 1.0f else e) / (1.0f + e) - xs.[k]
    total

/// `binaryCrossEntropyValues` on tensors of the same shape.
let binaryCrossEntropy (logits: torch.Tensor) (x: torch.Tensor) (gradient: torch.Tensor) : float =
    binaryCrossEntropyValues (float32Values logits) (float32Values x) (float32Values gradient)

/// The reparameterised sample from the head's output `h` (rows of 2d: μ then log σ²) and noise
/// `e` (rows of d): writes z = μ + σ ⊙ ε, σ ⊙ ε and σ² (rows of d) and returns the summed
/// KL = −½ Σ (1 + log σ² − μ² − σ²).
let sampleValues (d: int) (h: Span<float32>) (e: Span<float32>) (zs: Span<float32>) (ns: Span<float32>) (vs: Span<float32>) : float =
    let mutable kl = 0.0
    for r in 0 .. zs.Length / d - 1 do
        let mutable row = 0.0f
        for j in 0 .. d - 1 do
            let mean, logVariance = h.[2 * d * r + j], h.[2 * d * r + d + j]
            let k = d * r + j
            ns.[k] <- MathF.Exp(0.5f * logVariance) * e.[k]
            vs.[k] <- MathF.Exp logVariance
            zs.[k] <- mean + ns.[k]
            row <- row + (1.0f + logVariance - mean * mean - vs.[k])
        kl <- kl + float row
    -0.5 * kl

/// `sampleValues` on tensors: `head` [n; 2d], `epsilon`, `z`, `noise` and `variance` [n; d].
let sample (head: torch.Tensor) (epsilon: torch.Tensor) (z: torch.Tensor) (noise: torch.Tensor) (variance: torch.Tensor) : float =
    sampleValues (int z.shape.[1]) (float32Values head) (float32Values epsilon) (float32Values z) (float32Values noise) (float32Values variance)

/// ∂L/∂(head output) from ∂L/∂z, written into `g` (rows of 2d), for L = … + β·KL:
/// ∂/∂μ = ∂L/∂z + β·μ and ∂/∂log σ² = ½ (∂L/∂z ⊙ σ ⊙ ε + β·(σ² − 1)), the KL's derivatives included.
let sampleBackwardValues (d: int) (beta: float32) (h: Span<float32>) (dzs: Span<float32>) (ns: Span<float32>) (vs: Span<float32>) (g: Span<float32>) =
    for r in 0 .. dzs.Length / d - 1 do
        for j in 0 .. d - 1 do
            let k = d * r + j
            g.[2 * d * r + j] <- dzs.[k] + beta * h.[2 * d * r + j]
            // β = 1 keeps the order of operations (and so the rounding) of the loop before β existed.
            g.[2 * d * r + d + j] <-
                if beta = 1.0f then 0.5f * (dzs.[k] * ns.[k] + vs.[k] - 1.0f)
                else 0.5f * (dzs.[k] * ns.[k] + beta * (vs.[k] - 1.0f))

/// `sampleBackwardValues` on tensors: `head` and `gradient` [n; 2d], `dz`, `noise`, `variance` [n; d].
let sampleBackward (beta: float32) (head: torch.Tensor) (dz: torch.Tensor) (noise: torch.Tensor) (variance: torch.Tensor) (gradient: torch.Tensor) =
    sampleBackwardValues (int dz.shape.[1]) beta (float32Values head) (float32Values dz) (float32Values noise) (float32Values variance) (float32Values gradient)

/// Bernoulli log-likelihoods log p(x | l) = Σⱼ xⱼlⱼ − softplus(lⱼ) of the rows of `logits`
/// ([m; p]) under the images `x` ([n; p]; row i is scored against image i mod n, as the IWAE bound
/// broadcasts one image over its samples), written into `result` ([m]). One pass over the logits
/// instead of a product, a softplus and two sums over them, each a temporary of their size: for
/// k = 1,000 samples on 1,000 test images, 784 million values.
let bernoulliLogLikelihood (logits: torch.Tensor) (x: torch.Tensor) (result: torch.Tensor) =
    let l = float32Values logits
    let xs = float32Values x
    let r = float32Values result
    let p = int logits.shape.[1]
    let n = int x.shape.[0]
    let whole = p / Vector<float32>.Count * Vector<float32>.Count
    let one = Vector<float32>.One
    for i in 0 .. r.Length - 1 do
        let row = l.Slice(i * p, p)
        let image = xs.Slice((i % n) * p, p)
        let rv = vectors (row.Slice(0, whole))
        let iv = vectors (image.Slice(0, whole))
        let mutable sum = Vector<float32>.Zero
        for k in 0 .. rv.Length - 1 do
            let li = rv.[k]
            sum <- sum + (iv.[k] * li - Vector.Max(li, Vector<float32>.Zero) - Vector.Log(one + Vector.Exp(-(Vector.Abs li))))
        let mutable total = Vector.Sum sum
        for k in whole .. p - 1 do
            total <- total + image.[k] * row.[k] - max row.[k] 0.0f - MathF.Log(1.0f + MathF.Exp(-(abs row.[k])))
        r.[i] <- total
