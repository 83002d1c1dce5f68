/// The hand-written gradient of a float32 multilayer perceptron (`Gradients.byHandInto`) computed
/// on the engine's memory without going through the engine: MKL's products called directly (`Blas`,
/// with libtorch's own arguments), the element-wise loops of `Kernels`, and every intermediate in a
/// workspace allocated once and reused from step to step. Each engine operation of a step cost a
/// call through the dispatcher, a new tensor and its disposal, and y = x Wᵀ + b a copy of the bias
/// through the engine; about 60 of them per half-batch. The numbers are those of `byHandInto`, bit
/// for bit (the tests compare them), so a training gives the same weights either way.
module Vae.Core.DirectGradient

open System
open System.Runtime.InteropServices
open Microsoft.FSharp.NativeInterop
open TorchSharp
open Vae.Core.Layers

#nowarn "9" // native pointers: the tensors' memory is the engine's, outside the garbage collector

/// One linear layer of the flat parameter buffer: its sizes and where its weight and bias start.
[<Struct>]
type private Dense = { Inputs: int; Outputs: int; Weight: int; Bias: int }

/// The layers of `layout` ((weight [outputs; inputs], bias [outputs]) pairs, in order) with their
/// offsets in the flat buffer.
let private denseLayers (layout: Slot list) : Dense list =
    let rec go offset slots =
        match slots with
        | { Shape = [ outputs; inputs ] } :: { Shape = [ biasOutputs ] } :: rest when biasOutputs = outputs ->
            let weight = offset
            let bias = weight + int (outputs * inputs)
            { Inputs = int inputs; Outputs = int outputs; Weight = weight; Bias = bias } :: go (bias + int outputs) rest
        | [] -> []
        | _ -> invalidArg (nameof layout) "not a multilayer perceptron's (weight, bias) pairs"
    go 0 layout

/// The first element of a contiguous float32 CPU tensor's values (the view's own, offset included).
let private pointerOf (tensor: torch.Tensor) : nativeptr<float32> =
    NativePtr.ofVoidPtr (Runtime.CompilerServices.Unsafe.AsPointer(&MemoryMarshal.GetReference(float32Values tensor)))

let inline private span (p: nativeptr<float32>) (count: int) = Span<float32>(NativePtr.toVoidPtr p, count)

/// Whether steps of `model` can take this path: MKL reachable (`Blas.available`), a float32
/// multilayer perceptron on the CPU, and no layer with one input or one output. libtorch passes
/// other arguments to MKL for a product with a dimension of 1, so those take the engine; so does a
/// batch of one image (`takes`).
let applies (model: Model) =
    model.Architecture.IsMlp
    && model.Parameters.Values.dtype = torch.ScalarType.Float32
    && model.Parameters.Values.device_type = DeviceType.CPU
    && model.Parameters.Values.is_contiguous ()
    && model.Parameters.Gradients.is_contiguous ()
    && denseLayers model.Parameters.Layout |> List.forall (fun l -> l.Inputs >= 2 && l.Outputs >= 2)
    && Blas.available.Force()

/// Whether a batch `x` can take this path, for a model it `applies` to: two images or more, stored
/// contiguously.
let takes (x: torch.Tensor) = x.shape.[0] >= 2L && x.is_contiguous ()

/// The memory of one pass of `model` over batches of up to `capacity` images: each layer's output,
/// the sample's z, σ ⊙ ε and σ², ∂L/∂logits, ∂L/∂z, ∂L/∂(head output), two buffers for the gradient
/// flowing back, and a row of ones. One thread's: the two halves of a split step have one each.
type Workspace(model: Model, capacity: int) =
    let layers = denseLayers model.Parameters.Layout |> Array.ofList
    let depth = model.Architecture.Hidden.Length
    do
        if layers.Length <> 2 * depth + 2 then invalidArg (nameof model) $"{layers.Length} layers for {depth} hidden layers"
    let latent = model.Architecture.Latent
    let head = layers.[depth]
    let posterior = head.Outputs <> latent
    let widest = layers |> Array.map (fun l -> max l.Inputs l.Outputs) |> Array.max
    let pixels = layers.[0].Inputs
    // Sizes in floats, each rounded up to 16 (64 bytes), carved from one aligned block.
    let round (n: int) = (n + 15) / 16 * 16
    let sizes =
        [| yield! layers |> Array.map (fun l -> capacity * l.Outputs) // outputs
           yield capacity * latent // z
           yield capacity * latent // σ ⊙ ε
           yield capacity * latent // σ²
           yield capacity * pixels // ∂L/∂logits
           yield capacity * latent // ∂L/∂z
           yield capacity * head.Outputs // ∂L/∂(head output)
           yield capacity * widest // back 1
           yield capacity * widest // back 2
           yield capacity |] // ones
        |> Array.map round
    let block = NativeMemory.AlignedAlloc(unativeint (Array.sum sizes * sizeof<float32>), 64un)
    let starts = Array.scan (+) 0 sizes
    let buffer i = NativePtr.add (NativePtr.ofVoidPtr<float32> block) starts.[i]
    let outputs = Array.init layers.Length buffer
    let at k = buffer (layers.Length + k)
    let z, noise, variance, dLogits, dz, dHead, back1, back2, ones = at 0, at 1, at 2, at 3, at 4, at 5, at 6, at 7, at 8
    do (span ones capacity).Fill 1.0f
    let mutable disposed = false

    /// y = x Wᵀ + b for layer `l` of the parameters at `values`: the bias copied into each row of y,
    /// then the product accumulated onto it (libtorch's addmm).
    let linear (values: nativeptr<float32>) (rows: int) (l: Dense) (x: nativeptr<float32>) (y: nativeptr<float32>) =
        let bias = span (NativePtr.add values l.Bias) l.Outputs
        for r in 0 .. rows - 1 do
            bias.CopyTo(span (NativePtr.add y (r * l.Outputs)) l.Outputs)
        Blas.linearAccumulate rows l.Inputs l.Outputs x (NativePtr.add values l.Weight) y

    /// max(y, 0) in place, NaN kept (as libtorch's relu_).
    let relu (y: nativeptr<float32>) (count: int) =
        let values = span y count
        let vectors = MemoryMarshal.Cast<float32, Numerics.Vector<float32>> values
        for k in 0 .. vectors.Length - 1 do
            let v = vectors.[k]
            vectors.[k] <- Numerics.Vector.ConditionalSelect(Numerics.Vector.LessThan(v, Numerics.Vector<float32>.Zero), Numerics.Vector<float32>.Zero, v)
        for k in vectors.Length * Numerics.Vector<float32>.Count .. count - 1 do
            if values.[k] < 0.0f then values.[k] <- 0.0f

    /// Layer `l`'s weight and bias gradients from its input `x` and ∂L/∂y, into the buffer at `gradients`.
    let layerGradient (gradients: nativeptr<float32>) (rows: int) (l: Dense) (x: nativeptr<float32>) (dy: nativeptr<float32>) =
        Blas.weightGradient rows l.Inputs l.Outputs x dy (NativePtr.add gradients l.Weight)
        Blas.biasGradient rows l.Outputs dy ones (NativePtr.add gradients l.Bias)

    /// The images this workspace holds at most.
    member _.Capacity = capacity

    /// One pass over batch `x` ([rows; pixels], contiguous float32, 2 ≤ rows ≤ `Capacity`) with
    /// the VAE's noise `epsilon` ([rows; latent]; none for an autoencoder), as
    /// `Gradients.byHandInto`: the batch's summed reconstruction and KL, the gradient of
    /// reconstruction + β·KL written into `gradients` (a flat buffer of the parameters' layout).
    member _.Pass(epsilon: torch.Tensor option, gradients: torch.Tensor, x: torch.Tensor) : Gradients.BatchLoss =
        if disposed then raise (ObjectDisposedException(nameof Workspace))
        let rows = int x.shape.[0]
        if rows < 2 || rows > capacity then invalidArg (nameof x) $"{rows} images for a workspace of 2 to {capacity}"
        let float32Cpu (t: torch.Tensor) = t.dtype = torch.ScalarType.Float32 && t.device_type = DeviceType.CPU && t.is_contiguous ()
        if not (float32Cpu x) || x.dim () <> 2L || x.shape.[1] <> int64 pixels then invalidArg (nameof x) $"expected contiguous float32 rows of {pixels} values"
        match epsilon with
        | Some e when not posterior || not (float32Cpu e) || e.shape <> [| int64 rows; int64 latent |] ->
            invalidArg (nameof epsilon) $"expected contiguous float32 noise of [{rows}; {latent}] for a VAE"
        | None when posterior -> invalidArg (nameof epsilon) "a VAE's pass needs its noise"
        | _ -> ()
        if not (float32Cpu gradients) || gradients.NumberOfElements <> model.Parameters.Values.NumberOfElements then
            invalidArg (nameof gradients) "expected a contiguous float32 buffer of the parameters' size"
        let values = pointerOf model.Parameters.Values
        let g = pointerOf gradients
        let input = pointerOf x
        // Forward, each layer's output kept.
        let mutable h = input
        for i in 0 .. depth - 1 do
            linear values rows layers.[i] h outputs.[i]
            relu outputs.[i] (rows * layers.[i].Outputs)
            h <- outputs.[i]
        linear values rows head h outputs.[depth]
        let n = rows * latent
        let code, kl =
            match epsilon with
            | Some e ->
                let e = pointerOf e
                z, Kernels.sampleValues latent (span outputs.[depth] (rows * head.Outputs)) (span e n) (span z n) (span noise n) (span variance n)
            | None -> outputs.[depth], 0.0
        h <- code
        for i in depth + 1 .. 2 * depth do
            linear values rows layers.[i] h outputs.[i]
            relu outputs.[i] (rows * layers.[i].Outputs)
            h <- outputs.[i]
        let last = layers.Length - 1
        linear values rows layers.[last] h outputs.[last]
        let reconstruction = Kernels.binaryCrossEntropyValues (span outputs.[last] (rows * pixels)) (span input (rows * pixels)) (span dLogits (rows * pixels))
        // Backward: layer i's input is the output of layer i − 1, z for the decoder's first, x for
        // the encoder's first; through the ReLU that made it (zero where it was not positive).
        let mutable d = dLogits
        let mutable spare = back1
        let backThrough (i: int) (first: int) (firstInput: nativeptr<float32>) (into: nativeptr<float32>) =
            for i in i .. -1 .. first do
                let l = layers.[i]
                let layerInput = if i = first then firstInput else outputs.[i - 1]
                layerGradient g rows l layerInput d
                if i > first then
                    Blas.inputGradient rows l.Inputs l.Outputs d (NativePtr.add values l.Weight) spare
                    Kernels.reluBackwardValues (span spare (rows * l.Inputs)) (span layerInput (rows * l.Inputs))
                    d <- spare
                    spare <- if NativePtr.toNativeInt d = NativePtr.toNativeInt back1 then back2 else back1
                elif NativePtr.toNativeInt into <> 0n then
                    Blas.inputGradient rows l.Inputs l.Outputs d (NativePtr.add values l.Weight) into
        backThrough last (depth + 1) code dz
        match epsilon with
        | Some _ ->
            Kernels.sampleBackwardValues latent (float32 model.Architecture.Beta) (span outputs.[depth] (rows * head.Outputs)) (span dz n) (span noise n) (span variance n) (span dHead (rows * head.Outputs))
            d <- dHead
        | None -> d <- dz
        spare <- back1
        backThrough depth 0 input NativePtr.nullPtr
        { Reconstruction = reconstruction; Kl = kl }

    interface IDisposable with
        member _.Dispose() =
            if not disposed then
                disposed <- true
                NativeMemory.AlignedFree block
