# The two commands: `make run` and `make test`. Both install what is missing first.
CACHE ?= $(HOME)/.cache/lstm-mnist
export LSTM_MNIST_CACHE := $(CACHE)
export VIRTUAL_ENV := $(CACHE)/venv
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
CARGO ?= cargo
CONFIG ?= configs/seed.json
BIN := target/release/lstm-mnist

.PHONY: setup build run test lint bench fuzz clean dist

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace

run: build
	$(BIN) train --config $(CONFIG) --force

# tests/slurm.rs starts a single-node Slurm with scripts/slurm-up.sh (installing
# slurmctld, slurmd, slurm-client and munge from Debian when missing, as root)
# and stops it again; without root it skips with a message, unless CI is set.
# Style gate run by `make test`: rustfmt, clippy with warnings as errors, and
# (library and binary code only, not tests) no function over 80 lines.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release --workspace --lib --bins -- -D warnings -W clippy::too_many_lines

test: setup lint
	scripts/setup-onnxruntime.sh
	scripts/setup-report-tools.sh
	@scripts/test-data.sh
	$(CARGO) test --release --workspace
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
