#!/usr/bin/env python3
"""Measures the README's "Performance" table on this machine, in one script:

1. `bench --compare-naive`: this library's training loop and a plain TorchSharp loop, epoch by epoch
   interleaved in one process (seconds per epoch, the ratio, images/s, GFLOP/s against the floor that
   the machine's own 2048^3 matrix product sets);
2. PyTorch (scripts/pytorch_bench.py), when `import torch` works;
3. the cost curve: seconds per epoch against the first hidden width (100-1,600), the latent size
   (5-80), the batch size (32-1,024) and for a convolutional VAE, each point measured twice (the list
   forwards, then backwards, 2 epochs each, 1 for the convolutional VAE) and its fastest epoch kept,
   so that a slow spell of the machine does not bend the curve;
4. the shipped study, `run seed-study` (3 repeats, report included): wall time and peak resident
   memory of the process.

    python3 scripts/performance.py [--out DIR] [--skip-study]

after `dotnet build -c Release`. Writes DIR/performance.json and DIR/performance.md (the table) and
prints the table. About 30 minutes on 2 cores, most of it the study.
"""
import argparse, json, os, platform, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNNER = os.path.join(ROOT, "Vae.Experiments", "bin", "Release", "net10.0", "Vae.Experiments")

SEED = {"hidden": "400,200,100", "latent": 20, "batch": 64}
CURVE = (
    [("hidden", f"{h},200,100", 20, 64, None) for h in (100, 200, 400, 800, 1600)]
    + [("latent", "400,200,100", z, 64, None) for z in (5, 10, 20, 40, 80)]
    + [("batch", "400,200,100", 20, b, None) for b in (32, 64, 128, 256, 512, 1024)]
    + [("conv", "256", 20, 64, "32,64")]
)


def run(command, **kwargs):
    """Runs `command`, returns (exit code, wall seconds, peak resident bytes of that process)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024


def bench(out, name, hidden, latent, batch, conv, epochs, compare=False):
    path = os.path.join(out, f"{name}.json")
    command = [RUNNER, "bench", "--epochs", str(epochs), "--hidden", hidden, "--latent", str(latent),
               "--batch-size", str(batch), "--json", path]
    if conv:
        command += ["--conv", conv]
    if compare:
        command.append("--compare-naive")
    code, _, _ = run(command, stdout=subprocess.DEVNULL)
    if code != 0:
        sys.exit(f"error: {' '.join(command)} exited with {code}")
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="performance")
    parser.add_argument("--skip-study", action="store_true")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(RUNNER):
        sys.exit(f"error: {RUNNER} not found: build first with `dotnet build -c Release`")
    results = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count()}

    print("bench --compare-naive (7 epochs each, interleaved)", flush=True)
    results["bench"] = bench(out, "bench", SEED["hidden"], SEED["latent"], SEED["batch"], None, 7, compare=True)

    # PyTorch from this interpreter or Debian's (python3-torch), whichever imports torch.
    results["pytorch"] = None
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python) and subprocess.run([python, "-c", "import torch, numpy"], capture_output=True).returncode == 0:
            print(f"PyTorch ({python})", flush=True)
            output = subprocess.run([python, os.path.join(HERE, "pytorch_bench.py"), "--epochs", "2"],
                                    capture_output=True, text=True, check=True).stdout
            results["pytorch"] = json.loads(output)
            break

    print("cost curve", flush=True)
    points = {}
    for order in (CURVE, list(reversed(CURVE))):
        for axis, hidden, latent, batch, conv in order:
            key = f"{axis}-{hidden}-{latent}-{batch}-{conv}"
            epochs = 1 if conv else 2
            r = bench(out, f"curve-{axis}-{len(points.get(key, []))}-{hidden.replace(',', '_')}-{latent}-{batch}", hidden, latent, batch, conv, epochs)
            points.setdefault(key, []).append(r)
            print(f"  {r['model']}, batch {batch}: {', '.join(f'{x:.2f}' for x in r['epochSeconds'])} s per epoch", flush=True)
    curve = []
    for axis, hidden, latent, batch, conv in CURVE:
        measured = points[f"{axis}-{hidden}-{latent}-{batch}-{conv}"]
        fastest = min(s for r in measured for s in r["epochSeconds"])
        first = measured[0]
        curve.append({"axis": axis, "model": first["model"], "batchSize": batch, "secondsPerEpoch": fastest,
                      "epochSeconds": [r["epochSeconds"] for r in measured], "gflopPerEpoch": first["gflopPerEpoch"],
                      "gflops": first["gflopPerEpoch"] / fastest, "peakGflops": max(r["peakGflops"] for r in measured)})
    results["curve"] = curve

    if not args.skip_study:
        print("run seed-study", flush=True)
        folder = os.path.join(out, "study")
        code, seconds, peak = run([RUNNER, "run", "seed-study", "--out", folder], stdout=subprocess.DEVNULL)
        if code != 0:
            sys.exit(f"error: the study exited with {code}")
        results["study"] = {"wallSeconds": seconds, "peakResidentBytes": peak}

    with open(os.path.join(out, "performance.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = markdown(results)
    with open(os.path.join(out, "performance.md"), "w") as f:
        f.write(table)
    print(table)


def markdown(r):
    b = r["bench"]
    lines = ["| what | measured |", "| --- | --- |"]
    ours = ", ".join(f"{s:.2f}" for s in b["epochSeconds"])
    plain = ", ".join(f"{s:.2f}" for s in b["plainEpochSeconds"])
    lines.append(f"| `bench`: this library's loop, five-layer VAE, batch 64, 60,000 images | **{b['medianSecondsPerEpoch']:.2f} s per epoch** (median of {ours}); "
                 f"{b['imagesPerSecond']:,.0f} images/s; {b['gflops']:.0f} GFLOP/s of the machine's {b['peakGflops']:.0f} "
                 f"({100 * b['gflops'] / b['peakGflops']:.0f} %; {b['gflopPerEpoch']:.0f} GFLOP per epoch, a floor of {b['floorSeconds']:.2f} s) |")
    lines.append(f"| the plain TorchSharp loop, interleaved in the same process | {b['plainMedianSecondsPerEpoch']:.2f} s per epoch (median of {plain}) |")
    lines.append(f"| ratio, library / plain (median of the epochs' ratios, the first left out) | **{b['ratio']:.2f}** |")
    if r.get("pytorch"):
        p = r["pytorch"]
        seconds = ", ".join(f"{s:.1f}" for s in p["epochSeconds"])
        lines.append(f"| PyTorch {p['torch']} ({p['threads']} thread{'s' if p['threads'] != 1 else ''}), the same model and loop, data in memory | "
                     f"{min(p['epochSeconds']):.1f} s per epoch ({seconds}): the library is {min(p['epochSeconds']) / b['medianSecondsPerEpoch']:.1f} times faster |")
    if r.get("study"):
        s = r["study"]
        lines.append(f"| `run seed-study` as shipped (3 repeats, report included) | **{s['wallSeconds'] / 60:.1f} min**, peak resident memory {s['peakResidentBytes'] / 1e9:.2f} GB |")
    lines += ["", "| axis | model | batch | s per epoch | GFLOP per epoch | GFLOP/s |", "| --- | --- | --- | --- | --- | --- |"]
    for c in r["curve"]:
        lines.append(f"| {c['axis']} | {c['model']} | {c['batchSize']} | {c['secondsPerEpoch']:.2f} | {c['gflopPerEpoch']:.0f} | {c['gflops']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
