#!/usr/bin/env bash
# Installs libtorch for tch 0.26 — PyTorch 2.13.0 from PyPI — once per machine,
# into a virtual environment in a cache folder outside the clone, so that fresh
# clones, CI runs and later sessions reuse it. An existing install is detected
# and left alone. Override the folder with LSTM_MNIST_CACHE.
set -euo pipefail
TORCH_VERSION=2.13.0
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
VENV=$CACHE/venv

installed() {
    # Reads torch's version file instead of importing torch (instant).
    local f
    for f in "$VENV"/lib/python3*/site-packages/torch/version.py; do
        [ -f "$f" ] && grep -q "^__version__ = '$TORCH_VERSION[+']" "$f" && return 0
    done
    return 1
}

if installed; then
    echo "setup: PyTorch $TORCH_VERSION already installed in $VENV"
    exit 0
fi

command -v python3 >/dev/null || { echo "setup: python3 is required (apt-get install python3)" >&2; exit 1; }
mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get install -y python3-venv >/dev/null
            python3 -m venv "$VENV"
        else
            echo "setup: python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
fi
echo "setup: installing PyTorch $TORCH_VERSION into $VENV (about 4.7 GB, once per machine)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
installed || { echo "setup: torch $TORCH_VERSION not found in $VENV after install" >&2; exit 1; }
echo "setup: done"
