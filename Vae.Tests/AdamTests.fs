module Vae.Tests.AdamTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private tiny = architecture Vae 7 [ 5; 3 ] 2

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

        test "float32 moments too small to be normal numbers become zero, on the vector and the scalar path" {
            for architecture in [ Architecture.fiveLayer; tiny ] do
                let model = Model.create 1L architecture
                let last = model.Parameters.Values.NumberOfElements - 1L
                use _ = torch.no_grad ()
                // A gradient of 1e-38 makes m = 1e-39 and v = 1e-79: subnormal and underflowed.
                model.Parameters.Gradients.fill_((1e-38f).ToScalar()) |> ignore
                model.Parameters.Gradients.[0L] <- torch.tensor 1.0f
                use before = model.Parameters.Values.clone()
                let adam = Adam.step (Adam.create 1e-3 model.Parameters) model.Parameters
                let m = values adam.FirstMoment
                Expect.equal m.[1] 0.0 $"{architecture}: a subnormal first moment (vector path) is zero"
                Expect.equal m.[int last] 0.0 $"{architecture}: a subnormal first moment (last element) is zero"
                Expect.floatClose Accuracy.medium m.[0] 0.1 $"{architecture}: a normal first moment is (1 − β₁) g"
                Expect.floatClose Accuracy.medium (values adam.SecondMoment).[0] 0.001 $"{architecture}: a normal second moment is (1 − β₂) g²"
                let moved = values (model.Parameters.Values - before)
                Expect.floatClose Accuracy.medium moved.[0] -1e-3 $"{architecture}: the first step moves by the learning rate"
                Expect.equal moved.[int last] 0.0 $"{architecture}: the update a subnormal moment would make is below float32's resolution"
        }

        test "steps in parts over two gradient buffers are whole steps on their sum, bit for bit" {
            for architecture in [ Architecture.fiveLayer; tiny ] do
                let whole = Model.create 1L architecture
                let parts = Model.create 1L architecture
                use second = torch.empty_like parts.Parameters.Gradients
                use generator = new torch.Generator(5UL)
                let total = int whole.Parameters.Values.NumberOfElements
                // An odd split point: one part's end and the other's start off the vector width.
                let middle = total / 2 + 3
                let mutable a, b = Adam.create 1e-3 whole.Parameters, Adam.create 1e-3 parts.Parameters
                for _ in 1..5 do
                    use first = torch.randn ([| int64 total |], generator = generator)
                    use other = torch.randn ([| int64 total |], generator = generator)
                    use _ = torch.no_grad ()
                    parts.Parameters.Gradients.copy_ first |> ignore
                    second.copy_ other |> ignore
                    whole.Parameters.Gradients.copy_ (first + other) |> ignore
                    a <- Adam.step a whole.Parameters
                    Adam.stepPartOfSum b parts.Parameters second middle (total - middle)
                    Adam.stepPartOfSum b parts.Parameters second 0 middle
                    b <- Adam.counted b
                Expect.equal b.Steps a.Steps $"{architecture}: steps counted"
                Expect.isTrue (same parts.Parameters.Values whole.Parameters.Values) $"{architecture}: the same parameters"
                Expect.isTrue (same b.FirstMoment a.FirstMoment && same b.SecondMoment a.SecondMoment) $"{architecture}: the same moments"
                Expect.isFalse (same parts.Parameters.Gradients whole.Parameters.Gradients) $"{architecture}: the sum was not stored"
        }

        test "a float64 step follows PyTorch's update rule to float64 precision" {
            let difference, moved = againstFloat64Rule tiny torch.ScalarType.Float64
            Expect.isGreaterThan moved 5e-3 "parameters moved"
            Expect.isLessThan difference 1e-14 "largest difference from the rule"
        }
    ]
