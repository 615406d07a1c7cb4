#!/bin/sh
# Seeds fuzz/corpus/<target>/ (not committed) from the committed regression
# inputs, the example configs and the golden test models. Run from the repository root.
set -e
mkdir -p fuzz/corpus/idx fuzz/corpus/config fuzz/corpus/model
cp crates/mnist-data/tests/fuzz_regressions/idx/* fuzz/corpus/idx/
cp tests/fuzz_regressions/config/* fuzz/corpus/config/
for c in configs/*.json; do cp "$c" "fuzz/corpus/config/seed-$(basename "$c")"; done
cp crates/lstm-model/tests/fuzz_regressions/model/* fuzz/corpus/model/
for d in crates/lstm-model/tests/fixtures/golden/*/; do
    { cat "$d/model.json"; printf '\0'; cat "$d/model.safetensors"; } > "fuzz/corpus/model/seed-$(basename "$d")"
done
