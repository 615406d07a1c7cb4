# The two commands: `make run` and `make test`. Both install what is missing first.
CACHE ?= $(HOME)/.cache/lstm-mnist
export LSTM_MNIST_CACHE := $(CACHE)
export VIRTUAL_ENV := $(CACHE)/venv
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
CARGO ?= cargo
CONFIG ?= configs/seed.json
BIN := target/release/lstm-mnist

.PHONY: setup build run test clean

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace

run: build
	$(BIN) train --config $(CONFIG)

test: setup
	$(CARGO) test --release --workspace

clean:
	$(CARGO) clean
