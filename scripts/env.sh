# Source this file to use cargo directly (outside make) with the cached libtorch:
#   . scripts/env.sh && cargo test --release
_lstm_mnist_cache=${LSTM_MNIST_CACHE:-$HOME/.cache/lstm-mnist}
export VIRTUAL_ENV="$_lstm_mnist_cache/venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
unset _lstm_mnist_cache
