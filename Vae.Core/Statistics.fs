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
    /// The best model's lead over the runner-up is real (`leadIsReal`).
    | Clear of best: string * runnerUp: string * margin: float
    /// The lead is not shown to be real: inconclusive.
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

/// ln Γ(x) for x > 0 (Lanczos' approximation, g = 7, nine coefficients: about 15 significant digits;
/// below ½ through the reflection formula).
let rec logGamma (x: float) : float =
    if x < 0.5 then log (Math.PI / abs (sin (Math.PI * x))) - logGamma (1.0 - x)
    else
        let coefficients =
            [| 0.99999999999980993; 676.5203681218851; -1259.1392167224028; 771.32342877765313; -176.61502916214059
               12.507343278686905; -0.13857109526572012; 9.9843695780195716e-6; 1.5056327351493116e-7 |]
        let y = x - 1.0
        let sum = coefficients.[0] + (Array.init 8 (fun i -> coefficients.[i + 1] / (y + float (i + 1))) |> Array.sum)
        let t = y + 7.5
        0.5 * log (2.0 * Math.PI) + (y + 0.5) * log t - t + log sum

/// The regularised incomplete beta function I_x(a, b), from its continued fraction (modified Lentz),
/// taken directly where it converges fast (x < (a + 1) / (a + b + 2)) and through I_x(a, b) =
/// 1 − I_{1−x}(b, a) elsewhere.
let rec incompleteBeta (a: float) (b: float) (x: float) : float =
    if x <= 0.0 then 0.0
    elif x >= 1.0 then 1.0
    elif x > (a + 1.0) / (a + b + 2.0) then 1.0 - incompleteBeta b a (1.0 - x)
    else
        let tiny = 1e-300
        let front = exp (logGamma (a + b) - logGamma a - logGamma b + a * log x + b * log (1.0 - x)) / a
        let mutable c = 1.0
        let mutable d = 1.0 - (a + b) * x / (a + 1.0)
        d <- 1.0 / (if abs d < tiny then tiny else d)
        let mutable f = d
        let mutable m = 1
        let mutable converged = false
        while not converged && m <= 300 do
            let fm = float m
            // Even step, then odd step of the continued fraction.
            let even = fm * (b - fm) * x / ((a + 2.0 * fm - 1.0) * (a + 2.0 * fm))
            d <- 1.0 + even * d
            d <- 1.0 / (if abs d < tiny then tiny else d)
            c <- 1.0 + even / c
            c <- if abs c < tiny then tiny else c
            f <- f * d * c
            let odd = -(a + fm) * (a + b + fm) * x / ((a + 2.0 * fm) * (a + 2.0 * fm + 1.0))
            d <- 1.0 + odd * d
            d <- 1.0 / (if abs d < tiny then tiny else d)
            c <- 1.0 + odd / c
            c <- if abs c < tiny then tiny else c
            let step = d * c
            f <- f * step
            converged <- abs (step - 1.0) < 1e-15
            m <- m + 1
        front * f

/// P(T ≤ t) for Student's t distribution with `df` degrees of freedom (df > 0, not necessarily whole).
let studentCdf (df: float) (t: float) : float =
    let tail = 0.5 * incompleteBeta (df / 2.0) 0.5 (df / (df + t * t))
    if t >= 0.0 then 1.0 - tail else tail

/// The t with P(T ≤ t) = p for Student's t with `df` degrees of freedom (bisection on `studentCdf`).
let studentQuantile (df: float) (p: float) : float =
    if not (p > 0.0 && p < 1.0) then invalidArg (nameof p) $"must be in (0, 1), was {p}"
    let rec bisect low high n =
        let middle = 0.5 * (low + high)
        if n = 0 || high - low < 1e-12 * max 1.0 (abs middle) then middle
        elif studentCdf df middle < p then bisect middle high (n - 1)
        else bisect low middle (n - 1)
    bisect -1e6 1e6 200

/// Welch's two-sample t-test of two summaries (unequal variances; Welch–Satterthwaite degrees of
/// freedom): the difference of means a − b, its standard error, the degrees of freedom, t, the
/// two-sided p-value and the 95 % confidence interval of the difference.
type WelchTest =
    { Difference: float
      StandardError: float
      DegreesOfFreedom: float
      T: float
      P: float
      Low: float
      High: float }

/// Welch's test of a − b; None when it does not apply: fewer than two repeats on either side, or no
/// spread on both (the difference is then exact, or nothing can be said of it).
let welch (a: Summary) (b: Summary) : WelchTest option =
    if a.Count < 2 || b.Count < 2 then None
    else
        let va, vb = a.Std * a.Std / float a.Count, b.Std * b.Std / float b.Count
        let se = sqrt (va + vb)
        if not (se > 0.0) then None
        else
            let df = (va + vb) ** 2.0 / (va * va / float (a.Count - 1) + vb * vb / float (b.Count - 1))
            let difference = a.Mean - b.Mean
            let t = difference / se
            let p = 2.0 * studentCdf df (-(abs t))
            let q = studentQuantile df 0.975
            Some
                { Difference = difference
                  StandardError = se
                  DegreesOfFreedom = df
                  T = t
                  P = min 1.0 p
                  Low = difference - q * se
                  High = difference + q * se }

/// The level at which a lead is declared real: Welch's test must reject equal means at 5 %.
[<Literal>]
let Level = 0.05

/// Whether the lead of one summary over another is real: Welch's two-sample t-test rejects equal means at
/// `Level` (p < 0.05). Without a spread on either side (every repeat gave the same number) a difference is
/// exact; with one repeat on either side nothing can be said. The one place that says "beyond the noise".
let leadIsReal (a: Summary) (b: Summary) : bool =
    match welch a b with
    | Some w -> w.P < Level
    | None -> a.Count >= 2 && b.Count >= 2 && a.Std = 0.0 && b.Std = 0.0 && a.Mean <> b.Mean

/// The verdict on a metric, from (model, summary) pairs: a model is declared best only when its
/// lead over the runner-up is real (`leadIsReal`: Welch's t-test at the 5 % level).
let verdict (better: Better) (summaries: (string * Summary) list) : Verdict =
    match ranked better (fun (_, s) -> s.Mean) summaries with
    | [] -> invalidArg (nameof summaries) "no models"
    | [ (best, _) ] -> Alone best
    | (best, b) :: (runnerUp, r) :: _ ->
        let margin = abs (b.Mean - r.Mean)
        if leadIsReal b r then Clear(best, runnerUp, margin) else WithinNoise(best, runnerUp, margin)

