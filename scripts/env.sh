# Source this file to use cargo directly (outside make) with the cached libtorch:
#   . scripts/env.sh && cargo test --release
# torch-sys gets the libtorch folder through LIBTORCH (as `make`, `make dist` and
# an outside crate's .cargo/config.toml give it), so that every build of a clone
# reuses the same compiled torch-sys (README "Tests").
_lstm_mnist_cache=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
export VIRTUAL_ENV="$_lstm_mnist_cache/venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
for _lstm_mnist_torch in "$VIRTUAL_ENV"/lib/python3*/site-packages/torch; do
    [ -d "$_lstm_mnist_torch/lib" ] && export LIBTORCH="$_lstm_mnist_torch"
done
unset LIBTORCH_USE_PYTORCH _lstm_mnist_cache _lstm_mnist_torch
