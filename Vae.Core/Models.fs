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

/// A model as a definition declares it, before the images it is for are known.
type Design =
    { Kind: ModelKind
      /// Output channels of each convolution before the hidden layers (4 × 4, stride 2, padding 1,
      /// then ReLU: 28 → 14 → 7 for two); none for a multilayer perceptron.
      Conv: int list
      /// Widths of the fully connected hidden layers, input side first.
      Hidden: int list
      /// Size of the code z.
      Latent: int
      /// Weight of the KL term in the training loss: reconstruction + β·KL (1: the negative ELBO;
      /// a VAE only).
      Beta: float }

module Design =
    /// A multilayer perceptron of `kind` with β = 1: the seed study's models.
    let mlp (kind: ModelKind) (hidden: int list) (latent: int) = { Kind = kind; Conv = []; Hidden = hidden; Latent = latent; Beta = 1.0 }

    /// The same layers as a model of `kind`: an autoencoder has no KL term to weight (β = 1).
    let asKind (kind: ModelKind) (design: Design) =
        { design with Kind = kind; Beta = if ModelKind.hasPosterior kind then design.Beta else 1.0 }

/// The shape of a model, validated once by `Architecture.tryOfDesign` (or `tryCreate` for a
/// perceptron): every width and channel count ≥ 1, the convolutions fit the image, β > 0. The
/// decoder mirrors the encoder: hidden [400; 200; 100] encodes 784-400-200-100-latent and decodes
/// latent-100-200-400-784; conv [32; 64] convolves 1 × 28 × 28 to 32 × 14 × 14 to 64 × 7 × 7 and
/// the decoder's transposed convolutions go back.
type Architecture =
    private
        { kind: ModelKind
          input: int
          /// Height and width of the images, for a model with convolutions (None for a perceptron,
          /// which sees an image as `input` values whatever its shape).
          image: (int * int) option
          conv: int list
          hidden: int list
          latent: int
          beta: float }

    /// VAE or autoencoder.
    member a.Kind = a.kind
    /// Values per input image (784 for Fashion-MNIST's 28 × 28).
    member a.Input = a.input
    /// Height and width of the images, for a model with convolutions.
    member a.Image = a.image
    /// Output channels of the encoder's convolutions, input side first (none for a perceptron).
    member a.Conv = a.conv
    /// Encoder hidden widths, input side first.
    member a.Hidden = a.hidden
    /// Size of the code z.
    member a.Latent = a.latent
    /// Weight of the KL term in the training loss (1 for the negative ELBO, and for an autoencoder).
    member a.Beta = a.beta
    /// Whether the model is a multilayer perceptron (no convolution): training then takes the
    /// hand-written gradient (Gradients.fs).
    member a.IsMlp = a.conv.IsEmpty
    /// The model as a definition declares it.
    member a.Design = { Kind = a.kind; Conv = a.conv; Hidden = a.hidden; Latent = a.latent; Beta = a.beta }

    /// E.g. "VAE 784-400-200-100-20", "VAE 784-c32-c64-256-20 (β = 4)".
    override a.ToString() =
        let name = ModelKind.label a.kind
        let widths = string a.input :: (a.conv |> List.map (fun c -> $"c{c}")) @ (a.hidden @ [ a.latent ] |> List.map string)
        let beta = if a.beta = 1.0 then "" else $" (β = {a.beta.ToString(Globalization.CultureInfo.InvariantCulture)})"
        $"""{name} {String.Join("-", widths)}{beta}"""

/// The geometry every convolution of a composed model shares.
module Convolution =
    /// Kernel height and width.
    [<Literal>]
    let Kernel = 4
    /// Each convolution halves the height and width; each transposed one doubles them.
    [<Literal>]
    let Stride = 2
    /// Zero padding on every side.
    [<Literal>]
    let Padding = 1
    /// The most convolutions a model may declare (2¹⁶ is beyond any image this library reads).
    [<Literal>]
    let MaxLayers = 16

    /// How many stride-2 convolutions an image of `height` × `width` allows: halving both must
    /// leave whole numbers, so the transposed convolutions give the image's size back.
    let allowed (height: int) (width: int) =
        let rec twos n count = if n > 0 && n % 2 = 0 then twos (n / 2) (count + 1) else count
        min (twos height 0) (twos width 0)

module Architecture =
    let private validate kind input (image: (int * int) option) conv hidden latent (beta: float) : Result<Architecture, string> =
        let convProblem () =
            match conv |> List.tryFindIndex (fun c -> c < 1), image with
            | Some i, _ -> Some $"conv[{i}]: must be at least 1 channel, was {conv.[i]}"
            | None, _ when List.isEmpty conv -> None
            | None, None -> Some "conv: convolutions need the images' height and width"
            | None, Some(height, width) ->
                let allowed = Convolution.allowed height width
                if conv.Length > allowed then
                    let factor = 1 <<< min conv.Length 30
                    Some
                        $"conv: {conv.Length} stride-2 convolutions need the image's height and width divisible by {factor}; {height} × {width} allows at most {allowed}"
                else None
        if input < 1 then Error $"input: must be at least 1, was {input}"
        else
            match convProblem () with
            | Some problem -> Error problem
            | None ->
                match hidden |> List.tryFindIndex (fun w -> w < 1) with
                | Some i -> Error $"hidden[{i}]: must be at least 1, was {hidden.[i]}"
                | None when latent < 1 -> Error $"latent: must be at least 1, was {latent}"
                | None when not (beta > 0.0 && Double.IsFinite beta) -> Error $"beta: must be a positive number, was {beta}"
                | None when beta <> 1.0 && not (ModelKind.hasPosterior kind) ->
                    Error $"beta: weights the KL term, which an autoencoder does not have (was {beta})"
                | None ->
                    Ok
                        { kind = kind
                          input = input
                          image = (if List.isEmpty conv then None else image)
                          conv = conv
                          hidden = hidden
                          latent = latent
                          beta = beta }

    /// The perceptron architecture (β = 1), or the first rule it breaks.
    let tryCreate (kind: ModelKind) (input: int) (hidden: int list) (latent: int) : Result<Architecture, string> =
        validate kind input None [] hidden latent 1.0

    /// The architecture of `design` for images of `height` × `width`, or the first rule it breaks.
    let tryOfDesign (height: int, width: int) (design: Design) : Result<Architecture, string> =
        if height < 1 || width < 1 then Error $"image: height and width must be at least 1, were {height} × {width}"
        elif design.Conv.Length > Convolution.MaxLayers then
            Error $"conv: at most {Convolution.MaxLayers} convolutions, was {design.Conv.Length}"
        else validate design.Kind (height * width) (Some(height, width)) design.Conv design.Hidden design.Latent design.Beta

    /// The architecture of `design` for images of `height` × `width`; raises the bad-input error
    /// naming the rule broken.
    let ofDesign (height: int, width: int) (design: Design) : Architecture =
        tryOfDesign (height, width) design |> InvalidInput.orRaise "architecture"

    /// The perceptron of images of `input` values; raises the bad-input error naming the rule broken.
    let createFor (input: int) (kind: ModelKind) (hidden: int list) (latent: int) : Architecture =
        tryCreate kind input hidden latent |> InvalidInput.orRaise "architecture"

    /// The perceptron of Fashion-MNIST's 28 × 28 images; raises the bad-input error naming the rule broken.
    let create (kind: ModelKind) (hidden: int list) (latent: int) : Architecture = createFor FashionMnist.Pixels kind hidden latent

    /// The same architecture with another β (a VAE's; raises the bad-input error otherwise).
    let withBeta (beta: float) (a: Architecture) : Architecture =
        validate a.kind a.input a.image a.conv a.hidden a.latent beta |> InvalidInput.orRaise "architecture"

    /// The seed study's three-layer baseline: VAE 784-400-20.
    let baseline = create Vae [ 400 ] 20

    /// The seed study's five-layer VAE: 784-400-200-100-20.
    let fiveLayer = create Vae [ 400; 200; 100 ] 20

    /// Width of the encoder's head: μ and log σ² side by side for a VAE, z for an autoencoder.
    let headWidth (a: Architecture) = int (ModelKind.headWidth a.Kind (int64 a.Latent))

    /// Channels, height and width after each convolution, the image's first: (1, 28, 28),
    /// (32, 14, 14), (64, 7, 7) for conv [32; 64] (just the image for a perceptron).
    let featureMaps (a: Architecture) : (int * int * int) list =
        match a.Image with
        | None -> []
        | Some(height, width) ->
            (1, height, width)
            :: (a.Conv |> List.mapi (fun i c -> c, height >>> (i + 1), width >>> (i + 1)))

    let private dense name inputs outputs = Dense(linearSlots name inputs outputs)

    /// A convolution's weight (of `shape`, the kernel's two dimensions appended) and bias slots.
    let private kernelSlots name (shape: int list) (outputs: int) =
        let k = int64 Convolution.Kernel
        [ { Name = $"{name}.weight"; Shape = (shape |> List.map int64) @ [ k; k ] }
          { Name = $"{name}.bias"; Shape = [ int64 outputs ] } ]

    let private stride, padding = int64 Convolution.Stride, int64 Convolution.Padding

    /// nn.Conv2d's weight is [out; in; k; k].
    let private convolution name (inputs: int) (outputs: int) = Conv(kernelSlots name [ outputs; inputs ] outputs, stride, padding)

    /// nn.ConvTranspose2d's weight is [in; out; k; k].
    let private transposed name (inputs: int) (outputs: int) = ConvTranspose(kernelSlots name [ inputs; outputs ] outputs, stride, padding)

    /// Dense layers between consecutive `widths`, a ReLU after each, named "<prefix>.<i>".
    let private trunk prefix (widths: int list) =
        widths |> List.pairwise |> List.mapi (fun i (n, m) -> [ dense $"{prefix}.{i}" n m; Relu ]) |> List.concat

    /// Values a flattened output of the last convolution holds (the input's for a perceptron).
    let private flatWidth (a: Architecture) =
        match List.tryLast (featureMaps a) with
        | Some(c, h, w) when not a.IsMlp -> c * h * w
        | _ -> a.Input

    /// The encoder, from images ([n; input]) to the head's output: convolutions (each followed by
    /// a ReLU; "encoder.conv.<i>") on the image reshaped to 1 × height × width, flattened; dense
    /// layers with ReLUs ("encoder.<i>"); the head ("encoder.head").
    let encoder (a: Architecture) : Layer<Slot list> list =
        let convolutions =
            match featureMaps a with
            | [] -> []
            | (_, height, width) :: _ as maps ->
                [ yield Reshape [ 1L; int64 height; int64 width ]
                  for i, ((cin, _, _), (cout, _, _)) in List.indexed (List.pairwise maps) do
                      yield convolution $"encoder.conv.{i}" cin cout
                      yield Relu
                  yield Reshape [ int64 (flatWidth a) ] ]
        let widths = flatWidth a :: a.Hidden
        convolutions @ trunk "encoder" widths @ [ dense "encoder.head" (List.last widths) (headWidth a) ]

    /// The decoder, from codes ([n; latent]) to Bernoulli logits of images ([n; input]): the
    /// encoder mirrored. A perceptron's last layer is dense ("decoder.output"); with convolutions,
    /// dense layers with ReLUs lead to the last feature map's size, reshaped, then transposed
    /// convolutions with ReLUs ("decoder.deconv.<i>"), the last without ("decoder.output"), flattened.
    let decoder (a: Architecture) : Layer<Slot list> list =
        let widths = a.Latent :: List.rev a.Hidden
        match List.rev (featureMaps a) with
        | [] -> trunk "decoder" widths @ [ dense "decoder.output" (List.last widths) a.Input ]
        | (c, h, w) :: _ as maps ->
            let steps = List.pairwise maps
            trunk "decoder" (widths @ [ flatWidth a ])
            @ [ yield Reshape [ int64 c; int64 h; int64 w ]
                for i, ((cin, _, _), (cout, _, _)) in List.indexed steps do
                    if i < steps.Length - 1 then
                        yield transposed $"decoder.deconv.{i}" cin cout
                        yield Relu
                    else yield transposed "decoder.output" cin cout
                yield Reshape [ int64 a.Input ] ]

    /// The parameter tensors' names and shapes, in the order they are stored: the encoder's layers
    /// then the decoder's, weight before bias (PyTorch's state_dict names, see the README).
    let layout (a: Architecture) : Slot list =
        encoder a @ decoder a |> List.choose Layer.parameters |> List.concat

    /// Number of trainable values.
    let parameterCount (a: Architecture) = layout a |> List.sumBy elements

    /// Height and width of the images the model reads and writes: its convolutions' image size or,
    /// for a perceptron (whose checkpoint records only its input size), the square its input makes;
    /// None when the input is no square (a perceptron of 10 × 20 images).
    let imageSize (a: Architecture) : (int * int) option =
        match a.Image with
        | Some size -> Some size
        | None ->
            let side = int (round (sqrt (float a.Input)))
            if side * side = a.Input then Some(side, side) else None

    /// Multiply-adds of one image's forward pass through encoder and decoder (biases counted as
    /// one each): a dense layer's parameters, a convolution's weights times the positions it is
    /// applied at. For a perceptron, its parameter count.
    let forwardCost (a: Architecture) : int64 =
        // A convolution is applied at each position of its output, a transposed one at each of its
        // input's: the feature maps after the image, in the encoder's order, then in the decoder's.
        let positions = featureMaps a |> List.map (fun (_, h, w) -> int64 h * int64 w) |> List.truncate 1000
        let maps = if positions.IsEmpty then [] else List.tail positions
        let weights slots = slots |> List.sumBy elements
        encoder a @ decoder a
        |> List.fold
            (fun (total, convolved: int64 list, transposed: int64 list) layer ->
                match layer with
                | Dense slots -> total + weights slots, convolved, transposed
                | Conv(slots, _, _) -> total + List.head convolved * weights slots, List.tail convolved, transposed
                | ConvTranspose(slots, _, _) -> total + List.head transposed * weights slots, convolved, List.tail transposed
                | Relu
                | Reshape _ -> total, convolved, transposed)
            (0L, maps, List.rev maps)
        |> fun (total, _, _) -> total

/// What the encoder makes of a batch: a diagonal Gaussian posterior (VAE) or a point (autoencoder).
type Code =
    | Posterior of mean: torch.Tensor * logVariance: torch.Tensor
    | Point of torch.Tensor

/// A model: its architecture, its parameters, and the layers that view them.
type Model =
    { Architecture: Architecture
      Parameters: Parameters
      /// From images to the head's output; for a VAE the head's first `Latent` outputs are μ and
      /// the rest log σ² (one layer split in two).
      Encoder: Layer<Linear> list
      /// From codes to Bernoulli logits.
      Decoder: Layer<Linear> list }

    /// The encoder's last layer, which gives μ and log σ² (or z).
    member m.EncoderHead =
        match List.last m.Encoder with
        | Dense l -> l
        | _ -> invalidOp "an encoder ends in a dense head"

module Model =
    /// The model whose layers view `parameters` (laid out by `Architecture.layout`).
    let ofParameters (architecture: Architecture) (parameters: Parameters) : Model =
        let encoder, rest = Layer.bind (Architecture.encoder architecture) parameters.Tensors
        let decoder, rest = Layer.bind (Architecture.decoder architecture) rest
        if not rest.IsEmpty then invalidArg (nameof parameters) $"{rest.Length} tensors more than {architecture} has"
        { Architecture = architecture
          Parameters = parameters
          Encoder = encoder
          Decoder = decoder }

    /// The dense layers among `layers`, in order: a perceptron's encoder gives its hidden layers
    /// then its head, its decoder its hidden layers then its output layer.
    let denseLayers (layers: Layer<Linear> list) : Linear list = layers |> List.choose (function Dense l -> Some l | _ -> None)

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

    /// Frees the model's tensors now rather than when the garbage collector, which does not see
    /// the engine's memory, finalises them; the model cannot be used after.
    let dispose (model: Model) =
        let p = model.Parameters
        for t in p.Tensors @ p.GradientViews do t.Dispose()
        p.Values.Dispose()
        p.Gradients.Dispose()

    /// Number of trainable values.
    let parameterCount (model: Model) = Architecture.parameterCount model.Architecture

    /// The encoder's output for images `x` ([n; 784]).
    let encodeCode (model: Model) (x: torch.Tensor) : Code =
        let head = Layer.compose model.Encoder x
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
    let decodeLogits (model: Model) (z: torch.Tensor) : torch.Tensor = Layer.compose model.Decoder z

    /// Images (pixels in [0, 1]) the decoder makes of codes `z`.
    let decode (model: Model) (z: torch.Tensor) : torch.Tensor = (decodeLogits model z).sigmoid()

    /// Reconstructions of images `x` through their codes (μ for a VAE: no sampling noise).
    let reconstruct (model: Model) (x: torch.Tensor) : torch.Tensor = encode model x |> decode model

    /// `count` images decoded from z ~ N(0, I) drawn from `generator`.
    let generate (generator: torch.Generator) (count: int) (model: Model) : torch.Tensor =
        let z = torch.randn ([| int64 count; int64 model.Architecture.Latent |], dtype = model.Parameters.Values.dtype, generator = generator)
        decode model z
