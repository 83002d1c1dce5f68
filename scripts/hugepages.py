#!/usr/bin/env python3
"""Huge pages on and off, side by side: `run task1 --repeats 1 --epochs 1` (two trainings of one
epoch, then both models measured: probes, IWAE estimate, pictures, report) in processes that
alternate THP_MEM_ALLOC_ENABLE=1 (what the engine sets unless told otherwise) and =0, in the order
on, off, off, on, ... so that a slow spell of the machine falls on both. Prints each run's wall time,
the median of each, and checks that both settings give the same results.json (timings aside).

    python3 scripts/hugepages.py [--pairs 3] [--out DIR]

after `dotnet build -c Release`. About 6 minutes with 3 pairs on 2 cores.
"""
import argparse, json, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNNER = os.path.join(ROOT, "Vae.Experiments", "bin", "Release", "net10.0", "Vae.Experiments")
TIMINGS = ("seconds", "startedutc", "finishedutc")


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in k.lower() for t in TIMINGS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default="hugepages")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error(f"--pairs must be at least 1, was {args.pairs}")
    if not os.path.exists(RUNNER):
        sys.exit(f"error: {RUNNER} not found: build first with `dotnet build -c Release`")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    seconds = {"1": [], "0": []}
    results = {}
    order = [("1", "0") if i % 2 == 0 else ("0", "1") for i in range(args.pairs)]
    for i, pair in enumerate(order):
        for setting in pair:
            folder = os.path.join(out, f"run{i + 1}-thp{setting}")
            command = [RUNNER, "run", "task1", "--repeats", "1", "--epochs", "1", "--out", folder]
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, check=True,
                           env={**os.environ, "THP_MEM_ALLOC_ENABLE": setting})
            seconds[setting].append(time.perf_counter() - start)
            print(f"THP_MEM_ALLOC_ENABLE={setting}: {seconds[setting][-1]:.1f} s", flush=True)
            with open(os.path.join(folder, "results.json")) as f:
                results.setdefault(setting, without_timings(json.load(f)))
    on, off = statistics.median(seconds["1"]), statistics.median(seconds["0"])
    print(f"median: huge pages {on:.1f} s, without {off:.1f} s ({on / off:.2f} of the time)")
    same = results["1"] == results["0"]
    print("results.json, timings aside:", "identical" if same else "DIFFERENT")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
