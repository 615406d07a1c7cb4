#!/usr/bin/env bash
# Installs every outside tool the tests need, when missing; `make test` (and so
# .ci/run) runs it after scripts/setup.sh. The tests that need a tool are
# `#[ignore = "needs TOOL"]` and `make test` runs them with --include-ignored:
# a tool this script cannot install makes its test FAIL, never skip. This
# script says what it could not install and exits 0, so the rest of the suite
# still runs and the failing tests name what is missing.
#
# Adding a tool: one line in one of the three lists below.
#   PIP:   "import names|pip requirement"  installed into the project's venv
#   APT:   "command or absolute path|Debian package"  (needs root and apt-get)
#   FETCH: "absolute path|shell command"  run when the path does not exist
set -uo pipefail
CACHE=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
PY=$CACHE/venv/bin/python

PIP=(
    "onnxruntime|onnxruntime"    # export tests, test-dist.sh, crates/lstm-onnx
    "onnx|onnx"
    "numpy|numpy"
    "tensorboard|tensorboard"    # TensorBoard's reader checks the event files
    "tritonclient.http|tritonclient[http]"    # crates/serve: a KServe v2 infer call from Triton's client
    "prometheus_client|prometheus_client"    # crates/serve: /metrics through prometheus_client's parser
)
APT=(
    "chromium-headless-shell|chromium-headless-shell"    # report pages in a real browser
    "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz|dataset-fashion-mnist"
    "slurmctld|slurmctld"    # tests/cli/slurm.rs (scripts/slurm-up.sh starts the cluster)
    "slurmd|slurmd"
    "sbatch|slurm-client"
    "munged|munge"
)
FETCH=(
    "$CACHE/data/.aeon-1.6.0|$(dirname "$0")/setup-ts-data.sh"    # crates/ts-data: the aeon wheel's .ts problems
)

say() { echo "setup-test-tools: $*" >&2; }
MISSING=()

[ -x "$PY" ] || { say "no venv at $CACHE/venv: run scripts/setup.sh first"; exit 1; }

want=()
for entry in "${PIP[@]}"; do
    "$PY" -c "import ${entry%%|*}" 2>/dev/null || want+=("${entry#*|}")
done
if [ ${#want[@]} -gt 0 ]; then
    say "installing ${want[*]} into $CACHE/venv"
    "$PY" -m pip install --quiet --disable-pip-version-check "${want[@]}" || MISSING+=("pip: ${want[*]}")
fi

present() { if [ "${1#/}" != "$1" ]; then [ -e "$1" ]; else command -v "$1" >/dev/null; fi; }

want=()
for entry in "${APT[@]}"; do
    present "${entry%%|*}" || want+=("${entry#*|}")
done
if [ ${#want[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing ${want[*]} (apt-get)"
        apt_install() {
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                -o DPkg::Lock::Timeout=600 "${want[@]}" >/dev/null
        }
        apt_install 2>/dev/null || { apt-get update -o DPkg::Lock::Timeout=600 >/dev/null && apt_install; } ||
            MISSING+=("apt: ${want[*]}")
    else
        MISSING+=("apt (needs root): sudo apt-get install ${want[*]}")
    fi
fi

for entry in ${FETCH[@]+"${FETCH[@]}"}; do
    [ -e "${entry%%|*}" ] && continue
    say "fetching ${entry%%|*}"
    bash -c "${entry#*|}" || MISSING+=("fetch: ${entry%%|*}")
done

for m in ${MISSING[@]+"${MISSING[@]}"}; do
    say "COULD NOT INSTALL $m; the tests that need it will fail"
done
exit 0
