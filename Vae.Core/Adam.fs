/// Adam (Kingma and Ba 2015) over a model's flat parameter buffer, with PyTorch's update rule
/// (torch.optim.Adam, no weight decay, no amsgrad).
module Vae.Core.Adam

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

/// One update of `parameters` from their accumulated gradients. The buffers are updated in place
/// (the engine's tensors are mutable storage); the returned state counts the step.
let step (adam: Adam) (parameters: Parameters) : Adam =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let t = float (adam.Steps + 1)
    let g = parameters.Gradients
    adam.FirstMoment.mul_(adam.Beta1.ToScalar()).add_(g, alpha = (1.0 - adam.Beta1).ToScalar()) |> ignore
    adam.SecondMoment.mul_(adam.Beta2.ToScalar()).addcmul_(g, g, value = (1.0 - adam.Beta2).ToScalar()) |> ignore
    let stepSize = adam.LearningRate / (1.0 - adam.Beta1 ** t)
    let denominator = adam.SecondMoment.sqrt().div_((sqrt (1.0 - adam.Beta2 ** t)).ToScalar()).add_(adam.Epsilon.ToScalar())
    parameters.Values.addcdiv_(adam.FirstMoment, denominator, value = (-stepSize).ToScalar()) |> ignore
    { adam with Steps = adam.Steps + 1 }
