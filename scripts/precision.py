#!/usr/bin/env python3
"""Training and evaluation speed of fp32, bf16 and "auto", lstm-mnist and PyTorch side by side.

Per round (the order of the variants alternates between rounds) runs
  lstm-mnist bench --set train.precision=P --set eval.precision=P   for P in fp32, bf16, auto
  python scripts/bench_pytorch.py --mode bench                      (PyTorch fp32)
  python scripts/bench_pytorch.py --mode bf16                       (PyTorch under torch.autocast bf16)
and prints, per variant, the median training and evaluation samples/s over the rounds, the
ratio to the same program's fp32, and what "auto" chose (from its log line). The load average
is printed with every run: measure on a quiet machine.

Standard library only; needs a release build (`make build`) and the venv's torch (`. scripts/env.sh`).
Example (about 2 minutes on an idle 2-core machine):
  python3 scripts/precision.py --rounds 3
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, last_json, machine  # noqa: E402

VARIANTS = ["ours-fp32", "ours-bf16", "ours-auto", "torch-fp32", "torch-bf16"]
AUTO_LINE = re.compile(r'precision "auto": (training|inference) in (\w+)')


def command(args, variant):
    program, precision = variant.split("-")
    if program == "ours":
        sets = [f"train.precision={precision}", f"eval.precision={precision}", f"data.dir={args.data}"]
        return [args.bin, "bench", "--config", args.config, *sum((["--set", s] for s in sets), []),
                "--steps", str(args.steps), "--warmup", str(args.warmup), "--eval-repeats", str(args.eval_repeats)]
    mode = "bench" if precision == "fp32" else "bf16"
    return [sys.executable, os.path.join(ROOT, "scripts", "bench_pytorch.py"), "--mode", mode, "--data", args.data,
            "--steps", str(args.steps), "--warmup", str(args.warmup), "--eval-repeats", str(args.eval_repeats)]


def run(args, variant):
    env = dict(os.environ, RUST_LOG="info")
    proc = subprocess.run(command(args, variant), cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {variant} exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    result = last_json(proc.stdout)
    if "error" in result:
        sys.exit(f"error: {variant}: {result['error']}")
    chosen = dict(AUTO_LINE.findall(proc.stderr))
    return result["train_samples_per_second"], result["eval_samples_per_second"], chosen


def table(results, chosen):
    print(f"\n| samples/s, medians of {len(next(iter(results.values())))} | training | vs fp32 | evaluation | vs fp32 |")
    print("|---|---:|---:|---:|---:|")
    for variant, runs in results.items():
        train = statistics.median(r[0] for r in runs)
        evaluation = statistics.median(r[1] for r in runs)
        base = results.get(variant.split("-")[0] + "-fp32") or [(train, evaluation)]
        base_train = statistics.median(r[0] for r in base)
        base_eval = statistics.median(r[1] for r in base)
        name = variant
        if variant == "ours-auto" and chosen:
            name += " (chose " + ", ".join(f"{k} {v}" for k, v in sorted(chosen.items())) + ")"
        print(f"| {name} | {train:,.0f} | {train / base_train:.2f} | {evaluation:,.0f} | {evaluation / base_eval:.2f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--eval-repeats", type=int, default=3)
    p.add_argument("--config", default="configs/seed.json")
    p.add_argument("--data", default="data/mnist-sample")
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "lstm-mnist"))
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ",".join(VARIANTS))
    args = p.parse_args()
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            sys.exit(f"error: unknown variant {v!r}: use {', '.join(VARIANTS)}")
    print(f"machine: {machine()}")
    results, chosen = {v: [] for v in variants}, {}
    for r in range(args.rounds):
        for v in variants if r % 2 == 0 else reversed(variants):
            train, evaluation, auto = run(args, v)
            results[v].append((train, evaluation))
            chosen.update(auto)
            load = os.getloadavg()[0]
            print(f"round {r + 1} {v}: training {train:,.0f}, evaluation {evaluation:,.0f} samples/s, load {load:.2f}",
                  flush=True)
    table(results, chosen)


if __name__ == "__main__":
    main()
