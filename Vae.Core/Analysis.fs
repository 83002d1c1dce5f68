/// Measurements of trained models beyond their losses: where the codes lie, and how real
/// generated images look.
module Vae.Core.Analysis

open TorchSharp
open Vae.Core.FashionMnist

/// The projection of `codes` ([n; d]) on their first `components` principal components
/// ([n; components]), by the SVD of the centred codes. Component signs are fixed so that each
/// component's largest loading is positive, making pictures comparable between runs.
let principalComponents (components: int) (codes: torch.Tensor) : torch.Tensor =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let centred = codes.to_type(torch.ScalarType.Float64) - codes.to_type(torch.ScalarType.Float64).mean([| 0L |], keepdim = true)
    let struct (_, _, vt) = torch.linalg.svd(centred, fullMatrices = false)
    let k = min (int64 components) vt.shape.[0]
    let directions = vt.narrow(0L, 0L, k)
    let signs = directions.gather(1L, directions.abs().argmax(1L, keepdim = true)).sign()
    let projected = centred.matmul((directions * signs).t()).to_type(torch.ScalarType.Float32)
    // Fewer latent dimensions than components: pad with zeros.
    let padded = if k < int64 components then torch.cat([| projected; torch.zeros([| projected.shape.[0]; int64 components - k |]) |], 1L) else projected
    padded.MoveToOuterDisposeScope()

/// The codes of every image of a split (μ for a VAE, z for an autoencoder), in batches.
let codes (model: Model) (split: Split) : torch.Tensor =
    use _ = torch.no_grad ()
    let batch = int64 Evaluation.BatchSize
    [| for start in 0L .. batch .. int64 split.Count - 1L ->
           use x = split.Images.narrow(0L, start, min batch (int64 split.Count - start))
           Model.encode model x |]
    |> fun parts -> torch.cat(parts, 0L)

/// Mean over `generated` images of the squared pixel distance (per pixel) to the nearest image of
/// `reference`: how far generated images lie from real ones. Lower is more realistic.
let nearestDistance (generated: torch.Tensor) (reference: torch.Tensor) : float =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let pixels = float generated.shape.[1]
    let smallest (t: torch.Tensor) = let struct (values, _) = t.min(1L) in values
    let nearest =
        [| for start in 0L .. 2500L .. reference.shape.[0] - 1L ->
               let part = reference.narrow(0L, start, min 2500L (reference.shape.[0] - start))
               smallest (torch.cdist(generated, part)) |]
        |> fun mins -> smallest (torch.stack(mins, 1L))
    (nearest.square().mean().item<float32>() |> float) / pixels

/// One test image of each of the first `count` classes (the first of each in the split's order):
/// the same images for every model, so that reconstructions can be compared side by side.
let oneImagePerClass (count: int) (split: Split) : torch.Tensor =
    let labels = split.Labels.data<int64>().ToArray()
    let indices = [| for c in 0L .. int64 count - 1L -> int64 (Array.findIndex ((=) c) labels) |]
    use index = torch.tensor(indices)
    split.Images.index_select(0L, index)
