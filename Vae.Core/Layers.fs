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

/// Allocates zeroed parameters for a layout.
let allocate (dtype: torch.ScalarType) (layout: Slot list) : Parameters =
    Engine.ensureLoaded ()
    let total = layout |> List.sumBy elements
    let values = torch.zeros ([| total |], dtype = dtype)
    let gradients = torch.zeros ([| total |], dtype = dtype)
    let offsets = layout |> List.scan (fun offset slot -> offset + elements slot) 0L
    let view (buffer: torch.Tensor) offset slot = buffer.narrow(0L, offset, elements slot).view(Array.ofList slot.Shape)
    let starts = List.take layout.Length offsets
    let gradientViews = List.map2 (view gradients) starts layout
    let tensors =
        List.map3
            (fun offset slot gradient ->
                // detach() gives a leaf that shares storage with the flat buffer; its gradient is a
                // view into the flat gradient buffer, into which autograd accumulates in place.
                let tensor = (view values offset slot).detach().requires_grad_(true)
                tensor.set_grad gradient
                tensor)
            starts
            layout
            gradientViews
    { Values = values; Gradients = gradients; Layout = layout; Tensors = tensors; GradientViews = gradientViews }

/// The linear layers of consecutive (weight, bias) pairs.
let rec linears (tensors: torch.Tensor list) : Linear list =
    match tensors with
    | weight :: bias :: rest -> { Weight = weight; Bias = bias } :: linears rest
    | [] -> []
    | [ _ ] -> invalidArg (nameof tensors) "an odd number of tensors cannot be (weight, bias) pairs"

/// Fills every layer as PyTorch's nn.Linear does: U(−1/√fan_in, 1/√fan_in) for weights and
/// biases alike (kaiming_uniform with a = √5 reduces to that bound).
let initialiseLinear (generator: torch.Generator) (layers: Linear list) =
    use _ = torch.no_grad ()
    for layer in layers do
        let bound = 1.0 / sqrt (float layer.Weight.shape.[1])
        layer.Weight.uniform_(-bound, bound, generator = generator) |> ignore
        layer.Bias.uniform_(-bound, bound, generator = generator) |> ignore

/// y = x Wᵀ + b.
let linear (layer: Linear) (x: torch.Tensor) : torch.Tensor = torch.nn.functional.linear (x, layer.Weight, layer.Bias)

/// A multilayer perceptron with a ReLU after every layer: a fold of the layers over the input.
let mlp (layers: Linear list) (x: torch.Tensor) : torch.Tensor =
    layers |> List.fold (fun h layer -> torch.nn.functional.relu (linear layer h)) x

/// The values of a contiguous float32 CPU tensor, in place (no copy): for the loops that are
/// cheaper than a sequence of engine operations (Adam, the training gradient's element-wise steps).
let float32Values (tensor: torch.Tensor) : Span<float32> = MemoryMarshal.Cast<byte, float32> tensor.bytes
