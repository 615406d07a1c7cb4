#!/usr/bin/env bash
# `make dist`: a relocatable CPU-only distribution,
#   dist/lstm-mnist-<version>-linux-x86_64-cpu/{bin,lib,configs,data,licenses,README.md}
# bin/lstm-mnist is the workspace's own release binary (target/release, built as
# `make build` does, with torch-sys compiled once per clone), made CPU-only and
# relocatable on the copy: its libtorch CUDA library dropped from the DT_NEEDED
# entries (the binary uses no symbol of it; LSTM_MNIST_CPU_ONLY=1 links the same
# way) and its run path replaced by $ORIGIN/../lib (scripts/elf_edit.py). lib/
# holds the libtorch libraries it loads (libtorch_cpu.so, libc10.so,
# libgomp.so.1), copied from the PyTorch install. PyTorch's CUDA wheel builds
# libtorch_cpu.so against the CUDA runtime and profiler (libcudart, libcupti)
# for device queries and CUDA profiling only: the copy has those two
# dependencies removed too, so the folder holds and loads no CUDA library.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
TORCH=$(ls -d "$CACHE"/venv/lib/python3*/site-packages/torch 2>/dev/null | head -n 1)
[ -d "$TORCH/lib" ] || { echo "dist: no PyTorch in $CACHE/venv: run make setup" >&2; exit 1; }
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
NAME=lstm-mnist-$VERSION-linux-x86_64-cpu
OUT=${DIST_DIR:-dist}/$NAME

echo "dist: $NAME from the workspace's release build (made CPU-only, run path \$ORIGIN/../lib)"
env -u LIBTORCH_USE_PYTORCH LIBTORCH="$TORCH" cargo build --release --locked --workspace
BIN=$OUT/bin/lstm-mnist

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/licenses" "$OUT/data"
cp target/release/lstm-mnist "$BIN"
chmod u+w "$BIN"
cuda=$(readelf -d "$BIN" | sed -n 's/.*Shared library: \[\(libtorch_\(cuda\|hip\)[^]]*\)\]/\1/p')
args=()
for d in $cuda; do args+=(--drop-needed "$d"); done
python3 scripts/elf_edit.py "$BIN" "${args[@]}" --rpath '$ORIGIN/../lib'
# Every library the binary loads from the PyTorch install, except CUDA's.
LD_LIBRARY_PATH="$TORCH/lib" ldd "$BIN" | awk -v dir="$TORCH/lib/" 'index($3, dir) == 1 && $3 !~ /\/nvidia\// { print $3 }' | while read -r lib; do
    cp "$lib" "$OUT/lib/"
done
chmod u+w "$OUT"/lib/*
for lib in "$OUT"/lib/*; do
    # NEEDED entries that resolve into the CUDA wheels (site-packages/nvidia/...).
    drop=$(ldd "$TORCH/lib/$(basename "$lib")" | awk '$3 ~ /\/nvidia\// { print $1 }' |
        grep -Fx -f <(readelf -d "$lib" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p') || true)
    args=()
    for d in $drop; do args+=(--drop-needed "$d"); done
    if readelf -d "$lib" | grep -qE 'RPATH|RUNPATH'; then args+=(--rpath '$ORIGIN'); fi
    [ ${#args[@]} -eq 0 ] || python3 scripts/elf_edit.py "$lib" "${args[@]}"
done
cp -r configs "$OUT/"
cp -r data/mnist-sample "$OUT/data/"
cp "$TORCH"/../torch-*.dist-info/licenses/LICENSE "$OUT/licenses/PyTorch-LICENSE"
cp "$TORCH/lib/../../torch-"*.dist-info/METADATA "$OUT/licenses/PyTorch-METADATA" 2>/dev/null || true

if ldd "$OUT/bin/lstm-mnist" | grep -E 'not found|/nvidia/|cuda|venv|\.cache'; then
    echo "dist: $OUT/bin/lstm-mnist still loads the libraries above" >&2
    exit 1
fi
SIZE=$(du -sh "$OUT" | cut -f1)
sed -e "s/@NAME@/$NAME/g" -e "s/@VERSION@/$VERSION/g" -e "s/@SIZE@/$SIZE/g" \
    -e "s/@TORCH@/$(sed -n 's/^__version__ = .\([0-9.]*\).*/\1/p' "$TORCH/version.py")/g" \
    scripts/dist-README.md >"$OUT/README.md"
echo "dist: $OUT ($SIZE)"
