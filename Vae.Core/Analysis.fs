/// Measurements of trained models beyond their losses: where the codes lie, which dimensions they use, and how real
/// generated images look.
module Vae.Core.Analysis

open TorchSharp
open Vae.Core.Data

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
    let parts =
        [| for start in 0L .. batch .. int64 split.Count - 1L ->
               // Each batch's activations are freed as soon as its codes are taken.
               use scope = torch.NewDisposeScope()
               let x = split.Images.narrow(0L, start, min batch (int64 split.Count - start))
               (Model.encode model x).MoveToOuterDisposeScope() |]
    let all = torch.cat(parts, 0L)
    for part in parts do part.Dispose()
    all

/// `count` images of a split, the same for every model so that reconstructions can be compared
/// side by side: the first image of each class in label order, then the second of each, and so on
/// (a class with no image left is passed over). With ten classes and nine images, one of each of
/// the first nine classes.
let examples (count: int) (classes: int) (split: Split) : torch.Tensor =
    let labels = split.Labels.data<int64>().ToArray()
    let byClass = Array.init classes (fun c -> labels |> Array.indexed |> Array.filter (fun (_, l) -> l = int64 c) |> Array.map fst)
    let deepest = byClass |> Array.map Array.length |> Array.fold max 0
    let indices =
        Seq.init deepest (fun round -> byClass |> Seq.filter (fun images -> round < images.Length) |> Seq.map (fun images -> int64 images.[round]))
        |> Seq.concat
        |> Seq.truncate count
        |> Array.ofSeq
    if indices.Length < count then invalidArg (nameof split) $"holds {indices.Length} images of the {classes} classes, fewer than {count}"
    use index = torch.tensor(indices)
    split.Images.index_select(0L, index)

/// The first image of class `label` in a split.
let firstOfClass (label: int) (split: Split) : torch.Tensor =
    let labels = split.Labels.data<int64>().ToArray()
    match Array.tryFindIndex ((=) (int64 label)) labels with
    | Some i -> split.Images.[int64 i]
    | None -> invalidArg (nameof split) $"has no image of class {label}"

/// Per latent dimension, the variance over the images of E[zᵢ | x] (the posterior mean; z itself for
/// an autoencoder). A dimension is active when this is above 0.01 (Burda et al. 2016): the
/// encoder then uses it to tell images apart.
let codeVariance (model: Model) (split: Split) : float[] =
    use _ = torch.no_grad ()
    use codes = codes model split
    use variance = codes.to_type(torch.ScalarType.Float64).var(0L, unbiased = false)
    variance.data<float>().ToArray()

/// The threshold on the variance of a dimension's posterior mean above which it counts as active.
[<Literal>]
let ActiveThreshold = 0.01

/// The number of active latent dimensions (see `codeVariance`).
let activeUnits (variances: float[]) = variances |> Array.filter (fun v -> v > ActiveThreshold) |> Array.length

/// Mean KL divergence per latent dimension over a split (zeros for an autoencoder): which
/// dimensions carry information.
let klPerDimension (model: Model) (split: Split) : float[] =
    use _ = torch.no_grad ()
    let batch = int64 Evaluation.BatchSize
    let n = int64 split.Count
    let total =
        [ 0L .. batch .. n - 1L ]
        |> List.map (fun start ->
            use scope = torch.NewDisposeScope()
            let x = split.Images.narrow(0L, start, min batch (n - start))
            match Model.encodeCode model x with
            | Posterior(mean, logVariance) ->
                (((logVariance + 1.0) - mean.square() - logVariance.exp()) * -0.5).to_type(torch.ScalarType.Float64).sum(0L).data<float>().ToArray()
            | Point z -> Array.zeroCreate (int z.shape.[1]))
        |> List.reduce (Array.map2 (+))
    total |> Array.map (fun v -> v / float n)

/// A Gaussian with full covariance fitted to codes: (mean [d], Cholesky factor [d; d]). Sampling
/// from it generates fairly from an autoencoder, whose code space nothing shapes to N(0, I).
let fitGaussian (codes: torch.Tensor) : torch.Tensor * torch.Tensor =
    use _ = torch.no_grad ()
    let c = codes.to_type(torch.ScalarType.Float64)
    let mean = c.mean([| 0L |])
    let centred = c - mean
    let covariance = centred.t().matmul(centred) / float (c.shape.[0] - 1L)
    // A little jitter keeps the factorisation defined when a dimension is (nearly) constant.
    let jitter = torch.eye(covariance.shape.[0], dtype = torch.ScalarType.Float64) * 1e-6
    mean.to_type(torch.ScalarType.Float32), torch.linalg.cholesky(covariance + jitter).to_type(torch.ScalarType.Float32)

/// `count` images decoded from z = μ + L ε, ε ~ N(0, I), for a fitted (μ, L).
let generateFitted (generator: torch.Generator) (count: int) (mean: torch.Tensor, factor: torch.Tensor) (model: Model) : torch.Tensor =
    use _ = torch.no_grad ()
    use epsilon = torch.randn([| int64 count; mean.shape.[0] |], generator = generator)
    use z = mean + epsilon.matmul(factor.t())
    Model.decode model z

/// Images decoded along the straight line between the codes of images `a` and `b` ([pixels] each):
/// `steps` images, the first a's reconstruction and the last b's.
let interpolate (steps: int) (model: Model) (a: torch.Tensor) (b: torch.Tensor) : torch.Tensor =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let codes = Model.encode model (torch.stack([| a; b |], 0L))
    let t = torch.linspace(0.0, 1.0, int64 steps).unsqueeze(1L)
    let path = codes.[0L].unsqueeze(0L) * (1.0f - t) + codes.[1L].unsqueeze(0L) * t
    (Model.decode model path).MoveToOuterDisposeScope()

/// For each latent dimension in `dimensions`, `steps` images decoded from the mean code of
/// `split` with that dimension moved from −3 to +3 standard deviations (of the codes over the
/// split): [dimensions × steps; pixels], one row of images per dimension.
let traverse (steps: int) (dimensions: int list) (model: Model) (split: Split) : torch.Tensor =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let c = codes model split
    let mean = c.mean([| 0L |])
    let std = c.std(0L)
    let offsets = torch.linspace(-3.0, 3.0, int64 steps)
    let rows =
        [| for d in dimensions ->
               let z = mean.unsqueeze(0L).repeat(int64 steps, 1L)
               z.select(1L, int64 d).copy_(mean.[int64 d] + offsets * std.[int64 d]) |> ignore
               z |]
    (Model.decode model (torch.cat(rows, 0L))).MoveToOuterDisposeScope()

/// The Fréchet distance between two sets of images in the space of given principal directions
/// ([pixels; d], with the mean to centre by): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), the
/// distance between Gaussians fitted to the two sets' features (as FID does with Inception
/// features; here the features are the pixels' leading principal components). It is low only when
/// generated images match real ones in both average and spread: faint or blurry samples, and
/// samples of too few kinds, all raise it. Unlike a nearest-neighbour pixel distance, it does not
/// reward dim images for lying close to the darkest real ones.
let frechetDistance (directions: torch.Tensor, mean: torch.Tensor) (real: torch.Tensor) (generated: torch.Tensor) : float =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let features (x: torch.Tensor) = (x - mean).matmul(directions).to_type(torch.ScalarType.Float64)
    let moments (f: torch.Tensor) =
        let mu = f.mean([| 0L |])
        let centred = f - mu
        mu, centred.t().matmul(centred) / float (f.shape.[0] - 1L)
    let symmetricSqrt (m: torch.Tensor) =
        let struct (values, vectors) = torch.linalg.eigh(m)
        vectors.matmul(torch.diag(values.clamp_min(0.0).sqrt())).matmul(vectors.t())
    let mu1, s1 = moments (features real)
    let mu2, s2 = moments (features generated)
    let root1 = symmetricSqrt s1
    let struct (crossValues, _) = torch.linalg.eigh(root1.matmul(s2).matmul(root1))
    let traceCross = crossValues.clamp_min(0.0).sqrt().sum().item<float>()
    (mu1 - mu2).square().sum().item<float>() + s1.trace().item<float>() + s2.trace().item<float>() - 2.0 * traceCross

/// Principal directions used as the features of `frechetDistance`.
[<Literal>]
let FrechetComponents = 50
