#!/usr/bin/env bash
# Stops the single-node Slurm started by scripts/slurm-up.sh: slurmd and
# slurmctld, by the PID files in $LSTM_MNIST_SLURM_DIR (default
# /var/tmp/lstm-mnist-slurm). munged is left running (other programs may use
# it). Jobs still running are cancelled first. Keeps the folder (logs).
set -euo pipefail
DIR=${LSTM_MNIST_SLURM_DIR:-/var/tmp/lstm-mnist-slurm}
CONF=$DIR/slurm.conf

if [ -f "$CONF" ] && [ -s "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF=$CONF timeout 10 scancel --user=root >/dev/null 2>&1 || true
fi
for daemon in slurmd slurmctld; do
    pidfile=$DIR/$daemon.pid
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-down: $daemon ($pid) did not stop in 10 s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "slurm-down: stopped $daemon ($pid)" >&2
    fi
    rm -f "$pidfile"
done
