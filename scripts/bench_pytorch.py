#!/usr/bin/env python3
"""PyTorch reference for `make bench`: the notebook's model, data and loop in plain PyTorch.

Same work as `lstm-mnist` does for the same config: nn.LSTM(28, 128, batch_first=True)
+ nn.Linear(128, 10) on the last step, softmax cross-entropy, Adam(lr=0.001), batch 128
drawn from a shuffled order of the training split, and on every display step (10) the
notebook's extra evaluation-mode forward of the minibatch for its loss and accuracy.
Data: the four IDX gz files of a dataset folder (data/mnist-sample by default).

Modes (one JSON line on stdout, except `run`):
  bench  load the data (timed), W warm-up steps, N timed training steps, then R
         timed evaluations of the test split at batch 1000.
  run    the whole short training run as the user sees it: load, N steps with the
         notebook's progress lines, "Optimization Finished!", test accuracy, save.
  profile  W warm-up steps, then N training steps under torch.profiler; prints the
         per-op table (self CPU time) instead of JSON.
  bf16   like bench, but the training steps and the evaluation run under
         torch.autocast("cpu", dtype=torch.bfloat16); also trains `--steps` steps
         from scratch and reports test accuracy for fp32 and bf16.

Every mode ends with the process's peak RSS (VmHWM) in KiB in the JSON line
(`run` prints it on stderr as `vm_hwm_kib=...`).
"""

import argparse
import gzip
import json
import os
import struct
import sys
import tempfile
import time

import torch
from torch import nn


def read_idx(path):
    """Reads one IDX file (gzipped or raw) into a uint8 tensor of its shape."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8)
    return data.reshape(dims)


def find(folder, stem, kind):
    for name in (f"{stem}-{kind}-ubyte", f"{stem}-{kind}.ubyte".replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            path = os.path.join(folder, name + suffix)
            if os.path.exists(path):
                return path
    raise FileNotFoundError(f"{folder}: no {stem}-{kind}-ubyte[.gz]")


def load(folder):
    """Images [N, 28, 28] float32 in [0, 1] and labels [N] int64, for train and test."""
    out = {}
    for split, stem in (("train", "train"), ("test", "t10k")):
        images = read_idx(find(folder, stem, "images-idx3")).float().div_(255.0)
        labels = read_idx(find(folder, stem, "labels-idx1")).long()
        out[split] = (images, labels)
    return out


class Net(nn.Module):
    def __init__(self, features=28, hidden=128, classes=10):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.out(output[:, -1])


class Order:
    """Shuffled example order, reshuffled each epoch; full batches straddle epochs."""

    def __init__(self, n, seed):
        self.n, self.gen = n, torch.Generator().manual_seed(seed)
        self.order, self.cursor = torch.randperm(n, generator=self.gen), 0
        self.device = None

    def next_batch(self, batch):
        parts, need = [], batch
        while need:
            if self.cursor == self.n:
                self.order, self.cursor = torch.randperm(self.n, generator=self.gen), 0
            take = min(need, self.n - self.cursor)
            parts.append(self.order[self.cursor : self.cursor + take])
            self.cursor += take
            need -= take
        index = parts[0] if len(parts) == 1 else torch.cat(parts)
        return index if self.device is None else index.to(self.device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train(model, opt, images, labels, order, steps, batch, display, out=None, first_step=1):
    order.device = images.device if images.device.type != "cpu" else None
    loss_fn = nn.CrossEntropyLoss()
    for step in range(first_step, first_step + steps):
        index = order.next_batch(batch)
        x, y = images.index_select(0, index), labels.index_select(0, index)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % display == 0:
            with torch.no_grad():
                logits = model(x)
                l = loss_fn(logits, y).item()
                acc = (logits.argmax(-1) == y).float().mean().item()
            if out is not None:
                print(f"Iter {step * batch}, Minibatch Loss= {l:.6f}, Training Accuracy= {acc:.5f}", file=out)


def evaluate(model, images, labels, batch=1000):
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            x, y = images[start : start + batch], labels[start : start + batch]
            logits = model(x)
            correct += int((logits.argmax(-1) == y).sum())
            loss_sum += float(nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
    return correct / len(labels), loss_sum / len(labels)


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def timed_train(model, opt, tr, args, autocast):
    order = Order(len(tr[1]), args.seed)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        train(model, opt, *tr, order, args.warmup, args.batch, args.display)
        t = time.perf_counter()
        train(model, opt, *tr, order, args.steps, args.batch, args.display, first_step=args.warmup + 1)
        sync(tr[0].device)
        return time.perf_counter() - t


def timed_eval(model, te, args, autocast):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        evaluate(model, *te)  # warm-up; evaluate syncs through .sum() and float()
        t = time.perf_counter()
        for _ in range(args.eval_repeats):
            evaluate(model, *te)
        return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["bench", "run", "bf16", "profile"], default="bench")
    p.add_argument("--data", default="data/mnist-sample")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the data is moved there once)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's default)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--eval-repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--display", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    t = time.perf_counter()
    data = load(args.data)
    load_seconds = time.perf_counter() - t
    dev = torch.device(args.device)
    tr, te = ((t.to(dev) for t in data[k]) for k in ("train", "test"))
    tr, te = tuple(tr), tuple(te)
    model = Net(tr[0].shape[2], 128, 10).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
        "load_seconds": load_seconds,
    }

    if args.mode == "run":
        order = Order(len(tr[1]), args.seed)
        train(model, opt, *tr, order, args.steps, args.batch, args.display, out=sys.stdout)
        print("Optimization Finished!")
        accuracy, _ = evaluate(model, *te)
        print(f"Testing Accuracy: {accuracy}")
        with tempfile.TemporaryDirectory() as d:
            torch.save(model.state_dict(), os.path.join(d, "model.pt"))
        print(f"vm_hwm_kib={vm_hwm_kib()}", file=sys.stderr)
        return

    if args.mode == "profile":
        order = Order(len(tr[1]), args.seed)
        train(model, opt, *tr, order, args.warmup, args.batch, args.display)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            train(model, opt, *tr, order, args.steps, args.batch, args.display, first_step=args.warmup + 1)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return

    autocast = args.mode == "bf16"
    try:
        seconds = timed_train(model, opt, tr, args, autocast)
    except RuntimeError as e:
        # e.g. oneDNN has no bf16 LSTM primitive on CPUs without AVX-512.
        result["error"] = str(e).splitlines()[0]
        result["vm_hwm_kib"] = vm_hwm_kib()
        print(json.dumps(result))
        return
    result["train_samples_per_second"] = args.steps * args.batch / seconds
    eval_seconds = timed_eval(model, te, args, autocast)
    result["eval_samples_per_second"] = args.eval_repeats * len(te[1]) / eval_seconds
    if autocast:
        # Accuracy after the same number of steps from scratch, fp32 and bf16.
        for name, ac in (("fp32", False), ("bf16", True)):
            torch.manual_seed(args.seed)
            m = Net(tr[0].shape[2], 128, 10).to(dev)
            o = torch.optim.Adam(m.parameters(), lr=args.lr)
            total = args.warmup + args.steps
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
                t = time.perf_counter()
                train(m, o, *tr, Order(len(tr[1]), args.seed), total, args.batch, args.display)
                result[f"{name}_train_seconds"] = time.perf_counter() - t
                result[f"{name}_test_accuracy"] = evaluate(m, *te)[0]
    result["vm_hwm_kib"] = vm_hwm_kib()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
