#!/usr/bin/env python3
"""Runs an ONNX model exported by `lstm-mnist export` with ONNX Runtime on an IDX image file.

    python scripts/onnx_run.py MODEL.onnx IMAGES.idx[.gz] [--labels LABELS.idx[.gz]]
                               [--limit N] [--logits OUT.f32] [--check]

Feeds the images as float32 [N, H, W] pixel / 255 (the model's input `images`),
prints the predicted class name of the first images and, with --labels, the
accuracy; --logits writes all logits as raw little-endian float32, row-major
[N, classes]; --check runs onnx.checker (full check, with shape inference) first.
Needs `onnxruntime` and `numpy` (and `onnx` for --check), which `make test`
installs into the project's venv.
"""
import argparse
import gzip
import json
import struct
import sys

import numpy as np
import onnxruntime as ort


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("images")
    p.add_argument("--labels")
    p.add_argument("--limit", type=int)
    p.add_argument("--logits")
    p.add_argument("--check", action="store_true")
    a = p.parse_args()
    if a.check:
        import onnx

        onnx.checker.check_model(onnx.load(a.model), full_check=True)
    session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    names = json.loads(meta["class_names"])
    images = read_idx(a.images)[: a.limit].astype(np.float32) / 255.0
    logits = np.concatenate(
        [session.run(["logits"], {"images": images[i : i + 500]})[0] for i in range(0, len(images), 500)]
    )
    if a.logits:
        logits.astype("<f4").tofile(a.logits)
    predicted = logits.argmax(axis=1)
    for i, c in enumerate(predicted[:5]):
        print(f"{a.images}[{i}]: {names[c]}")
    if a.labels:
        labels = read_idx(a.labels)[: a.limit]
        correct = int((predicted == labels).sum())
        print(f"accuracy: {correct / len(labels):.4f} ({correct} of {len(labels)})")


if __name__ == "__main__":
    main()
