/// The importance-weighted estimate of log p(x) (Burda, Grosse and Salakhutdinov 2016):
/// log p(x) ≥ E[log (1/k) Σᵢ p(x, zᵢ) / q(zᵢ | x)], zᵢ ~ q(z | x). With k = 1 it is the ELBO; it
/// tightens as k grows.
module Vae.Core.Likelihood

open System
open TorchSharp
open Vae.Core.Data

let private halfLog2Pi = 0.5 * log (2.0 * Math.PI)

/// log p(x, z) − log q(z | x) for `k` samples of z per image: [k; n].
let private logWeights (generator: torch.Generator) (k: int) (model: Model) (x: torch.Tensor) =
    match Model.encodeCode model x with
    | Point _ -> invalidArg (nameof model) "the importance-weighted bound needs a VAE's posterior"
    | Posterior(mean, logVariance) ->
        let n, d = mean.shape.[0], mean.shape.[1]
        let epsilon = torch.randn([| int64 k; n; d |], dtype = mean.dtype, generator = generator)
        let z = mean.unsqueeze(0L) + (logVariance * 0.5).exp().unsqueeze(0L) * epsilon
        let logits = Model.decodeLogits model (z.view(-1L, d))
        // log p(x | z) = Σ x·l − softplus(l): the same BCE as Losses.reconstruction, without
        // copying x k times (it broadcasts).
        let logLikelihood =
            if Kernels.apply [ logits; x ] then
                let x = x.contiguous()
                let result = torch.empty([| logits.shape.[0] |], dtype = logits.dtype)
                Kernels.bernoulliLogLikelihood logits x result
                result.view(int64 k, n)
            else
                let logits = logits.view(int64 k, n, -1L)
                (logits * x.unsqueeze(0L)).sum(2L) - torch.nn.functional.softplus(logits).sum(2L)
        // Both Gaussians' normalising constants cancel except for σ: log N(z; 0, I) − log N(z; μ, σ²).
        let logPrior = (z.square() * -0.5).sum(2L)
        let logPosterior = ((epsilon.square() + logVariance.unsqueeze(0L)) * -0.5).sum(2L)
        logLikelihood + logPrior - logPosterior

/// Decoded samples per batch. Small batches keep the logits (BatchSamples × 784 × 4 bytes)
/// near the cache: k = 1,000 on 1,000 images took 11 s with 5,000, 34–50 s with 10,000 to 50,000.
[<Literal>]
let BatchSamples = 5_000L

/// An IWAE estimate of the negative log-likelihood over n images: the mean of the images' estimates
/// in nats, and its standard error over the images (their sample standard deviation / √n; None for
/// one image). It says how far another draw of n test images could move the mean, not how loose
/// the bound is (that shrinks as k grows).
type Estimate = { Nll: float; StandardError: float option }

/// `estimate`, checking `cancellation` between batches (a five-layer VAE's estimate takes 14 s on
/// one thread: a run must be able to stop inside it).
let estimateCancellable (cancellation: Threading.CancellationToken) (seed: int64) (k: int) (model: Model) (images: torch.Tensor) : Estimate =
    if k < 1 then invalidArg (nameof k) $"must be at least 1, was {k}"
    use _ = torch.no_grad ()
    use generator = new torch.Generator(uint64 seed)
    let n = images.shape.[0]
    let batch = max 1L (BatchSamples / int64 k)
    let batches =
        [ 0L .. batch .. n - 1L ]
        |> List.map (fun start ->
            cancellation.ThrowIfCancellationRequested()
            use scope = torch.NewDisposeScope()
            let x = images.narrow(0L, start, min batch (n - start))
            let w = logWeights generator k model x
            // log p̂(x) per image; the batch's float32 sum is the estimate's term, as it always was.
            let perImage = torch.logsumexp(w, 0L, false) - log (float k)
            perImage.sum().item<float32>() |> float, perImage.to_type(torch.ScalarType.Float64).data<float>().ToArray())
    let nll = -(List.sumBy fst batches) / float n
    let logLikelihoods = batches |> Array.ofList |> Array.collect snd
    let standardError =
        if logLikelihoods.Length < 2 then None
        else
            let mean = Array.average logLikelihoods
            let variance = (logLikelihoods |> Array.sumBy (fun v -> (v - mean) * (v - mean))) / float (logLikelihoods.Length - 1)
            Some(sqrt (variance / float logLikelihoods.Length))
    { Nll = nll; StandardError = standardError }

/// The negative log-likelihood estimate in nats per image, averaged over `images` ([n; 784]), with
/// `k` importance samples per image drawn from `seed`, and its standard error over the images.
/// Images go through in batches of at most `BatchSamples` decoded samples, so memory stays bounded
/// whatever k is.
let estimate (seed: int64) (k: int) (model: Model) (images: torch.Tensor) : Estimate =
    estimateCancellable Threading.CancellationToken.None seed k model images

/// The negative log-likelihood estimate alone (`estimate`'s `Nll`).
let iwaeNll (seed: int64) (k: int) (model: Model) (images: torch.Tensor) : float = (estimate seed k model images).Nll
