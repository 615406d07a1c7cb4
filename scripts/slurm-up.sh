#!/usr/bin/env bash
# Starts a real single-node Slurm (munged, slurmctld, slurmd) on this machine,
# for `lstm-mnist sweep --backend slurm` and its integration test. Needs root.
# Installs Slurm 22.05 and munge from Debian when missing. Everything Slurm
# writes (slurm.conf, state, spool, PID and log files) lives in one folder of
# its own, $LSTM_MNIST_SLURM_DIR (default /var/tmp/lstm-mnist-slurm); clients
# find the cluster through SLURM_CONF, which this script prints:
#
#   eval "$(scripts/slurm-up.sh --env)"   # starts it (or finds it running), sets SLURM_CONF
#   sbatch ...; squeue; sinfo
#   scripts/slurm-down.sh                 # stops the daemons by their PID files
#
# Idempotent: a cluster this script started and that still answers is reused.
# Exit status 0 when the cluster is ready (`sinfo` says idle and `srun true`
# runs), 77 when it cannot be started here (not root, no apt-get), 1 on failure.
set -euo pipefail
DIR=${LSTM_MNIST_SLURM_DIR:-/var/tmp/lstm-mnist-slurm}
CONF=$DIR/slurm.conf
ENV_ONLY=0
[ "${1:-}" = "--env" ] && ENV_ONLY=1

say() { echo "slurm-up: $*" >&2; }
skip() { say "$*"; exit 77; }

if [ "$(id -u)" != 0 ]; then
    skip "needs root (it installs packages and starts munged, slurmctld and slurmd)"
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get to install it"
    say "installing slurmctld slurmd slurm-client munge (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 \
        slurmctld slurmd slurm-client munge >&2 \
        || { apt-get update -o DPkg::Lock::Timeout=600 >&2 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                -o DPkg::Lock::Timeout=600 slurmctld slurmd slurm-client munge >&2; }
fi

# munge: the key comes with the package; start munged without systemd.
if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m0700 /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || { say "munged does not answer"; exit 1; }
fi

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ready() {
    [ "$(SLURM_CONF=$CONF sinfo -h -o %T 2>/dev/null | head -1)" = idle ] || return 1
    SLURM_CONF=$CONF timeout 30 srun -N1 -n1 -t1 true >/dev/null 2>&1
}

write_conf() {
    local host node
    host=$(hostname -s)
    # The node's real hardware, as slurmd sees it (a bare CPUs=2 is rejected).
    node=$(slurmd -C | head -1)
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-up.sh: a single-node Slurm for lstm-mnist's sweeps.
ClusterName=lstm-mnist
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
MinJobAge=600
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && ready; then
    say "already running ($CONF)"
else
    "$(dirname "$0")/slurm-down.sh" >/dev/null 2>&1 || true
    write_conf
    say "starting slurmctld and slurmd ($CONF; logs in $DIR/log)"
    slurmctld -c -f "$CONF"
    slurmd -f "$CONF"
    ok=0
    for _ in $(seq 60); do
        if ready; then ok=1; break; fi
        # A node left DOWN by an earlier run comes back with ReturnToService=2; nudge it anyway.
        SLURM_CONF=$CONF scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    if [ "$ok" != 1 ]; then
        say "the cluster did not become ready in 60 s; sinfo says: $(SLURM_CONF=$CONF sinfo -h 2>&1 | head -3)"
        tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
        exit 1
    fi
    say "ready: $(SLURM_CONF=$CONF sinfo -h -o '%P %D %T %C' | head -1) (partition nodes state cpus A/I/O/T)"
fi
if [ "$ENV_ONLY" = 1 ]; then
    echo "export SLURM_CONF=$CONF"
else
    echo "SLURM_CONF=$CONF"
fi
