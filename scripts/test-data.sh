#!/usr/bin/env bash
# Installs the real datasets some tests read, when missing: Fashion-MNIST from
# Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Needs root
# and apt-get; otherwise it says what to install and the tests that need the
# data skip (or fail, when CI is set).
set -uo pipefail
DIR=/usr/share/datasets/fashion-mnist
[ -f "$DIR/train-labels-idx1-ubyte.gz" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-data: installing dataset-fashion-mnist"
    apt-get install -y dataset-fashion-mnist >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y dataset-fashion-mnist >/dev/null 2>&1; } ||
        echo "test-data: could not install dataset-fashion-mnist" >&2
else
    echo "test-data: $DIR missing; install it with: sudo apt-get install dataset-fashion-mnist" >&2
fi
exit 0
