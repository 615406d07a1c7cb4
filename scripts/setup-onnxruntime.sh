#!/usr/bin/env bash
# Installs ONNX Runtime, onnx and numpy into the project's venv (after
# scripts/setup.sh), once: the tests of `lstm-mnist export` run exported models
# with them. Already installed: does nothing.
set -euo pipefail
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
PY=$CACHE/venv/bin/python
[ -x "$PY" ] || { echo "setup-onnxruntime: no venv at $CACHE/venv: run scripts/setup.sh first" >&2; exit 1; }
if "$PY" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
    exit 0
fi
echo "setup-onnxruntime: installing onnxruntime, onnx and numpy into $CACHE/venv"
"$PY" -m pip install --quiet --disable-pip-version-check onnxruntime onnx numpy
