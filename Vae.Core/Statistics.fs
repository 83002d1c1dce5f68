/// Repeats: summaries of a metric over runs with different seeds, and whether a difference
/// between two models is larger than the noise.
module Vae.Core.Statistics

open System

/// Mean and sample standard deviation (0 for a single value) of a metric over repeats.
type Summary = { Mean: float; Std: float; Count: int }

/// The summary of `values`.
let summarise (values: float list) : Summary =
    let n = List.length values
    if n = 0 then invalidArg (nameof values) "no values"
    let mean = List.average values
    let std = if n < 2 then 0.0 else sqrt ((values |> List.sumBy (fun v -> (v - mean) ** 2.0)) / float (n - 1))
    { Mean = mean; Std = std; Count = n }

/// Which way a metric is better.
type Better =
    | Lower
    | Higher

/// The verdict on a metric across models.
type Verdict =
    /// The best model's mean beats the runner-up's by more than their two standard deviations combined.
    | Clear of best: string * runnerUp: string * margin: float
    /// The best mean is not that far ahead: the difference is within noise.
    | WithinNoise of best: string * runnerUp: string * margin: float
    /// Only one model.
    | Alone of best: string

/// `candidates` best first on a metric: the lowest (or highest) `value` first, the first in order on a tie,
/// a value that is not finite last. The one place that decides which model is best.
let ranked (better: Better) (value: 'a -> float) (candidates: 'a list) : 'a list =
    let key c =
        let v = value c
        if not (Double.IsFinite v) then infinity
        elif better = Lower then v
        else -v
    List.sortBy key candidates

/// The best of `candidates` on a metric (see `ranked`); None when there are none.
let best (better: Better) (value: 'a -> float) (candidates: 'a list) : 'a option =
    ranked better value candidates |> List.tryHead

/// Whether the lead of one summary over another is real: the two means differ by more than the two standard
/// deviations combined. The one place that says "beyond the noise".
let beyondNoise (a: Summary) (b: Summary) : bool = abs (a.Mean - b.Mean) > a.Std + b.Std

/// The verdict on a metric, from (model, summary) pairs: a model is declared best only when its
/// mean beats the runner-up's by more than the sum of the two standard deviations.
let verdict (better: Better) (summaries: (string * Summary) list) : Verdict =
    match ranked better (fun (_, s) -> s.Mean) summaries with
    | [] -> invalidArg (nameof summaries) "no models"
    | [ (best, _) ] -> Alone best
    | (best, b) :: (runnerUp, r) :: _ ->
        let margin = abs (b.Mean - r.Mean)
        if beyondNoise b r then Clear(best, runnerUp, margin) else WithinNoise(best, runnerUp, margin)
