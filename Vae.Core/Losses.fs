/// The losses, per image and summed over pixels as in the seed study (and in PyTorch's VAE example).
module Vae.Core.Losses

open TorchSharp

/// Binary cross-entropy of images `x` under Bernoulli `logits`, one value per image:
/// −Σ [x log σ(l) + (1 − x) log(1 − σ(l))], computed from the logits (log-sum-exp form), so it never
/// takes log 0.
let reconstruction (logits: torch.Tensor) (x: torch.Tensor) : torch.Tensor =
    torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction = torch.nn.Reduction.None).sum(1L)

/// KL(N(μ, diag σ²) ‖ N(0, I)) in closed form, one value per image:
/// −½ Σ (1 + log σ² − μ² − σ²)  (Kingma and Welling 2014, appendix B).
let klDivergence (mean: torch.Tensor) (logVariance: torch.Tensor) : torch.Tensor =
    ((logVariance + 1.0) - mean.square() - logVariance.exp()).sum(1L) * -0.5

/// The KL term of a code: zero for an autoencoder's point code.
let klOf (code: Code) : torch.Tensor =
    match code with
    | Posterior(mean, logVariance) -> klDivergence mean logVariance
    | Point z -> torch.zeros ([| z.shape.[0] |], dtype = z.dtype)

/// Per-image reconstruction and KL terms of a batch.
type Terms = { Reconstruction: torch.Tensor; Kl: torch.Tensor }

/// One stochastic pass: encode, sample z with `generator`, decode, and measure both terms.
let terms (generator: torch.Generator) (model: Model) (x: torch.Tensor) : Terms =
    let code = Model.encodeCode model x
    let logits = Model.sample generator code |> Model.decodeLogits model
    { Reconstruction = reconstruction logits x; Kl = klOf code }

/// Loss per image: reconstruction + KL (the negative ELBO) for a VAE, reconstruction for an
/// autoencoder (whose KL term is zero).
let loss (t: Terms) : torch.Tensor = t.Reconstruction + t.Kl
