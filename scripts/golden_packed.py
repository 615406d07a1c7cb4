#!/usr/bin/env python3
"""Golden fixtures for lstm-model on sequences of different lengths: PyTorch's
nn.LSTM / nn.GRU over `pack_padded_sequence`, + nn.Linear.

For every cell x layers x bidirectional x readout this writes a saved-model
folder in lstm-model's format (model.json + model.safetensors under PyTorch's
state_dict names, as scripts/golden_model.py does) plus io.safetensors holding
a padded batch `x` [N, T, F], its `lengths` [N] (int64, mixed, unsorted, one
of them T) and the `logits` PyTorch computes in evaluation mode. The padding
steps hold large garbage values: a model that read them would be far off.
The Rust test `golden_packed` (crates/lstm-model/tests/golden.rs) checks
LstmClassifier::forward_sequences against these within 1e-5.

Readout with lengths: "last" is the top layer's output at each sequence's last
real step, `out[i, lengths[i] - 1]` of the unpacked output (for a bidirectional
model: the forward direction's output there next to the backward direction's,
which started at that step); "mean" is the mean of the outputs over the real
steps.

Run once with the project's venv (needs torch, safetensors):

    ~/.cache/lstm-mnist/venv/bin/python scripts/golden_packed.py
"""

import itertools
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from golden_model import spec

FIXTURES = Path(__file__).resolve().parent.parent / "crates/lstm-model/tests/fixtures/golden-packed"
LENGTHS = [5, 2, 7, 1, 7, 4]


class PackedClassifier(torch.nn.Module):
    """lstm-model's classifier reading each sequence up to its length."""

    def __init__(self, cell, features, hidden, layers, bidirectional, dropout, classes, readout):
        super().__init__()
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.cell, self.readout = cell, readout
        setattr(self, cell, rnn(features, hidden, num_layers=layers, bidirectional=bidirectional,
                                dropout=dropout, batch_first=True))
        self.out = torch.nn.Linear(hidden * (2 if bidirectional else 1), classes)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, _ = pad_packed_sequence(getattr(self, self.cell)(packed)[0], batch_first=True)
        if self.readout == "last":
            features = output[torch.arange(x.shape[0]), lengths - 1]
        else:
            features = output.sum(1) / lengths.unsqueeze(1).to(output.dtype)
        return self.out(features)


def write_fixtures():
    torch.manual_seed(20261207)
    hidden, features, steps = 5, 3, max(LENGTHS)
    class_names = ["a", "b", "c"]
    if FIXTURES.exists():
        shutil.rmtree(FIXTURES)
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)
    for cell, layers, bidirectional, readout in itertools.product(["lstm", "gru"], [1, 2], [False, True],
                                                                  ["last", "mean"]):
        name = f"{cell}-l{layers}-{'bi' if bidirectional else 'uni'}-{readout}"
        dropout = 0.25 if layers > 1 else 0.0  # must be off in evaluation
        model = PackedClassifier(cell, features, hidden, layers, bidirectional, dropout, len(class_names), readout)
        x = torch.rand(len(LENGTHS), steps, features)
        for i, n in enumerate(LENGTHS):
            x[i, n:] = 1000.0
        with torch.no_grad():
            logits = model.double().eval()(x.double(), lengths).float()
        folder = FIXTURES / name
        folder.mkdir(parents=True)
        state = {k: v.float().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        meta = spec(cell, layers, bidirectional, dropout, readout, "rows", hidden, steps, features, class_names)
        (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
        save_file({"x": x.contiguous(), "lengths": lengths, "logits": logits.contiguous()},
                  str(folder / "io.safetensors"))
        print(f"{name}: logits {logits.shape[0]}x{logits.shape[1]}")


if __name__ == "__main__":
    write_fixtures()
