/// Repeats: summaries of a metric over runs with different seeds, and whether a difference
/// between two models is larger than the noise.
module Vae.Core.Statistics

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

/// The verdict on a metric, from (model, summary) pairs: a model is declared best only when its
/// mean beats the runner-up's by more than the sum of the two standard deviations.
let verdict (better: Better) (summaries: (string * Summary) list) : Verdict =
    let ordered =
        match better with
        | Lower -> summaries |> List.sortBy (fun (_, s) -> s.Mean)
        | Higher -> summaries |> List.sortByDescending (fun (_, s) -> s.Mean)
    match ordered with
    | [] -> invalidArg (nameof summaries) "no models"
    | [ (best, _) ] -> Alone best
    | (best, b) :: (runnerUp, r) :: _ ->
        let margin = abs (b.Mean - r.Mean)
        if margin > b.Std + r.Std then Clear(best, runnerUp, margin) else WithinNoise(best, runnerUp, margin)
