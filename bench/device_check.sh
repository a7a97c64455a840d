#!/usr/bin/env bash
# The one-command GPU measurement: training/evaluation throughput at paper size, original
# recipe against the project's fast path, plus a short paper-recipe run through the real trainer.
#
#   bench/device_check.sh OUTDIR          # on a machine with a CUDA GPU (about 4 1/2 minutes on one H200, 2026-11-27)
#   bench/device_check.sh OUTDIR --cpu    # tiny shapes on the CPU: the same steps end to end (about 1 minute)
#
# Writes OUTDIR/device_check.json (everything measured, merged) and OUTDIR/device_check.log.
# Works offline: models have random weights, data is generated. Python: the repository's .venv when it
# has torch, else the first python3/python on PATH with torch (a GPU image's own CUDA torch is reused,
# never replaced); the repository is installed into it without dependencies where it has no pdf_core yet, and
# PYTHONPATH points at the repository either way, so this checkout's pdf_core is what runs.
# Total time is bounded by DEVICE_CHECK_BUDGET_S (default 420 s): the torch.compile variant, last,
# gets what is left, so a slow compile costs only its own figure.
set -uo pipefail

usage() { echo "usage: $0 OUTDIR [--cpu]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
OUTDIR=$1
MODE=gpu
if [[ $# -eq 2 ]]; then [[ $2 == --cpu ]] || usage; MODE=cpu; fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$OUTDIR" || exit 2
OUTDIR=$(cd "$OUTDIR" && pwd)
LOG=$OUTDIR/device_check.log
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
exec > >(tee "$LOG") 2>&1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
START=$SECONDS
BUDGET=${DEVICE_CHECK_BUDGET_S:-420}

fail() { echo "device_check: error: $1" >&2; exit "${2:-1}"; }

# 1. a Python with torch, and the repository installed into it
PY=
for cand in "$REPO/.venv/bin/python" python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then PY=$(command -v "$cand"); break; fi
done
if [[ -z $PY ]]; then
    echo "no Python with torch found: trying 'make install' (needs PyPI)"
    (cd "$REPO" && make install) || fail "no Python with torch, and 'make install' failed (no network?). Install torch, or run on a machine that has it"
    PY=$REPO/.venv/bin/python
fi
echo "python: $PY ($("$PY" --version 2>&1))"
if "$PY" -c "import pdf_core" >/dev/null 2>&1; then
    echo "pdf_core is installed in it already (left as it is; PYTHONPATH selects this checkout)"
elif "$PY" -m pip install --quiet --no-deps --no-build-isolation --ignore-requires-python -e "$REPO" >"$WORK/pip.log" 2>&1; then
    echo "installed the repository into it (pip install --no-deps -e: its torch is kept)"
else
    echo "pip could not install the repository (below); running it from PYTHONPATH"
    tail -3 "$WORK/pip.log"
fi
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
missing=$("$PY" - <<'EOF'
import importlib.util
print(" ".join(m for m in ("torch", "torchvision", "transformers", "numpy", "PIL", "yaml", "tqdm") if importlib.util.find_spec(m) is None))
EOF
)
[[ -z $missing ]] || fail "missing Python packages: $missing (pip install them, or carry their wheels)"

# 2. the device
if [[ $MODE == gpu ]]; then
    "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
        || fail "no CUDA GPU visible to torch $("$PY" -c 'import torch; print(torch.__version__)'); run '$0 $OUTDIR --cpu' for the tiny CPU variant" 3
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    DEV=(--device cuda)
    THROUGHPUT=(--steps 40 --warmup-steps 5)
    TRAINER=()
else
    DEV=(--device cpu --tiny)
    THROUGHPUT=(--steps 2 --warmup-steps 1 --fast-micro-batch 32 --workers 1)
    TRAINER=(--n-train 64 --n-dev 32 --micro-batch 16)
fi

# 3. the measurements, each time-boxed; an exit status per step goes into the JSON
declare -A RC
step() {  # name seconds command...
    local name=$1 limit=$2; shift 2
    echo "== $name (at most ${limit} s)"
    timeout --kill-after=10 "$limit" "$@"
    RC[$name]=$?
    echo "== $name: exit ${RC[$name]} after $((SECONDS - START)) s in all"
}
cd "$REPO" || exit 2
step throughput 200 "$PY" bench/train_throughput.py "${DEV[@]}" "${THROUGHPUT[@]}" --json "$WORK/throughput.json"
step trainer_run 120 "$PY" bench/trainer_run.py "${DEV[@]}" "${TRAINER[@]}" --json "$WORK/trainer_run.json"
if [[ $MODE == gpu ]]; then
    left=$((BUDGET - (SECONDS - START) - 15))
    if ((left >= 60)); then
        step throughput_compiled "$left" "$PY" bench/train_throughput.py "${DEV[@]}" "${THROUGHPUT[@]}" \
            --compile --skip original fast --json "$WORK/throughput_compiled.json"
    else
        echo "== throughput_compiled skipped: ${left} s left of the ${BUDGET} s budget"
        RC[throughput_compiled]=skipped
    fi
fi

# 4. one JSON and the headline
rcs=$(for k in "${!RC[@]}"; do printf '%s=%s\n' "$k" "${RC[$k]}"; done)
"$PY" - "$WORK" "$OUTDIR/device_check.json" "$MODE" "$((SECONDS - START))" "$rcs" <<'EOF'
import json, sys
from pathlib import Path

work, out, mode, seconds, rcs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
load = lambda name: json.loads((work / name).read_text()) if (work / name).exists() else None
result = {
    "mode": mode,
    "seconds": seconds,
    "exit_status": dict(line.split("=", 1) for line in rcs.split()),
    "throughput": load("throughput.json"),
    "throughput_compiled": load("throughput_compiled.json"),
    "trainer_run": load("trainer_run.json"),
}
thr = result["throughput"] or {}
env = thr.get("environment", {})
original = thr.get("train", {}).get("original", {}).get("samples_per_s")
fast = {"fast": thr.get("train", {}).get("fast", {}).get("samples_per_s")}
if result["throughput_compiled"]:
    # compiled in a later process on the same machine; its ratio is to this run's original recipe
    fast["fast_compiled"] = result["throughput_compiled"]["train"].get("fast_compiled", {}).get("samples_per_s")
fast = {k: v for k, v in fast.items() if v}
best = max(fast, key=fast.get) if fast else None
headline = {
    "gpu": env.get("gpu"),
    "torch": env.get("torch"),
    "cuda": env.get("cuda"),
    "original_train_samples_per_s": original,
    "fast_train_samples_per_s": fast,
    "best_fast": best,
    "train_ratio_best_over_original": fast[best] / original if best and original else None,
    "eval_ratio": thr.get("ratios", {}).get("eval_fast_over_original"),
    "trainer_run_last_epoch_samples_per_s": (result["trainer_run"] or {}).get("epochs", [{}])[-1].get("train_samples_per_s"),
}
if mode == "gpu" and best and original:
    headline["goal_2000_samples_per_s"] = fast[best] >= 2000
    headline["goal_15x_original"] = fast[best] / original >= 15
result["headline"] = headline
tmp = out.with_suffix(".tmp")
tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
tmp.replace(out)
print("== headline")
for key, value in headline.items():
    print(f"{key}: {value}")
sys.exit(0 if result["throughput"] and result["trainer_run"] else 1)
EOF
status=$?
echo "wrote $OUTDIR/device_check.json (exit $status, $((SECONDS - START)) s)"
exit $status
