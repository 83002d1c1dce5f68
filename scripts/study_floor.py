#!/usr/bin/env python3
"""The matrix products a finished run could not do without, counted layer by layer from its
results.json, and how long they take at a given rate: the floor under the run's wall time.

    python3 scripts/study_floor.py RUN [--rate GFLOPS ...]

Counted, for every perceptron model trained in the run (a model taken from another experiment is
counted there), per repeat and over the epochs it trained: each layer's forward product, its weight
gradient and its input gradient (none for the first layer) on the 55,000 training images, and the
forward pass on the 5,000 validation images; the IWAE estimate's decoder on every sample and the
encoder once per image; the measurements' forward pass on the test set and the training images'
codes. A multiply-add is 2 FLOP. Not counted: Adam, the element-wise work, the probes' fits, PCA.
Convolutional models are skipped (said on stderr). Standard library only.
"""
import argparse
import json
import sys

TRAIN, VALIDATION, TEST, PROBE_TRAIN, PIXELS = 55_000, 5_000, 10_000, 60_000, 784


def products(widths):
    """FLOP of one image through dense layers of these widths (input first)."""
    return sum(2 * a * b for a, b in zip(widths, widths[1:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (its results.json)")
    parser.add_argument("--rate", type=float, nargs="+", default=[186.0, 191.0],
                        help="matrix-product rates in GFLOP/s (default: this machine's 2048^3 product on 2 threads)")
    args = parser.parse_args()
    try:
        with open(f"{args.run}/results.json", encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {args.run}/results.json: {e}")
    if results.get("quick"):
        sys.exit("error: a --quick run trains on a subset; this count assumes the full split")
    training = likelihood = measuring = seconds = 0.0
    trainings = 0
    for experiment in results["experiments"]:
        for model in experiment["models"]:
            if model.get("reusedFrom"):
                continue
            if model.get("conv"):
                print(f"skipped {experiment['experiment']}/{model['name']}: convolutional", file=sys.stderr)
                continue
            hidden, latent, vae = model["hidden"], model["latent"], model["kind"] == "vae"
            encoder = products([PIXELS, *hidden, 2 * latent if vae else latent])
            decoder = products([latent, *hidden[::-1], PIXELS])
            forward = encoder + decoder
            # Forward, weight gradient, input gradient; the first layer needs no input gradient.
            step = 3 * forward - 2 * PIXELS * (hidden[0] if hidden else (2 * latent if vae else latent))
            for repeat in model["repeats"]:
                trainings += 1
                seconds += repeat["trainingSeconds"]
                training += len(repeat["epochs"]) * (TRAIN * step + VALIDATION * forward)
                if vae:
                    likelihood += experiment["iwaeImages"] * (experiment["iwaeSamples"] * decoder + encoder)
                measuring += TEST * forward + PROBE_TRAIN * encoder
    total = training + likelihood + measuring
    print(f"{trainings} trainings: {training / 1e12:.1f} TFLOP; IWAE estimates {likelihood / 1e12:.1f} TFLOP; "
          f"measurements' forward passes {measuring / 1e12:.1f} TFLOP; in all {total / 1e12:.1f} TFLOP")
    if seconds > 0:
        print(f"the trainings ran at {training / seconds / 1e9:.0f} GFLOP/s per lane ({seconds:.0f} s of lane time)")
    for rate in args.rate:
        print(f"at {rate:g} GFLOP/s: {total / rate / 1e9 / 60:.1f} min")


if __name__ == "__main__":
    main()
