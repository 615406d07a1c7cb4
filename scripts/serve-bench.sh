#!/usr/bin/env bash
# Load figures of `lstm-mnist serve` (docs/serve.md): single-image KServe v2
# infer requests on 127.0.0.1 at fixed rates (open loop) and as fast as 32
# clients go (closed loop), with batching off (--max-batch-size 1) and on
# (--max-batch-size 32 --max-queue-delay-ms 2), the model on SERVE_THREADS
# libtorch threads (default 1, serve's default). Prints a Markdown table with
# the date and the machine's load (`uptime`). Run it on a quiet machine:
# under load, figures say more about the other processes than about serve.
#
#   scripts/serve-bench.sh RUN_FOLDER [SECONDS_PER_ROW] [RATE...]
#   scripts/serve-bench.sh runs/seed 10 100 200 400
#   SERVE_THREADS=2 scripts/serve-bench.sh runs/seed 10 100 200 400
set -euo pipefail
RUN=${1:?usage: scripts/serve-bench.sh RUN_FOLDER [SECONDS_PER_ROW] [RATE...]}
EACH=${2:-10}
shift $(( $# < 2 ? $# : 2 ))
RATES=${*:-100 200 400}
THREADS=${SERVE_THREADS:-1}
cd "$(dirname "$0")/.."
. scripts/env.sh
cargo build --release --quiet --bin lstm-mnist && cargo build --release --quiet -p serve --example serve_bench
BIN=target/release/lstm-mnist
BENCH=target/release/examples/serve_bench
NAME=$(basename "$(cd "$RUN" && pwd)")
[ "$NAME" = model ] && NAME=$(basename "$(cd "$RUN/.." && pwd)")

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load before: $(uptime | sed 's/.*load average/load average/')"
echo "command: SERVE_THREADS=$THREADS scripts/serve-bench.sh $RUN $EACH $RATES"
echo
echo "| batching | offered rate (req/s) | clients | throughput (req/s) | p50 (ms) | p99 (ms) | errors |"
echo "|---|---|---|---|---|---|---|"
for mode in "off:--max-batch-size 1" "on:--max-batch-size 32 --max-queue-delay-ms 2"; do
    log=$(mktemp)
    # shellcheck disable=SC2086
    $BIN serve --model "$RUN" --addr 127.0.0.1:0 --threads "$THREADS" ${mode#*:} 2> "$log" &
    pid=$!
    for _ in $(seq 100); do grep -q "on http://" "$log" && break; sleep 0.2; done
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)
    [ -n "$url" ] || { cat "$log" >&2; kill "$pid"; exit 1; }
    for rate in $RATES 0; do
        clients=$([ "$rate" = 0 ] && echo 32 || echo 64)
        line=$($BENCH "$url" "$NAME" "$rate" "$EACH" "$clients")
        python3 - "$mode" "$line" <<'PY'
import json, sys
mode, r = sys.argv[1].split(":")[0], json.loads(sys.argv[2])
offered = "max (closed loop)" if r["rate"] == 0 else f'{r["rate"]:.0f}'
ms = lambda v: "-" if v is None else f"{v:.1f}"
print(f'| {mode} | {offered} | {r["workers"]} | {r["throughput"]:.0f} | {ms(r["p50_ms"])} | {ms(r["p99_ms"])} | {r["errors"]} |')
PY
    done
    kill -TERM "$pid"
    wait "$pid"
    rm -f "$log"
done
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
