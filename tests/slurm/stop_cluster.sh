#!/usr/bin/env bash
# Stop the test cluster started by setup_cluster.sh: cancel its jobs, then end slurmd, slurmctld
# and munged by the PIDs they wrote into STATE_DIR (never by process name).
#
#   tests/slurm/stop_cluster.sh STATE_DIR
set -uo pipefail

STATE_DIR=${1:?usage: stop_cluster.sh STATE_DIR}
export PATH=$PATH:/usr/sbin

if [[ -f $STATE_DIR/etc/slurm.conf && -f $STATE_DIR/slurmctld.pid ]]; then
    export SLURM_CONF=$STATE_DIR/etc/slurm.conf
    jobs=$(timeout 10 squeue -h -o '%A' 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// } ]]; then
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs 2>/dev/null || true
        sleep 2
    fi
fi

stop_pid() {  # name pidfile
    local name=$1 pidfile=$2 pid
    [[ -f $pidfile ]] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop_cluster: $name ($pid) ignored SIGTERM, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$pidfile"
}

stop_pid slurmd "$STATE_DIR/slurmd.pid"
stop_pid slurmctld "$STATE_DIR/slurmctld.pid"
stop_pid munged "$STATE_DIR/munged.pid"
exit 0
