#!/usr/bin/env bash
# Installs what the tests of the run pages and TensorBoard files need, once:
# the `tensorboard` Python package into the project's venv (its EventAccumulator
# reads the event files back), `tritonclient[http]` and `prometheus_client`
# (the serve tests) and, when missing and running as root on Debian or Ubuntu,
# `chromium-headless-shell` (renders report.html and compare.html).
# Without root the browser tests skip with a message, except when CI is set.
set -euo pipefail
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
PY=$CACHE/venv/bin/python
[ -x "$PY" ] || { echo "setup-report-tools: no venv at $CACHE/venv: run scripts/setup.sh first" >&2; exit 1; }
if ! "$PY" -c "import tensorboard" 2>/dev/null; then
    echo "setup-report-tools: installing tensorboard into $CACHE/venv"
    "$PY" -m pip install --quiet --disable-pip-version-check tensorboard
fi
# The serve tests' clients: a KServe v2 call through tritonclient, /metrics through prometheus_client's parser.
if ! "$PY" -c "import tritonclient.http, prometheus_client" 2>/dev/null; then
    echo "setup-report-tools: installing tritonclient[http] and prometheus_client into $CACHE/venv"
    "$PY" -m pip install --quiet --disable-pip-version-check "tritonclient[http]" prometheus_client
fi
if ! command -v chromium-headless-shell >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup-report-tools: installing chromium-headless-shell (apt)"
        apt-get install -y chromium-headless-shell >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y chromium-headless-shell >/dev/null; }
    else
        echo "setup-report-tools: chromium-headless-shell is missing; install it (sudo apt-get install" \
            "chromium-headless-shell) or the page tests will be skipped" >&2
    fi
fi
