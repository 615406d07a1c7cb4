# The two commands: `make run` and `make test`. Both install what is missing first.
CACHE ?= $(HOME)/.cache/lstm-mnist
export LSTM_MNIST_CACHE := $(CACHE)
export VIRTUAL_ENV := $(CACHE)/venv
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
unexport LIBTORCH_USE_PYTORCH
# torch-sys finds libtorch through LIBTORCH (the venv's torch folder, found when the
# command runs, after setup): the same setting as `make dist`, scripts/test-embed-outside.sh
# and an outside crate's .cargo/config.toml, so torch-sys is compiled once per clone.
CARGO ?= LIBTORCH="$$(ls -d $(VIRTUAL_ENV)/lib/python3*/site-packages/torch | head -n 1)" cargo
CONFIG ?= configs/seed.json
BIN := target/release/lstm-mnist

.PHONY: setup build run test lint bench fuzz clean dist

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace

run: build
	$(BIN) train --config $(CONFIG) --force

# Style gate run by `make test`: rustfmt, clippy with warnings as errors, and
# (library and binary code only, not tests) no function over 80 lines: each
# crate root says `#![cfg_attr(not(test), warn(clippy::too_many_lines))]`
# (the test every_crate_root_has_the_80_line_gate checks), so one clippy run
# does both.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# scripts/setup-test-tools.sh installs every outside tool the tests need (ONNX
# Runtime, TensorBoard, chromium-headless-shell, Slurm, Fashion-MNIST, ...); the
# tests that need one are #[ignore = "needs TOOL"] and run here with
# --include-ignored, so a missing tool fails them. tests/cli/slurm.rs starts a
# single-node Slurm with scripts/slurm-up.sh (as root) and stops it again.
test: setup lint
	scripts/setup-test-tools.sh
	$(CARGO) test --release --workspace -- --include-ignored
	scripts/test-embed-outside.sh
	scripts/test-dist.sh

# lstm-mnist against scripts/bench_pytorch.py, side by side (see docs/performance.md).
# BENCH_ARGS passes options to scripts/bench.py, e.g. BENCH_ARGS="--runs 5 --threads 1".
bench: build
	python scripts/bench.py $(BENCH_ARGS)

# One fuzz target (idx, config or model) for SECONDS seconds, with nightly and
# cargo-fuzz (see docs/fuzzing.md); crashes land in fuzz/artifacts/$(TARGET)/.
TARGET ?= idx
SECONDS ?= 600
FUZZ_MAX_LEN_idx := 4096
FUZZ_MAX_LEN_config := 4096
FUZZ_MAX_LEN_model := 8192
fuzz: setup
	fuzz/seeds.sh
	cd fuzz && $(CARGO) +nightly fuzz run --sanitizer none -a $(TARGET) corpus/$(TARGET) -- \
		-max_total_time=$(SECONDS) -rss_limit_mb=4096 -max_len=$(FUZZ_MAX_LEN_$(TARGET)) -timeout=10

# A relocatable CPU-only folder, dist/lstm-mnist-<version>-linux-x86_64-cpu/ (docs/shipping.md).
dist: setup
	scripts/dist.sh

clean:
	$(CARGO) clean
