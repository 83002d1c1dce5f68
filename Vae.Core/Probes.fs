/// How useful the codes are as features: a linear probe (multinomial logistic regression) and
/// k-nearest-neighbour accuracy, trained on the training set's codes and scored on the test set's;
/// the same for a PCA projection of the pixels, as a yardstick.
module Vae.Core.Probes

open TorchSharp

/// Features standardised with the training features' mean and standard deviation.
let private standardise (train: torch.Tensor) (test: torch.Tensor) =
    let mean = train.mean([| 0L |], keepdim = true)
    let std = train.std(0L, keepdim = true).clamp_min(1e-6)
    (train - mean) / std, (test - mean) / std

let private accuracy (predicted: torch.Tensor) (labels: torch.Tensor) =
    predicted.eq(labels).to_type(torch.ScalarType.Float64).mean().item<float>()

/// Accuracy on (`testX`, `testY`) of a multinomial logistic regression fitted to (`trainX`,
/// `trainY`): full-batch Adam on the mean cross-entropy with a small L2 penalty, from zero weights,
/// so the result is deterministic.
let linearAccuracy (trainX: torch.Tensor) (trainY: torch.Tensor) (testX: torch.Tensor) (testY: torch.Tensor) : float =
    // Fitting needs gradients even when the caller measures a model under no_grad (as a run does).
    use _ = torch.enable_grad ()
    use scope = torch.NewDisposeScope()
    let classes = trainY.max().item<int64>() + 1L
    let x, xt = standardise trainX testX
    let weights = torch.nn.Parameter(torch.zeros([| x.shape.[1]; classes |]))
    let bias = torch.nn.Parameter(torch.zeros([| classes |]))
    let optimizer = torch.optim.Adam(([| weights; bias |]: Modules.Parameter[]), lr = 0.05)
    // Classes along the first dimension and images along the second: the softmax then runs over
    // rows 60,000 wide instead of 60,000 rows 10 wide (12.9 → 3.6 ms per step for 60,000 codes).
    let features = x.t().contiguous()
    let targets = trainY.unsqueeze(0L)
    for _ in 1..300 do
        use stepScope = torch.NewDisposeScope()
        optimizer.zero_grad()
        let logits = weights.t().matmul(features) + bias.unsqueeze(1L)
        // The mean cross-entropy, −mean log softmax(logits)[label], and a small L2 penalty.
        let crossEntropy = -(torch.nn.functional.log_softmax(logits, 0L).gather(0L, targets).mean())
        let loss = crossEntropy + weights.square().sum() * 1e-4
        loss.backward()
        optimizer.step() |> ignore
    use _ = torch.no_grad ()
    accuracy ((xt.matmul(weights) + bias).argmax(1L)) testY

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
