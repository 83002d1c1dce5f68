module Vae.Tests.AdamTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private tiny = match Architecture.tryCreate Vae 7 [ 5; 3 ] 2 with Ok a -> a | Error e -> failwith e

/// Ten Adam steps on `architecture` with seeded gradients, next to PyTorch's update rule written
/// out in float64 engine operations; the largest difference and the largest move of a parameter.
let private againstFloat64Rule (architecture: Architecture) (dtype: torch.ScalarType) =
    let model = Model.create 1L architecture |> Model.convert dtype
    use theta = model.Parameters.Values.to_type(torch.ScalarType.Float64)
    use start = theta.clone()
    use m = torch.zeros_like theta
    use v = torch.zeros_like theta
    use generator = new torch.Generator(7UL)
    let lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    let adam =
        List.fold
            (fun adam t ->
                // Gradients of very different sizes, so that ε matters for some of them.
                use scope = torch.NewDisposeScope()
                let g = torch.randn(theta.shape, dtype = torch.ScalarType.Float64, generator = generator) * (10.0 ** float (t % 5 - 4))
                use _ = torch.no_grad ()
                model.Parameters.Gradients.copy_(g) |> ignore
                let g = model.Parameters.Gradients.to_type(torch.ScalarType.Float64)
                m.mul_(b1.ToScalar()).add_(g * (1.0 - b1)) |> ignore
                v.mul_(b2.ToScalar()).add_(g * g * (1.0 - b2)) |> ignore
                let denominator = v.sqrt() / sqrt (1.0 - b2 ** float t) + eps
                theta.sub_(m / denominator * (lr / (1.0 - b1 ** float t))) |> ignore
                Adam.step adam model.Parameters)
            (Adam.create lr model.Parameters)
            [ 1..10 ]
    Expect.equal adam.Steps 10 "steps counted"
    use actual = model.Parameters.Values.to_type(torch.ScalarType.Float64)
    let difference = (actual - theta).abs().max().item<float>()
    let moved = (theta - start).abs().max().item<float>()
    difference, moved

[<Tests>]
let tests =
    testList "Adam" [
        test "a float32 step follows PyTorch's update rule to float32 precision, on vector and odd sizes" {
            for architecture in [ Architecture.fiveLayer; tiny ] do
                let difference, moved = againstFloat64Rule architecture torch.ScalarType.Float32
                Expect.isGreaterThan moved 5e-3 $"{architecture}: parameters moved"
                Expect.isLessThan difference 1e-6 $"{architecture}: largest difference from the rule"
        }

        test "a float64 step follows PyTorch's update rule to float64 precision" {
            let difference, moved = againstFloat64Rule tiny torch.ScalarType.Float64
            Expect.isGreaterThan moved 5e-3 "parameters moved"
            Expect.isLessThan difference 1e-14 "largest difference from the rule"
        }
    ]
