#!/usr/bin/env bash
# Fetches the UCR/UEA time-series problems that the aeon 1.6.0 wheel ships (its
# datasets/data/ folder of .ts files: JapaneseVowels, ItalyPowerDemand,
# GunPoint, BasicMotions, ...) into the cache folder outside the clone, once per
# machine, like libtorch (scripts/setup.sh): ~/.cache/lstm-mnist/data/NAME/
# NAME_TRAIN.ts and NAME_TEST.ts, where a `"source": "ts"` config naming no
# `data.dir` reads problem NAME (configs/japanese-vowels.json). An existing copy
# is left alone. Override the cache folder with LSTM_MNIST_CACHE.
set -euo pipefail
AEON_VERSION=1.6.0
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
DEST=$CACHE/data
MARK=$DEST/.aeon-$AEON_VERSION

if [ -f "$MARK" ]; then
    echo "setup-ts-data: aeon $AEON_VERSION problems already in $DEST"
    exit 0
fi
PY=$CACHE/venv/bin/python
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null || { echo "setup-ts-data: python3 is required (apt-get install python3)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "setup-ts-data: downloading the aeon $AEON_VERSION wheel (its .ts problems only are kept)"
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$TMP" "aeon==$AEON_VERSION"
WHEEL=$(ls "$TMP"/aeon-"$AEON_VERSION"-*.whl)
mkdir -p "$DEST"
# A wheel is a zip file; Python's zipfile needs no unzip binary.
"$PY" - "$WHEEL" "$DEST" <<'EOF'
import sys, zipfile
from pathlib import Path
wheel, dest = sys.argv[1], Path(sys.argv[2])
prefix = "aeon/datasets/data/"
count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and name.endswith(".ts"):
            target = dest / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
            count += 1
if count == 0:
    sys.exit(f"setup-ts-data: no {prefix}*.ts file in {wheel}")
print(f"setup-ts-data: {count} .ts files in {dest}")
EOF
touch "$MARK"
