/// The linear probe against scikit-learn's LogisticRegression (Debian's python3-sklearn, which
/// .ci/run installs) on the features a run gives it: the PCA-20 projection of the real training and
/// test images, standardised as the probe standardises them.
module Vae.Tests.ScikitLearnTests

open System
open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

/// Fits scikit-learn's default multinomial logistic regression (C = 1), run to convergence, to
/// argv[1..2] and prints its test predictions, one digit per image.
let private fit = """
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
d = int(sys.argv[5])
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, d).astype(np.float64)
y = np.fromfile(sys.argv[2], dtype=np.int64)
xt = np.fromfile(sys.argv[3], dtype=np.float32).reshape(-1, d).astype(np.float64)
model = LogisticRegression(C=1.0, tol=1e-10, max_iter=20000).fit(x, y)
print(''.join(str(c) for c in model.predict(xt)))
"""

let private write (path: string) (t: torch.Tensor) = File.WriteAllBytes(path, t.contiguous().bytes.ToArray())

[<Tests>]
let tests =
    testList "ScikitLearn" [
        test "the linear probe agrees with scikit-learn's LogisticRegression on PCA-20 of Fashion-MNIST" {
            let python = "/usr/bin/python3"
            Expect.isTrue (File.Exists python) "Debian's python3 with python3-sklearn (installed by .ci/run)"
            let data = dataset.Value
            let directions, mean = Probes.pcaFit FashionMnist.Pixels data.Train.Images
            let leading = directions.narrow(1L, 0L, 20L), mean
            use trainX = Probes.pcaProject leading data.Train.Images
            use testX = Probes.pcaProject leading data.Test.Images
            let x, xt = Probes.standardise trainX testX
            let clock = Stopwatch.StartNew()
            let ours = Probes.linearAccuracy trainX data.Train.Labels testX data.Test.Labels
            let seconds = clock.Elapsed.TotalSeconds
            let fitted = Probes.fitLogistic x data.Train.Labels
            Expect.isLessThanOrEqual fitted.GradientMax Probes.GradientTolerance "converged on real features"
            let dir = temporaryDirectory ()
            write (Path.Combine(dir, "x.f32")) x
            write (Path.Combine(dir, "y.i64")) data.Train.Labels
            write (Path.Combine(dir, "xt.f32")) xt
            File.WriteAllText(Path.Combine(dir, "fit.py"), fit)
            let start = ProcessStartInfo(python, [ "fit.py"; "x.f32"; "y.i64"; "xt.f32"; "-"; "20" ], WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true)
            use p = Process.Start start
            let output = p.StandardOutput.ReadToEnd()
            let errors = p.StandardError.ReadToEnd()
            p.WaitForExit()
            Expect.equal p.ExitCode 0 $"scikit-learn ran: {errors}"
            let predicted = output.Trim() |> Seq.map (fun c -> int64 c - int64 '0') |> Array.ofSeq
            Expect.hasLength predicted 10000 "a prediction per test image"
            let labels = data.Test.Labels.data<int64>().ToArray()
            let theirs = (Array.map2 (fun a b -> if a = b then 1.0 else 0.0) predicted labels |> Array.average)
            let ourPredictions = (xt.to_type(torch.ScalarType.Float64).matmul(fitted.Weights) + fitted.Bias).argmax(1L).data<int64>().ToArray()
            let agreement = Array.map2 (fun a b -> if a = b then 1.0 else 0.0) predicted ourPredictions |> Array.average
            printfn $"linear probe on PCA-20: ours {ours:P2} in {seconds:F1} s ({fitted.Iterations} L-BFGS iterations), scikit-learn {theirs:P2}, same prediction on {agreement:P2} of the test images"
            Expect.isLessThan (abs (ours - theirs)) 0.003 "within 0.3 points"
            Expect.isGreaterThan agreement 0.995 "the same classifier"
        }
    ]
