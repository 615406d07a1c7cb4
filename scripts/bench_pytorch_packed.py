#!/usr/bin/env python3
"""PyTorch reference for `make bench`'s variable-length row: the recipe of
configs/japanese-vowels.json written the way a PyTorch user writes it.

Data: a UCR/UEA problem's NAME_TRAIN.ts / NAME_TEST.ts (as fetched by
scripts/setup-ts-data.sh), standardised per dimension over the real steps of
the training split. Model: nn.LSTM(F, hidden, bidirectional) over
`pack_padded_sequence(..., enforce_sorted=False)`, `pad_packed_sequence`, the
mean of the outputs over each sequence's real steps (readout "mean"), then
nn.Linear. Training: Adam, cross-entropy, shuffled batches each padded to its
own longest sequence and packed per batch (the usual DataLoader +
collate_fn + pack recipe). Evaluation: the test split in batches of 1000.

--mode bench prints one JSON line with the same keys `lstm-mnist bench` prints
(load_seconds, train_samples_per_second over --steps timed steps after
--warmup, eval_samples_per_second over --eval-repeats passes, threads);
--mode run trains --epochs epochs and prints the test accuracy.

    ~/.cache/lstm-mnist/venv/bin/python scripts/bench_pytorch_packed.py --threads 1
"""

import argparse
import json
import math
import os
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def read_ts(path):
    """Reads a .ts file with equal or unequal lengths, no missing values: (series, labels, class names)."""
    series, labels, classes, in_data = [], [], [], False
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                low = line.lower()
                if low.startswith("@classlabel"):
                    classes = line.split()[2:]
                elif low == "@data":
                    in_data = True
                continue
            *dims, label = line.split(":")
            rows = [[float(v) for v in d.split(",")] for d in dims]
            series.append(torch.tensor(rows, dtype=torch.float32).T.contiguous())  # [T, F]
            labels.append(classes.index(label))
    return series, torch.tensor(labels), classes


def load(folder, problem):
    start = time.perf_counter()
    base = os.path.join(os.path.expanduser(folder), problem, problem)
    train, train_y, classes = read_ts(base + "_TRAIN.ts")
    test, test_y, _ = read_ts(base + "_TEST.ts")
    real = torch.cat(train)
    mean, std = real.mean(0), real.std(0).clamp_min(1e-8)
    train = [(s - mean) / std for s in train]
    test = [(s - mean) / std for s in test]
    return train, train_y, test, test_y, len(classes), time.perf_counter() - start


class PackedClassifier(torch.nn.Module):
    def __init__(self, features, hidden, classes, bidirectional):
        super().__init__()
        self.lstm = torch.nn.LSTM(features, hidden, bidirectional=bidirectional, batch_first=True)
        self.out = torch.nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
        return self.out(output.sum(1) / lengths.unsqueeze(1).to(output.dtype))


def collate(series, indices):
    """Pads the chosen series to the longest of them: (x [N, T, F], lengths [N])."""
    chosen = [series[i] for i in indices]
    lengths = torch.tensor([s.shape[0] for s in chosen])
    x = torch.nn.utils.rnn.pad_sequence(chosen, batch_first=True)
    return x, lengths


def batches(n, batch, generator):
    while True:
        order = torch.randperm(n, generator=generator).tolist()
        for i in range(0, n, batch):
            yield order[i:i + batch]


def train_steps(model, opt, series, labels, batch_iter, steps):
    samples = 0
    for _ in range(steps):
        idx = next(batch_iter)
        x, lengths = collate(series, idx)
        loss = torch.nn.functional.cross_entropy(model(x, lengths), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        samples += len(idx)
    return samples


@torch.no_grad()
def evaluate(model, series, labels, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, len(series), batch):
        idx = list(range(i, min(i + batch, len(series))))
        x, lengths = collate(series, idx)
        correct += (model(x, lengths).argmax(1) == labels[idx]).sum().item()
    model.train()
    return correct / len(series)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["bench", "run"], default="bench")
    p.add_argument("--data", default="~/.cache/lstm-mnist/data")
    p.add_argument("--problem", default="JapaneseVowels")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's default)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--unidirectional", action="store_true")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--eval-repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, train_y, test, test_y, classes, load_seconds = load(args.data, args.problem)
    model = PackedClassifier(train[0].shape[1], args.hidden, classes, not args.unidirectional)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    batch_iter = batches(len(train), args.batch, torch.Generator().manual_seed(args.seed))
    if args.mode == "run":
        steps = args.epochs * math.ceil(len(train) / args.batch)
        train_steps(model, opt, train, train_y, batch_iter, steps)
        print(json.dumps({"problem": args.problem, "epochs": args.epochs, "test_accuracy": evaluate(model, test, test_y)}))
        return
    train_steps(model, opt, train, train_y, batch_iter, args.warmup)
    start = time.perf_counter()
    samples = train_steps(model, opt, train, train_y, batch_iter, args.steps)
    train_sps = samples / (time.perf_counter() - start)
    evaluate(model, test, test_y)
    start = time.perf_counter()
    for _ in range(args.eval_repeats):
        evaluate(model, test, test_y)
    eval_sps = args.eval_repeats * len(test) / (time.perf_counter() - start)
    print(json.dumps({
        "load_seconds": load_seconds,
        "train_samples_per_second": train_sps,
        "eval_samples_per_second": eval_sps,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
