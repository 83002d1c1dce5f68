/// The loss of a batch and its gradient by hand, for training: the forward pass keeps each layer's
/// input, the backward pass applies the chain rule layer by layer and writes every parameter's
/// gradient straight into the model's flat gradient buffer. The mathematics of autograd on
/// `Losses.terms` (the tests compare them in float64), without building a graph, zeroing the buffer
/// or accumulating into it.
module Vae.Core.Gradients

open TorchSharp
open Vae.Core.Layers

/// A batch's loss terms summed over its images (0-dimensional tensors, left on the device).
type BatchLoss = { Reconstruction: torch.Tensor; Kl: torch.Tensor }

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
let private backpropagate (ones: torch.Tensor) (wantInput: bool) (stages: (Linear * Linear * torch.Tensor) list) (outputGradient: torch.Tensor) =
    let rec back reversed (d: torch.Tensor) =
        match reversed with
        | [] -> Some d
        | [ (layer, gradient, input) ] ->
            writeLayerGradient ones gradient input d
            if wantInput then Some(d.mm layer.Weight) else None
        | (layer, gradient, input) :: earlier ->
            writeLayerGradient ones gradient input d
            // Through the ReLU that made `input`: zero where it was not positive.
            use active = input.gt ((0.0).ToScalar())
            back earlier (d.mm(layer.Weight).mul_ active)
    back (List.rev stages) outputGradient

/// One stochastic pass over batch `x` ([n; 784]) with z's noise from `generator` (drawn exactly as
/// `Model.sample` draws it): returns the batch's summed reconstruction and KL and writes the
/// gradient of their sum with respect to every parameter into `model.Parameters.Gradients`.
/// Temporaries belong to the caller's dispose scope.
let lossAndGradient (generator: torch.Generator) (model: Model) (x: torch.Tensor) : BatchLoss =
    use _ = torch.no_grad ()
    let gradients = linears model.Parameters.GradientViews
    let depth = model.Architecture.Hidden.Length
    let encoderGradients, headGradient = List.take depth gradients, gradients.[depth]
    let decoderGradients, outputGradient = gradients.[depth + 1 .. 2 * depth], List.last gradients
    let ones = torch.ones ([| x.shape.[0] |], dtype = x.dtype)
    // Forward, keeping each layer's input.
    let encoderInputs, lastHidden = forwardTrunk model.EncoderTrunk x
    let head = linear model.EncoderHead lastHidden
    let latent = int64 model.Architecture.Latent
    let z, kl, headGradientOf =
        match model.Architecture.Kind with
        | Autoencoder -> head, torch.zeros ([||], dtype = x.dtype), id
        | Vae ->
            let mean, logVariance = head.narrow(1L, 0L, latent), head.narrow(1L, latent, latent)
            let epsilon = torch.randn (mean.shape, dtype = mean.dtype, generator = generator)
            let noise = (logVariance * 0.5).exp_().mul_ epsilon // σ ⊙ ε
            let variance = logVariance.exp()
            // KL = −½ Σ (1 + log σ² − μ² − σ²); ∂KL/∂μ = μ, ∂KL/∂log σ² = ½ (σ² − 1).
            let kl = ((logVariance + 1.0) - mean.square() - variance).sum().mul_((-0.5).ToScalar())
            // z = μ + σ ⊙ ε: ∂z/∂μ = 1 and ∂z/∂log σ² = ½ σ ⊙ ε.
            let headGradientOf (dz: torch.Tensor) =
                torch.cat ([| dz + mean; (dz * noise).add_(variance).sub_((1.0).ToScalar()).mul_((0.5).ToScalar()) |], 1L)
            mean + noise, kl, headGradientOf
    let decoderInputs, lastDecoded = forwardTrunk model.DecoderTrunk z
    let logits = linear model.DecoderOutput lastDecoded
    let reconstruction =
        torch.nn.functional.binary_cross_entropy_with_logits (logits, x, reduction = torch.nn.Reduction.Sum)
    // Backward. Summed binary cross-entropy from logits l: ∂/∂l = σ(l) − x.
    let dLogits = logits.sigmoid().sub_ x
    let decoderStages =
        List.zip3 (model.DecoderTrunk @ [ model.DecoderOutput ]) (decoderGradients @ [ outputGradient ]) (decoderInputs @ [ lastDecoded ])
    let dz = backpropagate ones true decoderStages dLogits |> Option.get
    let encoderStages =
        List.zip3 (model.EncoderTrunk @ [ model.EncoderHead ]) (encoderGradients @ [ headGradient ]) (encoderInputs @ [ lastHidden ])
    backpropagate ones false encoderStages (headGradientOf dz) |> ignore
    { Reconstruction = reconstruction; Kl = kl }
