#!/usr/bin/env python3
"""Training speed of `lstm-mnist bench` under OpenMP settings, quiet and beside busy processes.

For each round, alternating the order of the conditions and of the variants, runs
`lstm-mnist bench` (training samples/s over `--steps` timed steps after `--warmup`)
for every variant, once on the machine as it is ("quiet") and once with `--busy`
CPU-bound processes (`while True: pass`) running beside it ("busy"). Prints, per
variant, the medians, busy / quiet, and quiet against libgomp's default; the load
average is printed with every run. Each variant's environment has no OMP_*/GOMP_*
variable except its own.

Variants:
  libgomp     GOMP_SPINCOUNT=300000: libgomp's own default (what the binary ran with before)
  default     no OpenMP variable: the binary's default, GOMP_SPINCOUNT=10000 (crates/experiment/src/openmp.rs)
  passive     OMP_WAIT_POLICY=PASSIVE
  threads1    no OpenMP variable, --set threads=1
  spinN       GOMP_SPINCOUNT=N (for example spin1000, spin100000)

Standard library only. Example (about 3 minutes on an idle 2-core machine):
  python3 scripts/contention.py --rounds 5
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, busy, last_json, machine  # noqa: E402


def variant_env(name, base):
    env = {k: v for k, v in base.items() if not (k.startswith("OMP_") or k.startswith("GOMP_"))}
    env["RUST_LOG"] = "warn"
    sets = []
    if name == "libgomp":
        env["GOMP_SPINCOUNT"] = "300000"
    elif name == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif name == "threads1":
        sets = ["--set", "threads=1"]
    elif name.startswith("spin") and name[4:].isdigit():
        env["GOMP_SPINCOUNT"] = name[4:]
    elif name != "default":
        sys.exit(f"error: unknown variant {name!r}: use libgomp, default, passive, threads1 or spinN")
    return env, sets


def run_bench(args, name):
    env, sets = variant_env(name, os.environ)
    cmd = [args.bin, "bench", "--config", args.config, "--set", "device=cpu", "--set", f"data.dir={args.data}",
           *sets, "--steps", str(args.steps), "--warmup", str(args.warmup), "--eval-repeats", "0"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    return last_json(proc.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5); each runs every variant quiet and busy")
    p.add_argument("--busy", type=int, default=2, metavar="N", help="busy processes in the busy runs (default 2)")
    p.add_argument("--variants", default="libgomp,default", help="comma-separated (default libgomp,default)")
    p.add_argument("--steps", type=int, default=80, help="timed training steps (default 80)")
    p.add_argument("--warmup", type=int, default=10, help="untimed warm-up steps (default 10)")
    p.add_argument("--config", default="configs/seed.json")
    p.add_argument("--data", default="data/mnist-sample")
    p.add_argument("--bin", default="target/release/lstm-mnist")
    p.add_argument("--json", metavar="FILE", help="also write every run to FILE")
    args = p.parse_args()
    variants = args.variants.split(",")
    for name in variants:
        variant_env(name, {})
    runs = []
    start = time.time()
    for r in range(args.rounds):
        conditions = ["quiet", "busy"] if r % 2 == 0 else ["busy", "quiet"]
        for condition in conditions:
            order = variants if r % 2 == 0 else variants[::-1]
            with busy(args.busy if condition == "busy" else 0):
                time.sleep(0.5 if condition == "busy" else 0)
                for name in order:
                    j = run_bench(args, name)
                    load = os.getloadavg()[0]
                    runs.append({"round": r + 1, "condition": condition, "variant": name,
                                 "samples_per_second": j["train_samples_per_second"], "load1": load,
                                 "openmp_defaults": j.get("openmp_defaults"), "openmp_env": j.get("openmp_env")})
                    print(f"round {r + 1} {condition:5} {name:9} {j['train_samples_per_second']:8.0f} samples/s"
                          f"  load {load:.2f}", file=sys.stderr, flush=True)
    med = {(v, c): statistics.median(x["samples_per_second"] for x in runs if x["variant"] == v and x["condition"] == c)
           for v in variants for c in ("quiet", "busy")}
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; {args.steps} timed steps after "
          f"{args.warmup}, medians of {args.rounds} alternating rounds, busy = {args.busy} CPU-bound processes; "
          f"{time.time() - start:.0f} s; load average {min(x['load1'] for x in runs):.2f}-"
          f"{max(x['load1'] for x in runs):.2f}")
    print("| variant | quiet, samples/s | busy, samples/s | busy / quiet | quiet vs libgomp's default |")
    print("|---|---:|---:|---:|---:|")
    for v in variants:
        q, b = med[(v, "quiet")], med[(v, "busy")]
        ref = f"{q / med[('libgomp', 'quiet')]:.2f}" if "libgomp" in variants else "-"
        print(f"| {v} | {q:,.0f} | {b:,.0f} | {b / q:.2f} | {ref} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    main()
