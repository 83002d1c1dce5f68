/// How useful the codes are as features: a linear probe (multinomial logistic regression) and
/// k-nearest-neighbour accuracy, trained on the training set's codes and scored on the test set's;
/// the same for a PCA projection of the pixels, as a yardstick.
module Vae.Core.Probes

open TorchSharp

/// Features standardised with the training features' mean and standard deviation.
let standardise (train: torch.Tensor) (test: torch.Tensor) =
    let mean = train.mean([| 0L |], keepdim = true)
    let std = train.std(0L, keepdim = true).clamp_min(1e-6)
    (train - mean) / std, (test - mean) / std

let private accuracy (predicted: torch.Tensor) (labels: torch.Tensor) =
    predicted.eq(labels).to_type(torch.ScalarType.Float64).mean().item<float>()

/// A fitted multinomial logistic regression: weights [features; classes] and biases [classes] (in
/// float64, on standardised features), with how the fit ended.
type LogisticFit =
    { Weights: torch.Tensor
      Bias: torch.Tensor
      /// L-BFGS iterations taken.
      Iterations: int
      /// Largest absolute component of the objective's gradient at the end.
      GradientMax: float
      /// The objective at the end: mean cross-entropy + ½‖W‖² / n.
      Objective: float }

/// The probe's convergence criterion: every component of the gradient of the mean objective below this.
[<Literal>]
let GradientTolerance = 1e-6

/// Iterations after which the fit stops even if not converged (never reached on the study's codes).
[<Literal>]
let MaxIterations = 2000

/// L-BFGS's memory: the last this many steps and gradient changes.
[<Literal>]
let private History = 20

/// Fits a multinomial logistic regression to features `x` ([n; d], already standardised) and labels
/// `y` by minimising scikit-learn's default objective (C = 1: the summed cross-entropy + ½‖W‖², the
/// biases not penalised), divided by n, to convergence: L-BFGS in float64 from zero weights with a
/// backtracking (Armijo) line search, until every gradient component is below `GradientTolerance`.
/// Deterministic: no randomness, a fixed order of operations.
let fitLogistic (x: torch.Tensor) (y: torch.Tensor) : LogisticFit =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let n = x.shape.[0]
    let d = x.shape.[1]
    let classes = y.max().item<int64>() + 1L
    // Features with a column of ones for the biases: θ is [d + 1; classes], its last row the biases.
    // Kept class-major ([classes; n] logits, a softmax along rows 60,000 wide), which is 2–3 times
    // faster here than [n; classes].
    let features = torch.cat([| x.to_type(torch.ScalarType.Float64); torch.ones([| n; 1L |], dtype = torch.ScalarType.Float64) |], 1L)
    let transposed = features.t().contiguous()
    let labels = y.unsqueeze(0L)
    let minusOne = torch.full([| 1L; n |], (-1.0).ToScalar(), dtype = torch.ScalarType.Float64)
    let penalised = torch.cat([| torch.ones([| d; classes |], dtype = torch.ScalarType.Float64); torch.zeros([| 1L; classes |], dtype = torch.ScalarType.Float64) |], 0L)
    let lambda = 1.0 / float n
    // Two [classes; n] buffers, written in place at each evaluation: allocating 60,000 × 10 float64
    // tensors afresh costs more than computing them (fresh pages).
    let logits = torch.empty([| classes; n |], dtype = torch.ScalarType.Float64)
    let probabilities = torch.empty([| classes; n |], dtype = torch.ScalarType.Float64)
    // The objective and its gradient at θ (row-major [d + 1; classes]).
    let evaluate (theta: float[]) =
        use inner = torch.NewDisposeScope()
        let theta = torch.tensor(theta, dtype = torch.ScalarType.Float64).view(d + 1L, classes)
        // logits = θᵀ·Xᵀ, shifted by each image's largest so that exp cannot overflow.
        logits.addmm_(theta.t().contiguous(), transposed, beta = 0.0f, alpha = 1.0f).sub_(logits.amax([| 0L |], keepdim = true)) |> ignore
        let sums = probabilities.copy_(logits).exp_().sum([| 0L |], keepdim = true)
        let weights = theta * penalised
        // Cross-entropy: log Σ exp(logits) − the label's logit.
        let crossEntropy = (sums.log().sum().item<float>() - logits.gather(0L, labels).sum().item<float>()) / float n
        let value = crossEntropy + 0.5 * lambda * weights.square().sum().item<float>()
        // softmax − one-hot, in place.
        let residual = probabilities.div_(sums).scatter_add_(0L, labels, minusOne)
        // Xᵀ·residualᵀ: [d + 1; classes] (BLAS is 5 times faster on this order than on residual·X).
        let gradient = transposed.matmul(residual.t()) / float n + weights * lambda
        value, gradient.contiguous().data<float>().ToArray()
    let dot (a: float[]) (b: float[]) = Array.fold2 (fun total x y -> total + x * y) 0.0 a b
    let maxAbs (a: float[]) = a |> Array.fold (fun m x -> max m (abs x)) 0.0
    let axpy (alpha: float) (x: float[]) (y: float[]) = Array.map2 (fun x y -> alpha * x + y) x y
    let mutable theta = Array.zeroCreate (int ((d + 1L) * classes))
    let mutable value, gradient = evaluate theta
    // (s, y, 1 / yᵀs) of the last steps, newest last.
    let steps = System.Collections.Generic.List<float[] * float[] * float>()
    let mutable iterations = 0
    let mutable stalled = false
    while maxAbs gradient > GradientTolerance && iterations < MaxIterations && not stalled do
        // The two-loop recursion: direction = −H·gradient, H the L-BFGS inverse-Hessian estimate.
        let mutable q = Array.copy gradient
        let alphas: float[] = Array.zeroCreate steps.Count
        for i in steps.Count - 1 .. -1 .. 0 do
            let s, change, rho = steps.[i]
            alphas.[i] <- rho * dot s q
            q <- axpy -alphas.[i] change q
        let scale =
            if steps.Count = 0 then 1.0 / max 1.0 (gradient |> Array.sumBy abs)
            else let _, change, rho = steps.[steps.Count - 1] in 1.0 / (rho * dot change change)
        q <- Array.map (fun x -> x * scale) q
        for i in 0 .. steps.Count - 1 do
            let s, change, rho = steps.[i]
            q <- axpy (alphas.[i] - rho * dot change q) s q
        let direction = Array.map (~-) q
        let slope = dot gradient direction
        // Backtracking until the Armijo condition f(θ + t·d) ≤ f(θ) + 10⁻⁴·t·∇fᵀd holds.
        let rec search (t: float) =
            let candidate = axpy t direction theta
            let candidateValue, candidateGradient = evaluate candidate
            if candidateValue <= value + 1e-4 * t * slope then Some(candidate, candidateValue, candidateGradient)
            elif t < 1e-10 then None
            else search (t * 0.5)
        match (if slope < 0.0 then search 1.0 else None) with
        | None -> stalled <- true
        | Some(next, nextValue, nextGradient) ->
            let s = Array.map2 (-) next theta
            let change = Array.map2 (-) nextGradient gradient
            let curvature = dot change s
            if curvature > 1e-12 then
                steps.Add((s, change, 1.0 / curvature))
                if steps.Count > History then steps.RemoveAt 0
            theta <- next
            value <- nextValue
            gradient <- nextGradient
            iterations <- iterations + 1
    let fitted = torch.tensor(theta, dtype = torch.ScalarType.Float64).view(d + 1L, classes)
    { Weights = fitted.narrow(0L, 0L, d).contiguous().MoveToOuterDisposeScope()
      Bias = fitted.narrow(0L, d, 1L).squeeze(0L).contiguous().MoveToOuterDisposeScope()
      Iterations = iterations
      GradientMax = maxAbs gradient
      Objective = value }

/// Accuracy on (`testX`, `testY`) of the multinomial logistic regression `fitLogistic` fits to
/// (`trainX`, `trainY`), both standardised with the training features' mean and standard deviation.
let linearAccuracy (trainX: torch.Tensor) (trainY: torch.Tensor) (testX: torch.Tensor) (testY: torch.Tensor) : float =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let x, xt = standardise trainX testX
    let fit = fitLogistic x trainY
    accuracy ((xt.to_type(torch.ScalarType.Float64).matmul(fit.Weights) + fit.Bias).argmax(1L)) testY

/// Test images per distance matrix in `knnAccuracy`: 250 × 60,000 distances are 60 MB.
[<Literal>]
let private KnnChunk = 250L

/// Accuracy on the test set of a k-nearest-neighbour vote (Euclidean distance on standardised
/// features; a tie goes to the class of the nearest neighbour among the tied).
let knnAccuracy (k: int) (trainX: torch.Tensor) (trainY: torch.Tensor) (testX: torch.Tensor) (testY: torch.Tensor) : float =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let x, xt = standardise trainX testX
    let classes = trainY.max().item<int64>() + 1L
    let predictions =
        [| for start in 0L .. KnnChunk .. xt.shape.[0] - 1L ->
               use inner = torch.NewDisposeScope()
               let part = xt.narrow(0L, start, min KnnChunk (xt.shape.[0] - start))
               let struct (_, nearest) = torch.cdist(part, x).topk(k, dim = 1, largest = false, sorted = true)
               let neighbours = trainY.index_select(0L, nearest.reshape(-1L)).view(-1L, int64 k)
               // Votes weighted 1 + tiny·(k − rank): a majority wins, a tie goes to the nearer class.
               let ranks = torch.arange(int64 k, 0L, -1L, dtype = torch.ScalarType.Float32).unsqueeze(0L).expand(neighbours.shape.[0], int64 k)
               let votes = torch.zeros([| neighbours.shape.[0]; classes |]).scatter_add_(1L, neighbours, (ranks * 1e-3f) + 1.0f)
               votes.argmax(1L).MoveToOuterDisposeScope() |]
    accuracy (torch.cat(predictions, 0L)) testY

/// Rows of the data per float64 chunk when fitting principal directions (a 5,000 × 784 chunk is
/// 31 MB; the whole training set in float64 would be 376 MB, twice over once centred).
[<Literal>]
let private PcaChunk = 5000L

/// Views of `x`'s rows, `PcaChunk` at a time.
let private rowChunks (x: torch.Tensor) : torch.Tensor list =
    let n = x.shape.[0]
    [ for start in 0L .. PcaChunk .. n - 1L -> x.narrow(0L, start, min PcaChunk (n - start)) ]

/// The first `components` principal directions of `x` ([d; components]), fitted by the
/// eigendecomposition of its covariance (accumulated in float64, chunk by chunk), with the mean to
/// centre by.
let pcaFit (components: int) (x: torch.Tensor) : torch.Tensor * torch.Tensor =
    use _ = torch.no_grad ()
    use scope = torch.NewDisposeScope()
    let n = x.shape.[0]
    let chunks = rowChunks x
    let float64 (chunk: torch.Tensor) = chunk.to_type(torch.ScalarType.Float64)
    let mean =
        chunks
        |> List.map (fun chunk -> use c = float64 chunk in c.sum([| 0L |], keepdim = true))
        |> List.reduce (fun total part -> total.add_(part))
        |> fun total -> total.div_((float n).ToScalar())
    let covariance =
        chunks
        |> List.map (fun chunk ->
            use c = float64 chunk
            use centred = c - mean
            // The transposed view holds the chunk's storage until it is disposed too.
            use transposed = centred.t()
            transposed.matmul(centred))
        |> List.reduce (fun total part -> total.add_(part))
        |> fun total -> total.div_((float (n - 1L)).ToScalar())
    let struct (_, vectors) = torch.linalg.eigh(covariance)
    // eigh sorts eigenvalues ascending: the last columns are the leading directions.
    let d = vectors.shape.[1]
    let leading = vectors.narrow(1L, d - int64 components, int64 components).flip(1L)
    leading.to_type(torch.ScalarType.Float32).MoveToOuterDisposeScope(), mean.to_type(torch.ScalarType.Float32).MoveToOuterDisposeScope()

/// `x` projected on fitted principal directions.
let pcaProject (directions: torch.Tensor, mean: torch.Tensor) (x: torch.Tensor) : torch.Tensor =
    use _ = torch.no_grad ()
    // Centred a chunk at a time: the whole training set centred at once is a 188 MB temporary.
    let parts =
        [| for chunk in rowChunks x ->
               use chunk = chunk
               use centred = chunk - mean
               centred.matmul(directions) |]
    let projected = torch.cat(parts, 0L)
    for part in parts do part.Dispose()
    projected
