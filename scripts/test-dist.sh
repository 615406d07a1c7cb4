#!/usr/bin/env bash
# `make test` part: builds `make dist`, copies the folder elsewhere and runs
# train, eval, predict and export from the copy with an empty environment
# (HOME pointing nowhere, no venv, no LD_LIBRARY_PATH), after checking with ldd
# that it loads nothing from the PyTorch install and no CUDA library. The
# exported ONNX model must score, in ONNX Runtime, the accuracy of the run's report.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/dist.sh
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
SRC=${DIST_DIR:-dist}/lstm-mnist-$VERSION-linux-x86_64-cpu
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
D=$TMP/elsewhere/lstm-mnist
mkdir -p "$TMP/elsewhere"
cp -r "$SRC" "$D"
fail() { echo "test-dist: $*" >&2; exit 1; }

LDD=$(env -i ldd "$D/bin/lstm-mnist")
echo "$LDD"
! grep -qE 'not found' <<<"$LDD" || fail "a library is not found"
! grep -qiE 'venv|/\.cache/|site-packages|nvidia|cuda|cudnn|cublas' <<<"$LDD" || fail "loads from the PyTorch install or CUDA"
for lib in libtorch_cpu.so libc10.so; do
    grep -qF "$lib => $D/bin/../lib/$lib" <<<"$LDD" || fail "$lib is not loaded from the folder's lib/"
done
! ls "$D/lib" | grep -qiE 'cuda|cudnn|cublas|nccl|cupti' || fail "lib/ holds a CUDA library"

run() { (cd "$TMP" && env -i HOME=/nonexistent PATH=/usr/bin:/bin "$D/bin/lstm-mnist" "$@"); }
ENV=$(run env)
echo "$ENV"
grep -qxF "libtorch: $D/bin/../lib/libtorch_cpu.so" <<<"$ENV" || fail "env does not name the folder's lib/libtorch_cpu.so"
grep -q "^build: CPU-only" <<<"$ENV" || fail "env does not say CPU-only"
DATA=$D/data/mnist-sample
run train --config "$D/configs/seed.json" --set "data.dir=$DATA" --set train.training_iters=3840 --out "$TMP/run"
run eval --model "$TMP/run" --out "$TMP/eval"
run predict --model "$TMP/run" "$DATA/t10k-images-idx3-ubyte.gz" >"$TMP/predict.txt"
head -n 3 "$TMP/predict.txt"
[ "$(wc -l <"$TMP/predict.txt")" -eq 2000 ] || fail "predict did not print 2000 lines"
run export --model "$TMP/run" --format onnx --out "$TMP/model.onnx"
[ -s "$TMP/model.onnx" ] || fail "export wrote no model"

PY=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}/venv/bin/python
"$PY" -c "import onnxruntime" 2>/dev/null ||
    fail "needs onnxruntime in $PY: install the test tools with scripts/setup-test-tools.sh"
ONNX=$("$PY" scripts/onnx_run.py "$TMP/model.onnx" "$DATA/t10k-images-idx3-ubyte.gz" \
    --labels "$DATA/t10k-labels-idx1-ubyte.gz" --check | sed -n 's/^accuracy: .* (\([0-9]*\) of .*/\1/p')
REPORT=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["correct"])' "$TMP/run/report.json")
echo "test-dist: report: $REPORT correct, ONNX Runtime: $ONNX correct"
[ -n "$ONNX" ] && [ "$ONNX" = "$REPORT" ] || fail "the exported model's accuracy differs from the report's"
echo "test-dist: ok ($(du -sh "$SRC" | cut -f1))"
