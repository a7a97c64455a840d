#!/usr/bin/env bash
# The fine-tuned MVSA-Single grid (configs/mvsa_finetune.yaml) on one GPU, in one command, with the fast
# settings of bench/mvsa_finetune_gpu.yaml (bf16, micro-batch 64 x accumulation 10 = the recipe's 640).
#
#   bench/mvsa_finetune_gpu.sh BUNDLE OUTDIR      # from the repository root, on a machine with a CUDA GPU
#
# BUNDLE: the folder bench/mvsa_finetune_bundle.py built (data, cut text encoder, image-encoder package,
# settings). Installs nothing: it needs a Python with torch, transformers, numpy, pillow, pyyaml, tqdm,
# pandas, scipy and matplotlib (the repository's .venv if it has torch, else python3). Runs the training
# jobs MVSA_GPU_PARALLEL at a time (default 10) on the one GPU, starts none after MVSA_GPU_BUDGET_S
# seconds (default 420), then evaluates every finished run under every noise condition and aggregates.
# MVSA_GPU_MODELS / MVSA_GPU_SEEDS (space-separated) narrow the grid. Writes to OUTDIR:
#   mvsa_finetune_gpu.log  everything printed;   timings.tsv  per job: start, end, wall seconds, exit status
#   summary.md / summary.csv / metrics.json  the tables;   environment.json  GPU, versions, bundle manifest
set -uo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 BUNDLE OUTDIR" >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -f $1/manifest.json && -f $1/params.yaml ]] || {
    echo "mvsa_finetune_gpu: $1 is not a bundle (no manifest.json / params.yaml): build it with bench/mvsa_finetune_bundle.py build" >&2
    exit 2
}
BUNDLE=$(cd "$1" && pwd)
mkdir -p "$2" || exit 2
OUTDIR=$(cd "$2" && pwd)
exec > >(tee "$OUTDIR/mvsa_finetune_gpu.log") 2>&1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
export PYTHONPATH=$REPO:$BUNDLE/site${PYTHONPATH:+:$PYTHONPATH}
PARALLEL=${MVSA_GPU_PARALLEL:-10}
BUDGET=${MVSA_GPU_BUDGET_S:-420}
START=$SECONDS

PY=
for cand in "$REPO/.venv/bin/python" python3 python; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then PY=$(command -v "$cand"); break; fi
done
[[ -n $PY ]] || { echo "mvsa_finetune_gpu: no Python with torch on PATH" >&2; exit 2; }
missing=$("$PY" -c "import importlib.util as u; print(' '.join(m for m in ('torch', 'transformers', 'numpy', 'PIL', 'yaml', 'tqdm', 'pandas', 'scipy', 'matplotlib', 'efficientnet_lite_pytorch') if u.find_spec(m) is None))")
[[ -z $missing ]] || { echo "mvsa_finetune_gpu: $PY lacks: $missing" >&2; exit 2; }
"$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "mvsa_finetune_gpu: no CUDA GPU visible to torch; this command is for a GPU machine (docs/mvsa_finetune.md)" >&2; exit 3; }
cd "$REPO" || exit 2
"$PY" - "$BUNDLE" "$OUTDIR/environment.json" <<'EOF'
import json, platform, sys, torch, transformers
manifest = json.load(open(f"{sys.argv[1]}/manifest.json"))
env = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
       "transformers": transformers.__version__, "python": platform.python_version(), "bundle": manifest}
json.dump(env, open(sys.argv[2], "w"), indent=1)
print(json.dumps({k: v for k, v in env.items() if k != "bundle"}))
EOF

STEP=("$PY" bench/mvsa_finetune_gpu.py --bundle "$BUNDLE")
TIMINGS=$OUTDIR/timings.tsv
printf 'job\tstart_s\tend_s\twall_s\texit\n' >"$TIMINGS"
mkdir -p logs/mvsa_finetune_gpu
timed() {  # name command...: runs it, its output to logs/, one line in timings.tsv
    local name=$1 t0=$((SECONDS - START)); shift
    "$@" >"logs/mvsa_finetune_gpu/$name.log" 2>&1
    local rc=$? t1=$((SECONDS - START))
    printf '%s\t%d\t%d\t%d\t%d\n' "$name" "$t0" "$t1" $((t1 - t0)) "$rc" >>"$TIMINGS"
    echo "== $name: exit $rc, $((t1 - t0)) s (at $t1 s)"
    ((rc == 0)) || tail -5 "logs/mvsa_finetune_gpu/$name.log"
}
throttle() { while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n; done; }

echo "== unpack"
timed unpack "$PY" bench/mvsa_finetune_bundle.py unpack "$BUNDLE"
# shellcheck disable=SC2086  # the narrowing lists are space-separated on purpose
JOBS=$("${STEP[@]}" jobs ${MVSA_GPU_MODELS:+--models $MVSA_GPU_MODELS} ${MVSA_GPU_SEEDS:+--seeds $MVSA_GPU_SEEDS}) || exit 1
echo "== $(wc -l <<<"$JOBS") training jobs, $PARALLEL at a time, none started after ${BUDGET} s"
while read -r model seed; do
    throttle
    if ((SECONDS - START >= BUDGET)); then echo "== budget spent: not started: $model seed $seed"; continue; fi
    timed "train_${model}_seed${seed}" "${STEP[@]}" train "$model" "$seed" &
done <<<"$JOBS"
wait

echo "== evaluate the finished runs"
for model in $(awk '{print $1}' <<<"$JOBS" | uniq); do
    seeds=$(awk -v m="$model" '$1 == m {print $2}' <<<"$JOBS" | while read -r s; do
        [[ -f runs/mvsa_single/$model/seed$s/dev_metrics.json ]] && echo "$s"; done)
    [[ -n $seeds ]] || continue
    throttle
    # shellcheck disable=SC2086
    timed "evaluate_${model}" "${STEP[@]}" evaluate "$model" $seeds &
done
wait

timed aggregate "${STEP[@]}" aggregate results/mvsa_finetune_gpu
for name in summary.md summary.csv metrics.json; do
    [[ -f results/mvsa_finetune_gpu/$name ]] && cp "results/mvsa_finetune_gpu/$name" "$OUTDIR/"
done
trained=$(awk -F'\t' '$1 ~ /^train_/ && $5 == 0' "$TIMINGS" | wc -l)
echo "== done in $((SECONDS - START)) s: $trained of $(wc -l <<<"$JOBS") runs trained; tables in $OUTDIR"
[[ -f $OUTDIR/summary.md ]]
