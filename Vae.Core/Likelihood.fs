/// The importance-weighted estimate of log p(x) (Burda, Grosse and Salakhutdinov 2016):
/// log p(x) ≥ E[log (1/k) Σᵢ p(x, zᵢ) / q(zᵢ | x)], zᵢ ~ q(z | x). With k = 1 it is the ELBO; it
/// tightens as k grows.
module Vae.Core.Likelihood

open System
open TorchSharp
open Vae.Core.FashionMnist

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
        let repeated = x.unsqueeze(0L).expand(int64 k, n, x.shape.[1]).reshape(-1L, x.shape.[1])
        let logLikelihood = -(Losses.reconstruction logits repeated).view(int64 k, n)
        // Both Gaussians' normalising constants cancel except for σ: log N(z; 0, I) − log N(z; μ, σ²).
        let logPrior = (z.square() * -0.5).sum(2L)
        let logPosterior = ((epsilon.square() + logVariance.unsqueeze(0L)) * -0.5).sum(2L)
        logLikelihood + logPrior - logPosterior

/// Negative log-likelihood estimate in nats per image, averaged over `images` ([n; 784]), with
/// `k` importance samples per image drawn from `seed`. Images go through in batches of at most
/// about 250,000 decoded samples, so memory stays bounded whatever k is.
let iwaeNll (seed: int64) (k: int) (model: Model) (images: torch.Tensor) : float =
    if k < 1 then invalidArg (nameof k) $"must be at least 1, was {k}"
    use _ = torch.no_grad ()
    use generator = new torch.Generator(uint64 seed)
    let n = images.shape.[0]
    let batch = max 1L (250_000L / int64 k)
    let total =
        [ 0L .. batch .. n - 1L ]
        |> List.sumBy (fun start ->
            use scope = torch.NewDisposeScope()
            let x = images.narrow(0L, start, min batch (n - start))
            let w = logWeights generator k model x
            (torch.logsumexp(w, 0L, false) - log (float k)).sum().item<float32>() |> float)
    -total / float n
