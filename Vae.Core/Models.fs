/// Variational and standard autoencoders as data (an architecture) and pure functions over
/// (parameters, input).
namespace Vae.Core

open System
open TorchSharp
open Vae.Core.Layers

/// Which model: a variational autoencoder (Gaussian posterior, KL term) or a standard autoencoder
/// (one linear layer to the code, no KL term).
type ModelKind =
    | Vae
    | Autoencoder

/// What each kind is, declared once: a new kind is one case here, one line in each function of
/// this module, and its loss (Gradients.fs; Likelihood.fs if it has a posterior).
module ModelKind =
    /// Every kind.
    let all = [ Vae; Autoencoder ]

    /// Its key in definitions and checkpoints: "vae", "ae".
    let key kind =
        match kind with
        | Vae -> "vae"
        | Autoencoder -> "ae"

    /// Its name in descriptions: "VAE", "AE".
    let label kind =
        match kind with
        | Vae -> "VAE"
        | Autoencoder -> "AE"

    /// Whether its encoder gives a posterior (μ, log σ²) rather than a point: it then has a KL term,
    /// an ELBO and an IWAE estimate, and its head is twice the latent width.
    let hasPosterior kind =
        match kind with
        | Vae -> true
        | Autoencoder -> false

    /// The kind of `key`, if there is one.
    let tryOfKey (key': string) = all |> List.tryFind (fun k -> key k = key')

    /// The keys, for messages: "\"vae\" or \"ae\"".
    let keys () = all |> List.map (fun k -> $"\"{key k}\"") |> String.concat " or "

    /// Width of the encoder's head for a latent size: μ and log σ² side by side, or z.
    let headWidth kind (latent: int64) = if hasPosterior kind then 2L * latent else latent

/// The shape of a model, validated once by `Architecture.create`: every width ≥ 1, latent ≥ 1.
/// The decoder mirrors the encoder: hidden [400; 200; 100] encodes 784-400-200-100-latent and
/// decodes latent-100-200-400-784.
type Architecture =
    private
        { kind: ModelKind
          input: int
          hidden: int list
          latent: int }

    /// VAE or autoencoder.
    member a.Kind = a.kind
    /// Values per input image (784 for Fashion-MNIST's 28 × 28).
    member a.Input = a.input
    /// Encoder hidden widths, input side first.
    member a.Hidden = a.hidden
    /// Size of the code z.
    member a.Latent = a.latent

    /// E.g. "VAE 784-400-200-100-20".
    override a.ToString() =
        let name = ModelKind.label a.kind
        let widths = a.input :: a.hidden @ [ a.latent ] |> List.map string
        $"""{name} {String.Join("-", widths)}"""

module Architecture =
    /// The architecture, or the first rule it breaks.
    let tryCreate (kind: ModelKind) (input: int) (hidden: int list) (latent: int) : Result<Architecture, string> =
        if input < 1 then Error $"input: must be at least 1, was {input}"
        else
            match hidden |> List.tryFindIndex (fun w -> w < 1) with
            | Some i -> Error $"hidden[{i}]: must be at least 1, was {hidden.[i]}"
            | None when latent < 1 -> Error $"latent: must be at least 1, was {latent}"
            | None -> Ok { kind = kind; input = input; hidden = hidden; latent = latent }

    /// The architecture of a model of images of `input` values; raises the bad-input error naming
    /// the rule broken.
    let createFor (input: int) (kind: ModelKind) (hidden: int list) (latent: int) : Architecture =
        tryCreate kind input hidden latent |> InvalidInput.orRaise "architecture"

    /// The architecture of a model of Fashion-MNIST's 28 × 28 images; throws ArgumentException
    /// naming the rule broken.
    let create (kind: ModelKind) (hidden: int list) (latent: int) : Architecture = createFor FashionMnist.Pixels kind hidden latent

    /// The seed study's three-layer baseline: VAE 784-400-20.
    let baseline = create Vae [ 400 ] 20

    /// The seed study's five-layer VAE: 784-400-200-100-20.
    let fiveLayer = create Vae [ 400; 200; 100 ] 20

    /// Width of the encoder's head: μ and log σ² side by side for a VAE, z for an autoencoder.
    let headWidth (a: Architecture) = int (ModelKind.headWidth a.Kind (int64 a.Latent))

    /// The parameter tensors' names and shapes, in the order they are stored.
    let layout (a: Architecture) : Slot list =
        let encoderWidths = a.Input :: a.Hidden
        let decoderWidths = a.Latent :: List.rev a.Hidden
        let trunk prefix widths = widths |> List.pairwise |> List.mapi (fun i (n, m) -> linearSlots $"{prefix}.{i}" n m) |> List.concat
        trunk "encoder" encoderWidths
        @ linearSlots "encoder.head" (List.last encoderWidths) (headWidth a)
        @ trunk "decoder" decoderWidths
        @ linearSlots "decoder.output" (List.last decoderWidths) a.Input

    /// Number of trainable values.
    let parameterCount (a: Architecture) = layout a |> List.sumBy elements

/// What the encoder makes of a batch: a diagonal Gaussian posterior (VAE) or a point (autoencoder).
type Code =
    | Posterior of mean: torch.Tensor * logVariance: torch.Tensor
    | Point of torch.Tensor

/// A model: its architecture, its parameters, and the layers that view them.
type Model =
    { Architecture: Architecture
      Parameters: Parameters
      EncoderTrunk: Linear list
      /// For a VAE the head's first `Latent` outputs are μ and the rest log σ² (one layer split in two).
      EncoderHead: Linear
      DecoderTrunk: Linear list
      DecoderOutput: Linear }

module Model =
    /// The model whose layers view `parameters` (laid out by `Architecture.layout`).
    let ofParameters (architecture: Architecture) (parameters: Parameters) : Model =
        let layers = linears parameters.Tensors
        let depth = architecture.Hidden.Length
        { Architecture = architecture
          Parameters = parameters
          EncoderTrunk = List.take depth layers
          EncoderHead = layers.[depth]
          DecoderTrunk = layers.[depth + 1 .. 2 * depth]
          DecoderOutput = List.last layers }

    /// A model with PyTorch's default initialisation drawn from `seed`.
    let create (seed: int64) (architecture: Architecture) : Model =
        let model = Architecture.layout architecture |> allocate torch.ScalarType.Float32 |> ofParameters architecture
        use generator = new torch.Generator(uint64 seed)
        initialiseLinear generator (linears model.Parameters.Tensors)
        model

    /// A copy of the model in another floating-point type (e.g. float64 for gradient checks).
    let convert (dtype: torch.ScalarType) (model: Model) : Model =
        let copy = Architecture.layout model.Architecture |> allocate dtype |> ofParameters model.Architecture
        use _ = torch.no_grad ()
        copy.Parameters.Values.copy_ model.Parameters.Values |> ignore
        copy

    /// Number of trainable values.
    let parameterCount (model: Model) = Architecture.parameterCount model.Architecture

    /// The encoder's output for images `x` ([n; 784]).
    let encodeCode (model: Model) (x: torch.Tensor) : Code =
        let head = linear model.EncoderHead (mlp model.EncoderTrunk x)
        if ModelKind.hasPosterior model.Architecture.Kind then
            let latent = int64 model.Architecture.Latent
            Posterior(head.narrow(1L, 0L, latent), head.narrow(1L, latent, latent))
        else Point head

    /// The code of each image: μ for a VAE, z for an autoencoder.
    let encode (model: Model) (x: torch.Tensor) : torch.Tensor =
        match encodeCode model x with
        | Posterior(mean, _) -> mean
        | Point z -> z

    /// z = μ + σ ⊙ ε with ε ~ N(0, I) drawn from `generator` (the reparameterisation trick); a point
    /// code is returned as it is.
    let sample (generator: torch.Generator) (code: Code) : torch.Tensor =
        match code with
        | Posterior(mean, logVariance) ->
            let epsilon = torch.randn (mean.shape, dtype = mean.dtype, generator = generator)
            mean + (logVariance * 0.5).exp() * epsilon
        | Point z -> z

    /// Bernoulli logits of the images the decoder makes of codes `z`.
    let decodeLogits (model: Model) (z: torch.Tensor) : torch.Tensor = linear model.DecoderOutput (mlp model.DecoderTrunk z)

    /// Images (pixels in [0, 1]) the decoder makes of codes `z`.
    let decode (model: Model) (z: torch.Tensor) : torch.Tensor = (decodeLogits model z).sigmoid()

    /// Reconstructions of images `x` through their codes (μ for a VAE: no sampling noise).
    let reconstruct (model: Model) (x: torch.Tensor) : torch.Tensor = encode model x |> decode model

    /// `count` images decoded from z ~ N(0, I) drawn from `generator`.
    let generate (generator: torch.Generator) (count: int) (model: Model) : torch.Tensor =
        let z = torch.randn ([| int64 count; int64 model.Architecture.Latent |], dtype = model.Parameters.Values.dtype, generator = generator)
        decode model z
