#!/usr/bin/env python3
"""Runs a series model exported by `lstm-mnist export` with ONNX Runtime.

    python scripts/onnx_run_series.py MODEL.onnx --ts FILE.ts [--check]
    python scripts/onnx_run_series.py MODEL.onnx --raw X.f32 LENGTHS.i32 N T F --logits OUT.f32 [--check]

The model's inputs are `sequences` float32 [N, T, F] (raw values: the graph
standardises them) and `lengths` int32 [N] (points per series). With --ts,
reads a labelled UCR/UEA .ts file (its own small reader: values only, no time
stamps or missing values), feeds it in batches of 256 series padded with zeros
to the batch's longest, and prints `accuracy: A (CORRECT of N)` (A to 4
places), comparing the predicted class names with the file's labels. With
--raw, runs one batch read from raw little-endian files and writes the logits
(float32, row-major [N, classes]). --check runs onnx.checker (full check) first.
Needs onnxruntime and numpy (and onnx for --check).
"""
import argparse
import json
import sys

import numpy as np
import onnxruntime as ort


def read_ts(path):
    series, labels, in_data = [], [], False
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, label = line.split(":")
            values = np.array([[float(v) for v in d.split(",")] for d in dims], dtype=np.float32)
            series.append(values.T)  # [T, F]
            labels.append(label.strip())
    return series, labels


def run(session, batch):
    longest = max(len(s) for s in batch)
    x = np.zeros((len(batch), longest, batch[0].shape[1]), dtype=np.float32)
    for i, s in enumerate(batch):
        x[i, : len(s)] = s
    lengths = np.array([len(s) for s in batch], dtype=np.int32)
    return session.run(["logits"], {"sequences": x, "lengths": lengths})[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--ts")
    p.add_argument("--raw", nargs=5, metavar=("X", "LENGTHS", "N", "T", "F"))
    p.add_argument("--logits")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    if a.check:
        import onnx

        onnx.checker.check_model(onnx.load(a.model), full_check=True)
    session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    names = json.loads(session.get_modelmeta().custom_metadata_map["class_names"])
    if a.ts:
        series, labels = read_ts(a.ts)
        logits = np.concatenate([run(session, series[i : i + 256]) for i in range(0, len(series), 256)])
        predicted = [names[c] for c in logits.argmax(axis=1)]
        correct = sum(p == l for p, l in zip(predicted, labels))
        print(f"accuracy: {correct / len(labels):.4f} ({correct} of {len(labels)})")
    elif a.raw:
        n, t, f = (int(v) for v in a.raw[2:])
        x = np.fromfile(a.raw[0], dtype="<f4").reshape(n, t, f)
        lengths = np.fromfile(a.raw[1], dtype="<i4")
        logits = session.run(["logits"], {"sequences": x, "lengths": lengths})[0]
        logits.astype("<f4").tofile(a.logits)
    else:
        sys.exit("give --ts FILE.ts or --raw X LENGTHS N T F")


if __name__ == "__main__":
    main()
