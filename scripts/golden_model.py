#!/usr/bin/env python3
"""Golden fixtures for lstm-model: PyTorch's own nn.LSTM / nn.GRU + nn.Linear.

For every combination PyTorch can express (cell x layers x bidirectional x
readout, and the one-pixel-per-step layout) this writes a saved-model folder in
lstm-model's format -- model.json + model.safetensors under PyTorch's state_dict
names -- plus io.safetensors holding the input images `x` [N, H, W] and the
logits `logits` that PyTorch computes for them in evaluation mode (dropout
off). The Rust test `golden` loads each folder with LstmClassifier::load and
checks its logits against these within 1e-5.

"last" readout is `output[:, -1]` of the top layer: for a bidirectional model,
the forward direction's last output next to the backward direction's output at
the last step. "mean" is `output.mean(1)`.

Run once with the project's venv (needs torch, safetensors, numpy):

    ~/.cache/lstm-mnist/venv/bin/python scripts/golden_model.py

or, to load a model saved by lstm-model into PyTorch and print its class and
probability for the first images of an IDX file (compare with the example
binary `classify` of lstm-model on the same file):

    ~/.cache/lstm-mnist/venv/bin/python scripts/golden_model.py \
        --check runs/seed/model data/mnist-sample/t10k-images-idx3-ubyte.gz
"""

import argparse
import gzip
import itertools
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

FIXTURES = Path(__file__).resolve().parent.parent / "crates/lstm-model/tests/fixtures/golden"
FORMAT_VERSION = 2


class Classifier(torch.nn.Module):
    """The model lstm-model builds, in plain PyTorch."""

    def __init__(self, cell, features, hidden, layers, bidirectional, dropout, classes, readout, sequence):
        super().__init__()
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.cell, self.readout, self.sequence = cell, readout, sequence
        rnn_module = rnn(features, hidden, num_layers=layers, bidirectional=bidirectional,
                         dropout=dropout, batch_first=True)
        setattr(self, cell, rnn_module)  # parameter names: lstm.weight_ih_l0, ...
        self.out = torch.nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, images):
        n, h, w = images.shape
        x = images if self.sequence == "rows" else images.reshape(n, h * w, 1)
        output, _ = getattr(self, self.cell)(x)
        features = output[:, -1] if self.readout == "last" else output.mean(1)
        return self.out(features)


def spec(cell, layers, bidirectional, dropout, readout, sequence, hidden, height, width, class_names):
    steps, features = (height, width) if sequence == "rows" else (height * width, 1)
    return {
        "format_version": FORMAT_VERSION,
        "config": {
            "hidden": hidden, "layers": layers, "bidirectional": bidirectional, "dropout": dropout,
            "cell": cell, "readout": readout, "sequence": sequence, "permutation_seed": 0,
            "forget_bias": 0.0, "init": "pytorch", "seed": 0,
        },
        "image_height": height, "image_width": width, "steps": steps, "features": features,
        "class_names": class_names,
    }


def write_fixtures():
    torch.manual_seed(20261128)
    hidden, height, width, n = 5, 4, 3, 3
    class_names = ["a", "b", "c"]
    cases = [(c, l, b, r, "rows") for c, l, b, r in
             itertools.product(["lstm", "gru"], [1, 2], [False, True], ["last", "mean"])]
    cases += [("lstm", 1, False, "last", "pixels"), ("gru", 2, True, "mean", "pixels")]
    if FIXTURES.exists():
        shutil.rmtree(FIXTURES)
    for cell, layers, bidirectional, readout, sequence in cases:
        name = f"{cell}-l{layers}-{'bi' if bidirectional else 'uni'}-{readout}-{sequence}"
        dropout = 0.25 if layers > 1 else 0.0  # must be off in evaluation
        features = width if sequence == "rows" else 1
        model = Classifier(cell, features, hidden, layers, bidirectional, dropout, len(class_names), readout, sequence)
        x = torch.rand(n, height, width)
        # The reference runs in float64 on the float32 weights the fixture holds.
        with torch.no_grad():
            logits = model.double().eval()(x.double()).float()
        folder = FIXTURES / name
        folder.mkdir(parents=True)
        state = {k: v.float().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        meta = spec(cell, layers, bidirectional, dropout, readout, sequence, hidden, height, width, class_names)
        (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
        save_file({"x": x.contiguous(), "logits": logits.contiguous()}, str(folder / "io.safetensors"))
        print(f"{name}: logits {logits.shape[0]}x{logits.shape[1]}")


def read_idx_images(path, count):
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    n, h, w = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    pixels = torch.frombuffer(bytearray(raw[16:16 + count * h * w]), dtype=torch.uint8)
    return pixels.reshape(-1, h, w).float() / 255.0


def check(folder, idx, count=10):
    """Loads a model saved by lstm-model into PyTorch and classifies IDX images with it."""
    meta = json.loads((Path(folder) / "model.json").read_text())
    c = meta["config"]
    if c["sequence"] == "permuted-pixels":
        raise SystemExit("permuted-pixels needs lstm-model's permutation; check rows or pixels models")
    model = Classifier(c["cell"], meta["features"], c["hidden"], c["layers"], c["bidirectional"], c["dropout"],
                       len(meta["class_names"]), c["readout"], c["sequence"])
    model.load_state_dict(load_file(str(Path(folder) / "model.safetensors")), strict=True)
    model.eval()
    x = read_idx_images(idx, count)
    with torch.no_grad():
        probs = model(x).softmax(-1)
    for i, p in enumerate(probs):
        k = int(p.argmax())
        print(f"{idx}[{i}]: {meta['class_names'][k]} ({float(p[k]):.6f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", nargs=2, metavar=("MODEL_DIR", "IDX_FILE"),
                        help="load a model saved by lstm-model into PyTorch and classify the first images of IDX_FILE")
    args = parser.parse_args()
    if args.check:
        check(*args.check)
    else:
        write_fixtures()
