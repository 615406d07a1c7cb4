#!/usr/bin/env python3
"""`make bench`: lstm-mnist against a PyTorch script doing the same work, side by side.

Runs, alternating and on the same machine state, `--runs` times each:
  * `lstm-mnist bench` and `scripts/bench_pytorch.py --mode bench`: dataset load time,
    training samples/s (timed steps after warm-up), evaluation samples/s (test split,
    batch 1000), peak RSS (VmHWM read by the process itself at exit);
  * `lstm-mnist train` and `scripts/bench_pytorch.py --mode run`: a whole short training
    run as a user runs it (start-up, load, steps with progress lines, test, save), its
    wall time and its peak RSS (ru_maxrss of that child, from wait4).
  * variable lengths (unless `--no-series`): `lstm-mnist bench --config
    configs/japanese-vowels.json` (length buckets, batches cut to their longest
    sequence, packed LSTM) and `scripts/bench_pytorch_packed.py` (the same
    BiLSTM/mean-readout recipe with shuffled batches padded to their longest and
    `pack_padded_sequence(enforce_sorted=False)` per batch), on the same .ts
    problem (scripts/setup-ts-data.sh fetches it), batch 32, the same threads.
Prints medians and ratios, PyTorch's time over ours: above 1 means lstm-mnist is faster.
`--busy N` keeps N CPU-bound processes (`while True: pass`) running beside both
programs for the whole comparison, as on a shared machine or beside parallel trials.
Standard library only; run it with the venv's python (the Makefile does).
"""

import argparse
import contextlib
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def physical_cores():
    pairs = set()
    phys = core = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip():
                    if core is not None:
                        pairs.add((phys, core))
                    phys = core = None
    except OSError:
        pass
    return len(pairs) or os.cpu_count() or 1


def machine():
    model = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {physical_cores()} physical cores / {os.cpu_count()} logical CPUs"


def run_child(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, wall seconds, ru_maxrss KiB of that child)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {proc.returncode}:\n{stderr[-2000:]}")
    return stdout, stderr, wall, usage.ru_maxrss


@contextlib.contextmanager
def busy(n, python=sys.executable):
    """Keeps n CPU-bound processes running inside the `with` block; stops them after it."""
    procs = [subprocess.Popen([python, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def last_json(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"error: no JSON line in output:\n{text[-2000:]}")


def series_runners(args, threads, work, env, samples):
    """The two variable-length measurements (ours, PyTorch's packed sequences), each recording into `samples`."""
    cache = os.environ.get("LSTM_MNIST_CACHE", os.path.expanduser("~/.cache/lstm-mnist"))
    data = os.path.join(cache, "data")
    if not os.path.isfile(os.path.join(data, args.problem, f"{args.problem}_TRAIN.ts")):
        sys.exit(f"error: {args.problem} not found under {data}: run scripts/setup-ts-data.sh (or pass --no-series)")
    sets = ["--set", f"threads={threads}", "--set", f"device={args.device}", "--set", f"data.problem={args.problem}"]

    def ours():
        out, _, _, _ = run_child([args.bin, "bench", "--config", args.series, *sets, *work], env)
        j = last_json(out)
        samples["seq_train"]["ours"].append(j["train_samples_per_second"])
        samples["seq_eval"]["ours"].append(j["eval_samples_per_second"])

    def theirs():
        out, _, _, _ = run_child([args.python, "scripts/bench_pytorch_packed.py", "--threads", str(threads),
                                  "--data", data, "--problem", args.problem, *work], env)
        j = last_json(out)
        samples["seq_train"]["torch"].append(j["train_samples_per_second"])
        samples["seq_eval"]["torch"].append(j["eval_samples_per_second"])

    return (ours, theirs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs of each program (default 3)")
    p.add_argument("--steps", type=int, default=200, help="timed training steps (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps (default 20)")
    p.add_argument("--eval-repeats", type=int, default=5, help="timed passes over the test split (default 5)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads for both (default: physical cores)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device for both (default cpu)")
    p.add_argument("--config", default="configs/seed.json")
    p.add_argument("--data", default="data/mnist-sample")
    p.add_argument("--bin", default="target/release/lstm-mnist")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="CPU-bound processes kept running beside both programs (default 0)")
    p.add_argument("--series", default="configs/japanese-vowels.json",
                   help="variable-length config for the packed-sequence rows (default configs/japanese-vowels.json)")
    p.add_argument("--problem", default="JapaneseVowels", help="its .ts problem, for PyTorch (default JapaneseVowels)")
    p.add_argument("--no-series", action="store_true", help="leave out the variable-length rows")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for README)")
    args = p.parse_args()
    threads = args.threads or physical_cores()
    batch = 128
    sets = ["--set", f"threads={threads}", "--set", f"device={args.device}", "--set", f"data.dir={args.data}",
            "--set", f"train.batch_size={batch}"]
    work = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--eval-repeats", str(args.eval_repeats)]
    py_common = [args.python, "scripts/bench_pytorch.py", "--threads", str(threads), "--data", args.data,
                 "--device", args.device, "--batch", str(batch)]
    env = dict(os.environ, RUST_LOG="warn")

    load_before = os.getloadavg()
    samples = {k: {"ours": [], "torch": []} for k in
               ("train", "eval", "load", "wall", "rss_run", "rss_bench", "seq_train", "seq_eval")}
    series = None if args.no_series else series_runners(args, threads, work, env, samples)
    with tempfile.TemporaryDirectory() as tmp, busy(args.busy):
        for i in range(args.runs):
            def ours():
                out, _, _, rss = run_child([args.bin, "bench", "--config", args.config, *sets, *work], env)
                j = last_json(out)
                samples["train"]["ours"].append(j["train_samples_per_second"])
                samples["eval"]["ours"].append(j["eval_samples_per_second"])
                samples["load"]["ours"].append(j["load_seconds"])
                samples["rss_bench"]["ours"].append(j["vm_hwm_kib"] or rss)
                _, _, wall, rss = run_child([args.bin, "train", "--config", args.config, *sets, "--set",
                                             f"train.training_iters={args.steps * batch + 1}",
                                             "--out", os.path.join(tmp, "run"), "--force"], env)
                samples["wall"]["ours"].append(wall)
                samples["rss_run"]["ours"].append(rss)

            def theirs():
                out, _, _, rss = run_child([*py_common, "--mode", "bench", *work], env)
                j = last_json(out)
                samples["train"]["torch"].append(j["train_samples_per_second"])
                samples["eval"]["torch"].append(j["eval_samples_per_second"])
                samples["load"]["torch"].append(j["load_seconds"])
                samples["rss_bench"]["torch"].append(j["vm_hwm_kib"] or rss)
                _, _, wall, rss = run_child([*py_common, "--mode", "run", "--steps", str(args.steps)], env)
                samples["wall"]["torch"].append(wall)
                samples["rss_run"]["torch"].append(rss)

            pair = (ours, theirs) if i % 2 == 0 else (theirs, ours)
            extra = () if series is None else (series if i % 2 == 0 else series[::-1])
            for f in pair + extra:
                f()
            print(f"run {i + 1}/{args.runs} done", file=sys.stderr)
    load_after = os.getloadavg()

    med = {k: {who: statistics.median(v) for who, v in d.items()} for k, d in samples.items()}
    rows = [
        ("training, samples/s (higher is better)", "train", "{:,.0f}", True),
        ("evaluation at batch 1000, samples/s", "eval", "{:,.0f}", True),
        ("dataset load, s", "load", "{:.3f}", False),
        (f"whole process, {args.steps}-step training run + test, s", "wall", "{:.2f}", False),
        ("peak RSS of that run, MiB", "rss_run", "{:.0f}", False),
        ("peak RSS of the bench process, MiB", "rss_bench", "{:.0f}", False),
    ]
    if series is not None:
        rows += [(f"variable lengths ({args.problem}, batch 32): training, samples/s (higher is better)", "seq_train", "{:,.0f}", True),
                 (f"variable lengths ({args.problem}): evaluation at batch 1000, samples/s", "seq_eval", "{:,.0f}",
                  True)]
    header = ["", "lstm-mnist", "PyTorch", "ratio (PyTorch time / ours)"]
    table = []
    for label, key, fmt, higher in rows:
        o, t = med[key]["ours"], med[key]["torch"]
        scale = 1 / 1024 if key.startswith("rss") else 1
        ratio = (o / t) if higher else (t / o)
        table.append([label, fmt.format(o * scale), fmt.format(t * scale), f"{ratio:.2f}"])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}; {machine()}; device {args.device}, {threads} threads, batch {batch}, "
          f"{args.steps} timed steps after {args.warmup}, medians of {args.runs} alternating runs, "
          f"{args.busy} busy processes beside them; "
          + ("" if series is None else f"variable-length rows: {args.series} vs scripts/bench_pytorch_packed.py; ")
          + f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|---:|---:|---:|")
        for r in table:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in [header] + table) for i in range(4)]
        for r in [header] + table:
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("all runs: " + json.dumps(samples), file=sys.stderr)


if __name__ == "__main__":
    main()
