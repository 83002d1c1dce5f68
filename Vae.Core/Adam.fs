/// Adam (Kingma and Ba 2015) over a model's flat parameter buffer, with PyTorch's update rule
/// (torch.optim.Adam, no weight decay, no amsgrad).
module Vae.Core.Adam

open System
open System.Runtime.InteropServices
open TorchSharp
open Vae.Core.Layers

/// Optimizer settings and state: first and second moment estimates, and steps taken.
type Adam =
    { LearningRate: float
      Beta1: float
      Beta2: float
      Epsilon: float
      FirstMoment: torch.Tensor
      SecondMoment: torch.Tensor
      Steps: int }

/// Adam with PyTorch's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) for `parameters`.
let create (learningRate: float) (parameters: Parameters) : Adam =
    { LearningRate = learningRate
      Beta1 = 0.9
      Beta2 = 0.999
      Epsilon = 1e-8
      FirstMoment = torch.zeros_like parameters.Values
      SecondMoment = torch.zeros_like parameters.Values
      Steps = 0 }

/// The scalars of step `t` (1-based): the step size lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ).
let private corrections (adam: Adam) (t: float) = adam.LearningRate / (1.0 - adam.Beta1 ** t), sqrt (1.0 - adam.Beta2 ** t)

/// The update as engine operations, for any floating-point type:
/// m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
let private stepWithTensors (adam: Adam) (t: float) (parameters: Parameters) =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let stepSize, root = corrections adam t
    let g = parameters.Gradients
    adam.FirstMoment.mul_(adam.Beta1.ToScalar()).add_(g, alpha = (1.0 - adam.Beta1).ToScalar()) |> ignore
    adam.SecondMoment.mul_(adam.Beta2.ToScalar()).addcmul_(g, g, value = (1.0 - adam.Beta2).ToScalar()) |> ignore
    let denominator = adam.SecondMoment.sqrt().div_(root.ToScalar()).add_(adam.Epsilon.ToScalar())
    parameters.Values.addcdiv_(adam.FirstMoment, denominator, value = (-stepSize).ToScalar()) |> ignore

/// The smallest normal float32. Moments below it are set to zero: a weight whose gradient is zero
/// (a pixel that is 0 in the whole batch, a dead ReLU unit) sees its first moment decay by β₁ each
/// step into the subnormal range, where arithmetic is several times slower (measured: 40 % of the
/// first moments of the five-layer VAE after one epoch, the step 0.5 → 0.3 ms). The update such a
/// moment would make, lr · 1e-38 / ε ≈ 1e-33, is below float32's resolution of any parameter.
[<Literal>]
let private SmallestNormal = 1.17549435e-38f

/// x, or zero if x is subnormal.
let inline private flush (x: float32) = if abs x >= SmallestNormal then x else 0.0f

/// Each lane of x, or zero where it is subnormal (`smallest`: SmallestNormal in every lane).
let inline private flushVector (smallest: Numerics.Vector<float32>) (x: Numerics.Vector<float32>) =
    Numerics.Vector.ConditionalSelect(Numerics.Vector.GreaterThanOrEqual(Numerics.Vector.Abs x, smallest), x, Numerics.Vector<float32>.Zero)

/// Scalars of one float32 step, rounded to float32 as libtorch does for float tensors.
[<Struct>]
type private Constants =
    { B1: float32; C1: float32; B2: float32; C2: float32; InverseRoot: float32; Epsilon: float32; StepSize: float32 }

/// One vector's update from its gradient `gi`: m, v and θ at `i`.
let inline private updateVector (k: Constants) (epsilon: Numerics.Vector<float32>) (smallest: Numerics.Vector<float32>) (theta: Span<Numerics.Vector<float32>>) (m: Span<Numerics.Vector<float32>>) (v: Span<Numerics.Vector<float32>>) (i: int) (gi: Numerics.Vector<float32>) =
    let mi = flushVector smallest (m.[i] * k.B1 + gi * k.C1)
    let vi = flushVector smallest (v.[i] * k.B2 + gi * gi * k.C2)
    m.[i] <- mi
    v.[i] <- vi
    theta.[i] <- theta.[i] - k.StepSize * (mi / (Numerics.Vector.SquareRoot vi * k.InverseRoot + epsilon))

/// The update of the leading whole vectors of the buffers, in the hardware's vector width
/// (System.Numerics.Vector: 256 bits with AVX2), the gradient being g + `g2` when `g2` is not
/// empty (read, not stored); returns the elements done.
let private stepVectors (k: Constants) (theta: Span<float32>) (g: Span<float32>) (g2: Span<float32>) (m: Span<float32>) (v: Span<float32>) =
    let theta = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> theta
    let g = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> g
    let g2 = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> g2
    let m = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> m
    let v = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> v
    let epsilon = Numerics.Vector<float32>(k.Epsilon)
    let smallest = Numerics.Vector<float32>(SmallestNormal)
    if g2.IsEmpty then
        for i in 0 .. theta.Length - 1 do
            updateVector k epsilon smallest theta m v i g.[i]
    else
        for i in 0 .. theta.Length - 1 do
            updateVector k epsilon smallest theta m v i (g.[i] + g2.[i])
    theta.Length * Numerics.Vector<float32>.Count

/// The same one element at a time.
let private step1 (k: Constants) (theta: Span<float32>) (g: Span<float32>) (g2: Span<float32>) (m: Span<float32>) (v: Span<float32>) =
    for i in 0 .. theta.Length - 1 do
        let gi = if g2.IsEmpty then g.[i] else g.[i] + g2.[i]
        let mi = flush (m.[i] * k.B1 + gi * k.C1)
        let vi = flush (v.[i] * k.B2 + gi * gi * k.C2)
        m.[i] <- mi
        v.[i] <- vi
        theta.[i] <- theta.[i] - k.StepSize * (mi / (MathF.Sqrt vi * k.InverseRoot + k.Epsilon))
    theta.Length

/// The same update in float32 of the `count` elements from `offset`, element by element in one pass
/// over the four buffers (whole vectors first, then one element at a time); √v / √(1 − β₂ᵗ) is
/// taken as a product with the reciprocal, saving a division per element, and subnormal moments are
/// flushed to zero. One pass instead of eight engine operations and a temporary the size of the
/// model. Each element's update reads only that element, so a split of the buffer into parts
/// updated apart (`stepPartOfSum`) gives the same numbers.
let private stepFloat32 (adam: Adam) (t: float) (parameters: Parameters) (second: torch.Tensor option) (offset: int) (count: int) =
    let stepSize, root = corrections adam t
    let k =
        { B1 = float32 adam.Beta1; C1 = float32 (1.0 - adam.Beta1)
          B2 = float32 adam.Beta2; C2 = float32 (1.0 - adam.Beta2)
          InverseRoot = float32 (1.0 / root); Epsilon = float32 adam.Epsilon; StepSize = float32 stepSize }
    let theta = (float32Values parameters.Values).Slice(offset, count)
    let g = (float32Values parameters.Gradients).Slice(offset, count)
    let m = (float32Values adam.FirstMoment).Slice(offset, count)
    let v = (float32Values adam.SecondMoment).Slice(offset, count)
    let g2 =
        match second with
        | Some g2 -> (float32Values g2).Slice(offset, count)
        | None -> Span.Empty
    let i = if Numerics.Vector.IsHardwareAccelerated then stepVectors k theta g g2 m v else 0
    step1 k (theta.Slice i) (g.Slice i) (if g2.IsEmpty then g2 else g2.Slice i) (m.Slice i) (v.Slice i) |> ignore

/// True when the fused float32 loop can take the step, whole (`step`) or in parts (`stepPartOfSum`):
/// every buffer a contiguous float32 CPU tensor that a span can hold.
let splittable (adam: Adam) (parameters: Parameters) =
    let contiguous (tensor: torch.Tensor) = tensor.is_contiguous () && tensor.device_type = DeviceType.CPU
    parameters.Values.dtype = torch.ScalarType.Float32
    && List.forall contiguous [ parameters.Values; parameters.Gradients; adam.FirstMoment; adam.SecondMoment ]
    && parameters.Values.NumberOfElements * 4L <= int64 Int32.MaxValue

/// One update of `parameters` from their accumulated gradients. The buffers are updated in place
/// (the engine's tensors are mutable storage); the returned state counts the step.
let step (adam: Adam) (parameters: Parameters) : Adam =
    let t = float (adam.Steps + 1)
    if splittable adam parameters then stepFloat32 adam t parameters None 0 (int parameters.Values.NumberOfElements)
    else stepWithTensors adam t parameters
    { adam with Steps = adam.Steps + 1 }

/// The update of step `adam.Steps + 1` for the `count` parameters from `offset` only, without
/// counting the step, from the gradient `parameters.Gradients` + `second` (a buffer of the same
/// layout), the sum taken as each element is read, in float32, and not stored: a step whose batch
/// was split in two halves, each with its gradient buffer, updated without a pass that adds them
/// first. Parts that cover the buffer, updated on different threads, then `counted`, give the
/// numbers of one `step` on the summed gradient. float32 buffers only (`splittable`).
let stepPartOfSum (adam: Adam) (parameters: Parameters) (second: torch.Tensor) (offset: int) (count: int) : unit =
    if not (splittable adam parameters) then invalidArg (nameof parameters) "a part of a step needs contiguous float32 buffers on the CPU"
    if second.dtype <> torch.ScalarType.Float32 || not (second.is_contiguous ()) || second.NumberOfElements <> parameters.Gradients.NumberOfElements then
        invalidArg (nameof second) "a second gradient needs a contiguous float32 buffer of the parameters' size"
    stepFloat32 adam (float (adam.Steps + 1)) parameters (Some second) offset count

/// The state after a step whose parts were all updated (`stepPartOfSum`).
let counted (adam: Adam) : Adam = { adam with Steps = adam.Steps + 1 }
