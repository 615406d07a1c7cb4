#!/usr/bin/env bash
# GPU check for lstm-mnist: on a machine with an NVIDIA GPU, builds the project
# against a libtorch with CUDA and runs the side-by-side benchmark on CUDA
# (`scripts/bench.py --device cuda`, the same table as `make bench`).
#
#   scripts/gpu-check.sh [extra scripts/bench.py options, e.g. --runs 5]
#
# Exit status: 0 benchmark ran; 3 no usable NVIDIA GPU here (nothing was built);
# 1 anything else failed (the message says what).
#
# Which libtorch (TORCH_SOURCE):
#   auto    (default) the venv of `make setup` if its torch sees a GPU, else `system`.
#   system  the torch of `$PYTHON` (default python3), whatever its version. tch 0.26
#           expects PyTorch 2.13.0, so LIBTORCH_BYPASS_VERSION_CHECK=1 is set; an older
#           torch (e.g. 2.11) builds only if torch-sys's C++ wrapper compiles against
#           its headers. If it does not, use `wheel`.
#   wheel   a fresh venv at $CACHE/venv-gpu with torch==2.13.0 from PyPI, or from a
#           folder of wheels with PIP_FIND_LINKS=/path PIP_NO_INDEX=1 on a machine
#           without network. This is the exact version tch expects.
# Building needs cargo; on a machine without network, vendor the crates first
# (`cargo vendor` on a connected machine, plus the .cargo/config.toml it prints).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gpu-check: $*" >&2; exit 1; }

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu-check: no NVIDIA GPU here (nvidia-smi not found); nothing to check" >&2
    exit 3
fi
if ! gpus=$(nvidia-smi -L 2>/dev/null) || [ -z "$gpus" ]; then
    echo "gpu-check: nvidia-smi lists no usable GPU; nothing to check" >&2
    exit 3
fi
echo "gpu-check: $gpus" >&2

CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
PYTHON=${PYTHON:-python3}
TORCH_SOURCE=${TORCH_SOURCE:-auto}

sees_gpu() { "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; }

if [ "$TORCH_SOURCE" = auto ]; then
    if [ -x "$CACHE/venv/bin/python" ] && sees_gpu "$CACHE/venv/bin/python"; then
        TORCH_SOURCE=venv
    else
        TORCH_SOURCE=system
    fi
fi
case "$TORCH_SOURCE" in
    venv) PY="$CACHE/venv/bin/python" ;;
    system) PY=$(command -v "$PYTHON") || die "$PYTHON not found: set PYTHON=/path/to/python with torch" ;;
    wheel)
        [ -x "$CACHE/venv-gpu/bin/python" ] || "$PYTHON" -m venv "$CACHE/venv-gpu" || die "cannot create $CACHE/venv-gpu"
        "$CACHE/venv-gpu/bin/pip" install --quiet torch==2.13.0 || die "pip could not install torch==2.13.0 (offline? set PIP_FIND_LINKS to a folder of wheels and PIP_NO_INDEX=1)"
        PY="$CACHE/venv-gpu/bin/python" ;;
    *) die "TORCH_SOURCE=$TORCH_SOURCE: use auto, system, venv or wheel" ;;
esac
info=$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())' 2>&1) \
    || die "$PY cannot import torch: $info"
read -r version cuda available <<<"$info"
echo "gpu-check: torch $version (CUDA $cuda) from $PY, GPU visible to torch: $available" >&2
[ "$available" = True ] || die "torch $version at $PY does not see the GPU (CPU-only build?): use TORCH_SOURCE=wheel"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) to build the project"

# Build against that torch. VIRTUAL_ENV/PATH point torch-sys at it; the rpath
# baked into the binary points at its lib/ folder.
venv=$("$PY" -c 'import sys; print(sys.prefix)')
export VIRTUAL_ENV="$venv" PATH="$(dirname "$PY"):$PATH" LIBTORCH_USE_PYTORCH=1
case "$version" in 2.13.0*) ;; *) export LIBTORCH_BYPASS_VERSION_CHECK=1
    echo "gpu-check: torch $version is not the 2.13.0 tch 0.26 expects; building with LIBTORCH_BYPASS_VERSION_CHECK=1" >&2 ;;
esac
cargo build --release --bin lstm-mnist || die "the build failed against torch $version: try TORCH_SOURCE=wheel"
target/release/lstm-mnist bench --config configs/seed.json --set device=cuda --steps 5 --warmup 1 --eval-repeats 1 >/dev/null \
    || die "lstm-mnist could not train on CUDA (see above)"
exec "$PY" scripts/bench.py --device cuda "$@"
