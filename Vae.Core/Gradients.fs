/// The loss of a batch and its gradient, for training: the training loss is reconstruction + β·KL,
/// summed over the batch. Any composed model takes autograd (`autograd`); a multilayer perceptron
/// takes the hand-written path (`byHand`): the forward pass keeps each layer's input, the backward
/// pass applies the chain rule layer by layer and writes every parameter's gradient straight into
/// the model's flat gradient buffer. The same mathematics (the tests compare them in float64),
/// without building a graph, zeroing the buffer or accumulating into it.
module Vae.Core.Gradients

open TorchSharp
open Vae.Core.Layers

/// A batch's loss terms summed over its images.
type BatchLoss = { Reconstruction: float; Kl: float }

/// The element-wise steps of one training step: engine operations for any type, or the float32
/// loops.
type private Steps =
    { /// ∂L/∂(pre-activation) from ∂L/∂(ReLU output) (may work in place) and the ReLU's output.
      ReluBackward: torch.Tensor -> torch.Tensor -> torch.Tensor
      /// Summed BCE and ∂/∂logits, from logits and images.
      Reconstruction: torch.Tensor -> torch.Tensor -> float * torch.Tensor
      /// From the head's output and ε: z, the summed KL, and the map from ∂L/∂z to ∂L/∂(head output).
      Sample: torch.Tensor -> torch.Tensor -> torch.Tensor * float * (torch.Tensor -> torch.Tensor) }

let private engineSteps (latent: int64) (beta: float) =
    { ReluBackward = fun d output -> (use active = output.gt ((0.0).ToScalar()) in d.mul_ active)
      Reconstruction =
        fun logits x ->
            // Summed binary cross-entropy from logits l: ∂/∂l = σ(l) − x.
            use loss = torch.nn.functional.binary_cross_entropy_with_logits (logits, x, reduction = torch.nn.Reduction.Sum)
            loss.to_type(torch.ScalarType.Float64).item<float>(), logits.sigmoid().sub_ x
      Sample =
        fun head epsilon ->
            let mean, logVariance = head.narrow(1L, 0L, latent), head.narrow(1L, latent, latent)
            let noise = (logVariance * 0.5).exp_().mul_ epsilon // σ ⊙ ε
            let variance = logVariance.exp()
            // KL = −½ Σ (1 + log σ² − μ² − σ²); ∂KL/∂μ = μ, ∂KL/∂log σ² = ½ (σ² − 1), weighted by β.
            use kl = ((logVariance + 1.0) - mean.square() - variance).sum().mul_((-0.5).ToScalar())
            // z = μ + σ ⊙ ε: ∂z/∂μ = 1 and ∂z/∂log σ² = ½ σ ⊙ ε.
            let headGradientOf (dz: torch.Tensor) =
                if beta = 1.0 then
                    torch.cat ([| dz + mean; (dz * noise).add_(variance).sub_((1.0).ToScalar()).mul_((0.5).ToScalar()) |], 1L)
                else
                    let klLogVariance = variance.sub((1.0).ToScalar()).mul_(beta.ToScalar())
                    torch.cat ([| dz + mean * beta; (dz * noise).add_(klLogVariance).mul_((0.5).ToScalar()) |], 1L)
            mean + noise, kl.to_type(torch.ScalarType.Float64).item<float>(), headGradientOf }

let private float32Steps (beta: float) =
    { ReluBackward = fun d output -> Kernels.reluBackward d output; d
      Reconstruction =
        fun logits x ->
            let gradient = torch.empty_like logits
            Kernels.binaryCrossEntropy logits x gradient, gradient
      Sample =
        fun head epsilon ->
            let z, noise, variance = torch.empty_like epsilon, torch.empty_like epsilon, torch.empty_like epsilon
            let kl = Kernels.sample head epsilon z noise variance
            let headGradientOf dz =
                let gradient = torch.empty_like head
                Kernels.sampleBackward (float32 beta) head dz noise variance gradient
                gradient
            z, kl, headGradientOf }

/// Runs `layers` (ReLU after each) over `x`; returns the input of every layer and the last output.
let private forwardTrunk (layers: Linear list) (x: torch.Tensor) : torch.Tensor list * torch.Tensor =
    layers |> List.mapFold (fun h layer -> h, (linear layer h).relu_()) x

/// Writes the gradients of y = x Wᵀ + b into `gradient`, given x (`input`) and ∂L/∂y: ∂L/∂W =
/// (∂L/∂y)ᵀ x and ∂L/∂b = (∂L/∂y)ᵀ 1, both overwriting (β = 0) what the buffer held.
let private writeLayerGradient (ones: torch.Tensor) (gradient: Linear) (input: torch.Tensor) (outputGradient: torch.Tensor) =
    use transposed = outputGradient.t()
    gradient.Weight.addmm_(transposed, input, beta = 0.0f, alpha = 1.0f) |> ignore
    gradient.Bias.addmv_(transposed, ones, beta = 0.0f, alpha = 1.0f) |> ignore

/// Backpropagates ∂L/∂(output) through `stages` (layer, its gradient views, its input; forward
/// order; every input but the first is a ReLU output), writing each layer's parameter gradients.
/// Returns ∂L/∂(first input) when `wantInput`.
let private backpropagate (steps: Steps) (ones: torch.Tensor) (wantInput: bool) (stages: (Linear * Linear * torch.Tensor) list) (outputGradient: torch.Tensor) =
    let rec back reversed (d: torch.Tensor) =
        match reversed with
        | [] -> Some d
        | [ (layer, gradient, input) ] ->
            writeLayerGradient ones gradient input d
            if wantInput then Some(d.mm layer.Weight) else None
        | (layer, gradient, input) :: earlier ->
            writeLayerGradient ones gradient input d
            // Through the ReLU that made `input`: zero where it was not positive.
            back earlier (steps.ReluBackward (d.mm layer.Weight) input)
    back (List.rev stages) outputGradient

/// The noise ε ([n; latent]) of a pass over `n` images, drawn from `generator` exactly as
/// `Model.sample` draws it; none for an autoencoder.
let noiseFor (generator: torch.Generator) (model: Model) (n: int64) : torch.Tensor option =
    match model.Architecture.Kind with
    | Autoencoder -> None
    | Vae -> Some(torch.randn ([| n; int64 model.Architecture.Latent |], dtype = model.Parameters.Values.dtype, generator = generator))

/// One pass over batch `x` ([n; input]) of a multilayer perceptron by hand, with the VAE's noise
/// `epsilon` ([n; latent], `noiseFor`): returns the batch's summed reconstruction and KL and writes
/// the gradient of reconstruction + β·KL with respect to every parameter into `gradients` (views
/// laid out as the model's parameters, (weight, bias) pairs in order: `linears` of the model's
/// `GradientViews`, or of another buffer of the same layout). float32 models on the CPU take the
/// element-wise steps as loops (`Kernels`), others as engine operations. Temporaries belong to
/// the caller's dispose scope.
let byHandInto (epsilon: torch.Tensor option) (gradients: Linear list) (model: Model) (x: torch.Tensor) : BatchLoss =
    if not model.Architecture.IsMlp then invalidArg (nameof model) $"{model.Architecture} is not a multilayer perceptron"
    use _ = torch.no_grad ()
    let latent = int64 model.Architecture.Latent
    let beta = model.Architecture.Beta
    let steps, x =
        if Kernels.apply [ model.Parameters.Values; x ] then float32Steps beta, x.contiguous()
        else engineSteps latent beta, x
    let encoderLayers, decoderLayers = Model.denseLayers model.Encoder, Model.denseLayers model.Decoder
    let encoderTrunk, encoderHead = List.take (encoderLayers.Length - 1) encoderLayers, List.last encoderLayers
    let decoderTrunk, decoderOutput = List.take (decoderLayers.Length - 1) decoderLayers, List.last decoderLayers
    let depth = model.Architecture.Hidden.Length
    let encoderGradients, headGradient = List.take depth gradients, gradients.[depth]
    let decoderGradients, outputGradient = gradients.[depth + 1 .. 2 * depth], List.last gradients
    let ones = torch.ones ([| x.shape.[0] |], dtype = x.dtype)
    // Forward, keeping each layer's input.
    let encoderInputs, lastHidden = forwardTrunk encoderTrunk x
    let head = linear encoderHead lastHidden
    let z, kl, headGradientOf =
        match epsilon with
        | None -> head, 0.0, id
        | Some epsilon -> steps.Sample head epsilon
    let decoderInputs, lastDecoded = forwardTrunk decoderTrunk z
    let logits = linear decoderOutput lastDecoded
    let reconstruction, dLogits = steps.Reconstruction logits x
    // Backward.
    let decoderStages = List.zip3 (decoderTrunk @ [ decoderOutput ]) (decoderGradients @ [ outputGradient ]) (decoderInputs @ [ lastDecoded ])
    let dz = backpropagate steps ones true decoderStages dLogits |> Option.get
    let encoderStages = List.zip3 (encoderTrunk @ [ encoderHead ]) (encoderGradients @ [ headGradient ]) (encoderInputs @ [ lastHidden ])
    backpropagate steps ones false encoderStages (headGradientOf dz) |> ignore
    { Reconstruction = reconstruction; Kl = kl }

/// One stochastic pass over batch `x` ([n; input]) of a multilayer perceptron by hand, with z's
/// noise from `generator` (`noiseFor`), the gradient written into `model.Parameters.Gradients`
/// (`byHandInto`). Temporaries belong to the caller's dispose scope.
let byHand (generator: torch.Generator) (model: Model) (x: torch.Tensor) : BatchLoss =
    if not model.Architecture.IsMlp then invalidArg (nameof model) $"{model.Architecture} is not a multilayer perceptron"
    byHandInto (noiseFor generator model x.shape.[0]) (linears model.Parameters.GradientViews) model x

/// One stochastic pass over batch `x` of any composed model through autograd: the graph of
/// `Losses.terms` (the noise drawn from `generator` as `byHand` draws it), reconstruction + β·KL
/// summed over the batch, and its backward pass, which accumulates into the parameters' gradient
/// views (the flat gradient buffer, zeroed first). Returns the summed reconstruction and KL.
/// Temporaries belong to the caller's dispose scope.
let autograd (generator: torch.Generator) (model: Model) (x: torch.Tensor) : BatchLoss =
    use _ = torch.enable_grad ()
    model.Parameters.Gradients.zero_ () |> ignore
    let terms = Losses.terms generator model x
    let reconstruction = terms.Reconstruction.sum ()
    let kl = terms.Kl.sum ()
    let beta = model.Architecture.Beta
    let loss = if beta = 1.0 then reconstruction + kl else reconstruction + kl * beta
    loss.backward ()
    let value (t: torch.Tensor) = t.detach().to_type(torch.ScalarType.Float64).item<float> ()
    { Reconstruction = value reconstruction; Kl = value kl }

/// Whether training `model` takes the hand-written gradient: a multilayer perceptron does.
let takesFastPath (model: Model) = model.Architecture.IsMlp

/// The batch's loss terms and the gradient of reconstruction + β·KL in the flat gradient buffer:
/// by hand for a multilayer perceptron (`byHand`, about twice as fast), through autograd otherwise.
let lossAndGradient (generator: torch.Generator) (model: Model) (x: torch.Tensor) : BatchLoss =
    if takesFastPath model then byHand generator model x else autograd generator model x
