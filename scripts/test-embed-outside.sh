#!/usr/bin/env bash
# `make test` part: builds examples/embed-outside as a user would. The crate is
# copied out of the tree (its path dependencies pointed at this checkout), gets
# the .cargo/config.toml that `lstm-mnist env --cargo-config` prints, and is
# built with plain `cargo build --release` in an empty environment (no env
# script, no LIBTORCH_USE_PYTORCH, no LD_LIBRARY_PATH). Its binary must give the
# accuracy of a freshly trained run's report on the shipped test digits.
#
# It builds in the workspace's own target folder (CARGO_TARGET_DIR=target, the
# workspace's Cargo.lock): torch-sys gets the same LIBTORCH as the workspace
# build (Makefile, scripts/env.sh), so its C++ is not compiled again; only the
# example itself is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${LSTM_MNIST_BIN:-$ROOT/target/release/lstm-mnist}
TARGET=${EMBED_TARGET_DIR:-$ROOT/target}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "test-embed-outside: $*" >&2; exit 1; }

CRATE=$TMP/my-project/embed-outside
mkdir -p "$TMP/my-project"
cp -r examples/embed-outside "$CRATE"
rm -rf "$CRATE/target" "$CRATE/.cargo"
# The workspace's versions of every dependency, so the workspace's compiled ones are reused.
cp Cargo.lock "$CRATE/Cargo.lock"
sed -i "s#\"\.\./\.\./crates/#\"$ROOT/crates/#" "$CRATE/Cargo.toml"
mkdir "$CRATE/.cargo"
"$BIN" env --cargo-config >"$CRATE/.cargo/config.toml"
cat "$CRATE/.cargo/config.toml"

CARGO=$(command -v cargo)
CLEAN=(env -i "HOME=$HOME" "PATH=$(dirname "$CARGO"):/usr/bin:/bin" "CARGO_TARGET_DIR=$TARGET")
[ -z "${RUSTUP_HOME:-}" ] || CLEAN+=("RUSTUP_HOME=$RUSTUP_HOME")
[ -z "${CARGO_HOME:-}" ] || CLEAN+=("CARGO_HOME=$CARGO_HOME")
(cd "$CRATE" && "${CLEAN[@]}" cargo build --release)

DATA=$ROOT/data/mnist-sample
"$BIN" train --config configs/seed.json --set "data.dir=$DATA" --set train.training_iters=2560 --out "$TMP/run" \
    >/dev/null 2>"$TMP/train.log" || { cat "$TMP/train.log"; fail "training the test model failed"; }
OUT=$(env -i "$TARGET/release/embed-outside" "$TMP/run" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz")
echo "$OUT"
WANT=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("accuracy: %.4f (%d of %d)" % (r["accuracy"], r["correct"], r["samples"]))' "$TMP/run/report.json")
[ "$OUT" = "$WANT" ] || fail "expected \"$WANT\" (the run's report)"
echo "test-embed-outside: ok"
