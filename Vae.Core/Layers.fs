/// Layers as records of parameter tensors; a forward pass is a function of (parameters, input).
module Vae.Core.Layers

open System
open System.Runtime.InteropServices
open TorchSharp

/// A fully connected layer: y = x Wᵀ + b, with `Weight` of shape [outputs; inputs].
type Linear = { Weight: torch.Tensor; Bias: torch.Tensor }

/// The name and shape of one parameter tensor.
type Slot = { Name: string; Shape: int64 list }

/// Every parameter of a model, as views into one flat buffer (and their gradients into a second),
/// so that the optimizer updates them all with a few large operations.
type Parameters =
    { Values: torch.Tensor
      Gradients: torch.Tensor
      Layout: Slot list
      /// Leaf tensors (requires_grad) sharing storage with `Values`, in `Layout` order.
      Tensors: torch.Tensor list
      /// Views into `Gradients` shaped as `Tensors` (each tensor's `grad`), in `Layout` order.
      GradientViews: torch.Tensor list }

/// The number of elements a slot holds.
let elements (slot: Slot) = List.fold (*) 1L slot.Shape

/// The two slots of a linear layer named `name`.
let linearSlots (name: string) (inputs: int) (outputs: int) =
    [ { Name = $"{name}.weight"; Shape = [ int64 outputs; int64 inputs ] }
      { Name = $"{name}.bias"; Shape = [ int64 outputs ] } ]

/// Views into the flat `buffer` shaped as the slots of `layout`, in order. A view keeps the
/// buffer's storage; the narrowed tensor between them is freed at once.
let viewsOf (buffer: torch.Tensor) (layout: Slot list) : torch.Tensor list =
    let offsets = layout |> List.scan (fun offset slot -> offset + elements slot) 0L
    List.map2
        (fun offset (slot: Slot) ->
            use part = buffer.narrow(0L, offset, elements slot)
            part.view(Array.ofList slot.Shape))
        (List.take layout.Length offsets)
        layout

/// Allocates zeroed parameters for a layout.
let allocate (dtype: torch.ScalarType) (layout: Slot list) : Parameters =
    Engine.ensureLoaded ()
    let total = layout |> List.sumBy elements
    let values = torch.zeros ([| total |], dtype = dtype)
    let gradients = torch.zeros ([| total |], dtype = dtype)
    let gradientViews = viewsOf gradients layout
    let tensors =
        List.map2
            (fun (value: torch.Tensor) gradient ->
                // detach() gives a leaf that shares storage with the flat buffer; its gradient is a
                // view into the flat gradient buffer, into which autograd accumulates in place.
                let tensor = value.detach().requires_grad_(true)
                value.Dispose()
                tensor.set_grad gradient
                tensor)
            (viewsOf values layout)
            gradientViews
    { Values = values; Gradients = gradients; Layout = layout; Tensors = tensors; GradientViews = gradientViews }

/// The linear layers of consecutive (weight, bias) pairs.
let rec linears (tensors: torch.Tensor list) : Linear list =
    match tensors with
    | weight :: bias :: rest -> { Weight = weight; Bias = bias } :: linears rest
    | [] -> []
    | [ _ ] -> invalidArg (nameof tensors) "an odd number of tensors cannot be (weight, bias) pairs"

/// Fills every layer as PyTorch's nn.Linear, nn.Conv2d and nn.ConvTranspose2d do:
/// U(−1/√fan_in, 1/√fan_in) for weights and biases alike (kaiming_uniform with a = √5 reduces to
/// that bound), fan_in being the weight's second dimension times its kernel's size (PyTorch's rule,
/// which for a transposed convolution's [in; out; k; k] weight counts out × k × k).
let initialiseLinear (generator: torch.Generator) (layers: Linear list) =
    use _ = torch.no_grad ()
    for layer in layers do
        let fanIn = layer.Weight.shape |> Array.skip 1 |> Array.fold (*) 1L
        let bound = 1.0 / sqrt (float fanIn)
        layer.Weight.uniform_(-bound, bound, generator = generator) |> ignore
        layer.Bias.uniform_(-bound, bound, generator = generator) |> ignore

/// y = x Wᵀ + b.
let linear (layer: Linear) (x: torch.Tensor) : torch.Tensor = torch.nn.functional.linear (x, layer.Weight, layer.Bias)

/// One step of a composed network, over parameters of type 'p: a `Linear` (weight and bias
/// tensors) in a model, the two `Slot`s that lay them out in an architecture.
type Layer<'p> =
    /// y = x Wᵀ + b, W of shape [outputs; inputs].
    | Dense of 'p
    /// 2-D convolution, W of shape [out channels; in channels; k; k], with a stride and zero padding.
    | Conv of 'p * stride: int64 * padding: int64
    /// Transposed 2-D convolution, W of shape [in channels; out channels; k; k].
    | ConvTranspose of 'p * stride: int64 * padding: int64
    /// max(x, 0).
    | Relu
    /// Each image reshaped to these dimensions (the batch dimension kept): [1; 28; 28] before a
    /// convolution, [784] to flatten.
    | Reshape of int64 list

module Layer =
    /// The layer's parameters, if it has any.
    let parameters (layer: Layer<'p>) : 'p option =
        match layer with
        | Dense p
        | Conv(p, _, _)
        | ConvTranspose(p, _, _) -> Some p
        | Relu
        | Reshape _ -> None

    /// The layers of a list with their parameters taken, in order, from `tensors` ((weight, bias)
    /// pairs, as `linears` reads them); the tensors left over.
    let bind (layers: Layer<'a> list) (tensors: torch.Tensor list) : Layer<Linear> list * torch.Tensor list =
        layers
        |> List.mapFold
            (fun tensors layer ->
                let take () =
                    match tensors with
                    | weight :: bias :: rest -> { Weight = weight; Bias = bias }, rest
                    | _ -> invalidArg (nameof tensors) "fewer tensors than the layers have parameters"
                match layer with
                | Dense _ -> let p, rest = take () in Dense p, rest
                | Conv(_, s, pad) -> let p, rest = take () in Conv(p, s, pad), rest
                | ConvTranspose(_, s, pad) -> let p, rest = take () in ConvTranspose(p, s, pad), rest
                | Relu -> Relu, tensors
                | Reshape dims -> Reshape dims, tensors)
            tensors

    /// The layer applied to a batch `x` (first dimension: images).
    let apply (layer: Layer<Linear>) (x: torch.Tensor) : torch.Tensor =
        match layer with
        | Dense l -> linear l x
        | Conv(l, stride, padding) -> torch.nn.functional.conv2d (x, l.Weight, l.Bias, strides = [| stride; stride |], padding = [| padding; padding |])
        | ConvTranspose(l, stride, padding) ->
            torch.nn.functional.conv_transpose2d (x, l.Weight, l.Bias, strides = [| stride; stride |], padding = [| padding; padding |])
        | Relu -> torch.nn.functional.relu x
        | Reshape dims -> x.reshape (Array.ofList (x.shape.[0] :: dims))

    /// The layers applied in order: a fold of the network over its input.
    let compose (layers: Layer<Linear> list) (x: torch.Tensor) : torch.Tensor = List.fold (fun h layer -> apply layer h) x layers

/// The values of a contiguous float32 CPU tensor, in place (no copy): for the loops that are
/// cheaper than a sequence of engine operations (Adam, the training gradient's element-wise steps).
let float32Values (tensor: torch.Tensor) : Span<float32> = MemoryMarshal.Cast<byte, float32> tensor.bytes
