#!/usr/bin/env bash
# Issue 22 item 4, the measured savings of ASHA: on JapaneseVowels (data from
# scripts/setup-ts-data.sh), 27 random configurations searched by ASHA
# (min 20, max 540 steps, eta 3) and by full random search (the same 27 draws,
# every trial to 540 steps), for search seeds 0-4. Prints a markdown table:
# per seed, the best validation accuracy at 540 steps and the total training
# steps of each, then the medians. Takes hours on 2 cores: run it on a quiet
# machine.
#
#   scripts/asha-savings.sh [OUT]        (default OUT=runs/asha-savings; JOBS=2, BIN=target/release/lstm-mnist)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/lstm-mnist}
OUT=${1:-runs/asha-savings}
JOBS=${JOBS:-2}
BASE="$(pwd)/configs/japanese-vowels.json"
mkdir -p "$OUT"
for seed in 0 1 2 3 4; do
  for kind in asha full; do
    file="$OUT/$kind-$seed.json"
    python3 - "$file" "$kind" "$seed" "$BASE" <<'PY'
import json, sys
path, kind, seed, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sweep = {
    "name": f"{kind}-{seed}",
    "base": base,
    "set": {"data.validation": 54, "train.epochs": None, "train.max_steps": 540, "train.validate_every": 20},
    "random": {
        "train.learning_rate": {"log_uniform": [3e-4, 1e-2]},
        "model.hidden": {"choice": [32, 64, 128]},
        "train.clip_grad_norm": {"choice": [None, 1.0]},
    },
    "trials": 27,
    "search_seed": seed,
}
if kind == "asha":
    sweep["search"] = {"asha": {"min_steps": 20, "max_steps": 540, "eta": 3}}
json.dump(sweep, open(path, "w"), indent=1)
PY
    echo "$(date -u +%H:%M:%S) $kind seed $seed ($(uptime | sed 's/.*load/load/'))" >&2
    "$BIN" sweep --config "$file" --out "$OUT/$kind-$seed" --jobs "$JOBS" > "$OUT/$kind-$seed.log" 2>&1
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
def measure(folder):
    best, steps = None, 0
    for t in json.loads((folder / "sweep.json").read_text())["trials"]:
        records = [json.loads(l) for l in (folder / t["dir"] / "metrics.jsonl").read_text().splitlines() if l.strip()]
        steps += max((r["step"] for r in records), default=0)
        final = [r["accuracy"] for r in records if r["kind"] == "validation" and r["step"] == 540]
        if final and (best is None or final[0] > best):
            best = final[0]
    return best, steps
rows = []
print("| search seed | ASHA best val | ASHA steps | random best val | random steps | steps ratio |")
print("|---|---|---|---|---|---|")
for seed in range(5):
    (ab, asteps), (fb, fsteps) = measure(out / f"asha-{seed}"), measure(out / f"full-{seed}")
    rows.append((ab, asteps, fb, fsteps))
    print(f"| {seed} | {ab:.4f} | {asteps} | {fb:.4f} | {fsteps} | {asteps / fsteps:.3f} |")
med = [statistics.median(c) for c in zip(*rows)]
print(f"| median | {med[0]:.4f} | {med[1]:.0f} | {med[2]:.4f} | {med[3]:.0f} | {med[1] / med[3]:.3f} |")
print(f"\nmedian gap (random - ASHA) in points: {100 * (med[2] - med[0]):.2f}; "
      f"ASHA used {med[1] / med[3]:.3f} of random search's steps")
PY
