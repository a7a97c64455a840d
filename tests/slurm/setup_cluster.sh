#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster (munged + slurmctld + slurmd) for tests/test_slurm.py.
#
#   tests/slurm/setup_cluster.sh STATE_DIR
#
# Everything (config, munge key and socket, spool, logs, PID files) lives under STATE_DIR; stop it
# with tests/slurm/stop_cluster.sh STATE_DIR. Installs Debian's slurmctld slurmd slurm-client munge
# when they are missing (root only). Settings, from the environment:
#   SLURM_TEST_CPU_PARTITION / SLURM_TEST_GPU_PARTITION  partition names   (test_cpu / test_gpu)
#   SLURM_TEST_CPUS / SLURM_TEST_MEM_MB / SLURM_TEST_GPUS declared node size (16 / 65536 / 2)
#   SLURM_TEST_CTLD_PORT / SLURM_TEST_SLURMD_PORT        TCP ports          (6817 / 6818)
#   SLURM_TEST_NO_INSTALL=1                              never run apt-get
# Exit status: 0 = node idle, ready (`. STATE_DIR/env` sets SLURM_CONF and puts STATE_DIR/bin on PATH);
#              3 = SLURM not installed and cannot be installed (callers skip); 1 = anything else.
set -euo pipefail

STATE_DIR=${1:?usage: setup_cluster.sh STATE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
CPU_PARTITION=${SLURM_TEST_CPU_PARTITION:-test_cpu}
GPU_PARTITION=${SLURM_TEST_GPU_PARTITION:-test_gpu}
GPUS=${SLURM_TEST_GPUS:-2}
CPUS=${SLURM_TEST_CPUS:-16}
MEM_MB=${SLURM_TEST_MEM_MB:-65536}
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-6818}

log() { echo "setup_cluster: $*" >&2; }

# --- packages -------------------------------------------------------------------------------
export PATH=$PATH:/usr/sbin
missing=()
for exe in munged slurmctld slurmd sbatch srun squeue sinfo scontrol; do
    command -v "$exe" >/dev/null 2>&1 || missing+=("$exe")
done
if ((${#missing[@]})); then
    if [[ ${SLURM_TEST_NO_INSTALL:-0} == 1 ]]; then log "missing ${missing[*]} and SLURM_TEST_NO_INSTALL=1"; exit 3; fi
    if [[ $(id -u) != 0 ]]; then log "missing ${missing[*]}; installing them needs root"; exit 3; fi
    if ! command -v apt-get >/dev/null 2>&1; then log "missing ${missing[*]} and no apt-get"; exit 3; fi
    log "installing slurmctld slurmd slurm-client munge"
    # The packages must not start the system's own munge/slurm services: deny it for the
    # duration of the install (only if no policy-rc.d is there already).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_log=$(mktemp)
    install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >>"$apt_log" 2>&1
    }
    if ! { install || { apt-get update -qq >>"$apt_log" 2>&1 && install; }; }; then
        log "apt-get install failed:"; tail -n 20 "$apt_log" >&2; rm -f "$apt_log"; exit 3
    fi
    rm -f "$apt_log"
    if [[ -e /usr/sbin/policy-rc.d ]] && trap -p EXIT | grep -q policy-rc.d; then
        rm -f /usr/sbin/policy-rc.d; trap - EXIT
    fi
fi
if [[ $(id -u) != 0 ]]; then log "the test cluster runs its daemons as root"; exit 3; fi

# --- configuration --------------------------------------------------------------------------
mkdir -p "$STATE_DIR"/{etc,munge,ctld,slurmd,log}
chmod 755 "$STATE_DIR" "$STATE_DIR/munge"   # munged wants its socket dir traversable
HOST=$(hostname -s)
render() {
    sed -e "s|@HOSTNAME@|$HOST|g" -e "s|@STATE_DIR@|$STATE_DIR|g" -e "s|@CPUS@|$CPUS|g" \
        -e "s|@MEM_MB@|$MEM_MB|g" -e "s|@CPU_PARTITION@|$CPU_PARTITION|g" \
        -e "s|@GPU_PARTITION@|$GPU_PARTITION|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@GPUS@|$GPUS|g" \
        -e "s|@LAST_GPU@|$((GPUS - 1))|g" "$1" >"$2"
}
mkdir -p "$STATE_DIR/dev"   # the fake GPUs: character devices 1:3, i.e. /dev/null under other names
for ((g = 0; g < GPUS; g++)); do
    [[ -e $STATE_DIR/dev/gpu$g ]] || mknod "$STATE_DIR/dev/gpu$g" c 1 3 2>/dev/null || : >"$STATE_DIR/dev/gpu$g"
done
render "$HERE/slurm.conf.in" "$STATE_DIR/etc/slurm.conf"
render "$HERE/gres.conf.in" "$STATE_DIR/etc/gres.conf"   # slurmd reads gres.conf next to slurm.conf
export SLURM_CONF=$STATE_DIR/etc/slurm.conf
# Inside a job, snakemake-executor-plugin-slurm-jobstep drops every SLURM_* variable (SLURM_CONF
# too) before it calls srun. Real clusters keep slurm.conf at /etc/slurm or run configless; this
# cluster's config lives here, so jobs get an srun that knows where (STATE_DIR/bin on PATH).
mkdir -p "$STATE_DIR/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$STATE_DIR/bin/srun"
chmod 755 "$STATE_DIR/bin/srun"
printf 'export SLURM_CONF=%s\nexport PATH=%s:$PATH\n' "$SLURM_CONF" "$STATE_DIR/bin" >"$STATE_DIR/env"

# --- munge ----------------------------------------------------------------------------------
dd if=/dev/urandom of="$STATE_DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE_DIR/munge/munge.key"
munged --force --key-file="$STATE_DIR/munge/munge.key" --socket="$STATE_DIR/munge/munge.socket.2" \
       --pid-file="$STATE_DIR/munged.pid" --log-file="$STATE_DIR/log/munged.log" \
       --seed-file="$STATE_DIR/munge/munged.seed"

# --- slurm daemons (both daemonize and write their PID files into STATE_DIR) ---------------
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# --- wait for the node ----------------------------------------------------------------------
alive() { [[ -f $1 ]] && kill -0 "$(tr -dc '0-9' <"$1")" 2>/dev/null; }
state=
for i in $(seq 1 60); do
    for d in munged slurmctld slurmd; do   # PID files may lag the fork by a moment
        ((i < 3)) || alive "$STATE_DIR/$d.pid" || { log "$d is not running"; break 2; }
    done
    state=$(timeout 5 sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n 1 || true)
    if [[ $state == idle ]]; then
        log "node $HOST idle (partitions $CPU_PARTITION, $GPU_PARTITION; SLURM_CONF=$SLURM_CONF)"
        exit 0
    fi
    sleep 1
done
log "node $HOST never became idle (last state: '${state:-none}')"
for f in "$STATE_DIR"/log/*.log; do echo "--- $f" >&2; tail -n 25 "$f" >&2; done
exit 1
