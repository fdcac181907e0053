#!/usr/bin/env bash
# The CUDA path, checked in one go when a GPU is lent (budget: under 8 minutes on one modern GPU).
# NOT YET RUN: no GPU has been available to this project, so every CUDA line below is untested.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # default OUT_DIR: $OUT, else /tmp/gpu_check
#
# 1. environment: nvidia-smi, torch.cuda, bf16 support                                  (~10 s)
# 2. throughput vs the plain 64x64 reference DCGAN in the same run: fp32, bf16 autocast,
#    channels_last, torch.compile (falls back to eager with a note), generation img/s,
#    GFLOP/s against the GPU's own fp32/bf16 matmul peak                               (~3 min)
# 3. CUDA training of the sprite and stylegan presets (bf16 autocast), 300 / 200 steps  (~2 min)
# 4. a 2-process torchrun smoke: NCCL when 2+ GPUs are visible, else gloo on CPU        (~1 min)
# Every step has its own timeout; a failing step is reported and the script goes on.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$OUT_DIR"
PY=.venv/bin/python
[ -x "$PY" ] || PY=python
SG="$PY -m spritegan"
STATUS=0
START=$(date +%s)

step() {  # step NAME TIMEOUT_S COMMAND...: run with a timeout, log to OUT_DIR/NAME.log, report
    local name=$1 limit=$2
    shift 2
    local t0=$(date +%s)
    timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    local rc=$?
    echo "== $name: rc=$rc, $(( $(date +%s) - t0 )) s (log: $OUT_DIR/$name.log)"
    [ $rc -eq 0 ] || STATUS=1
    tail -n 25 "$OUT_DIR/$name.log"
}

echo "gpu_check $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
step env 60 bash -c "nvidia-smi; $PY - <<'EOF'
import torch
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())
assert torch.cuda.is_available(), 'no CUDA device visible'
print(torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported(), 'devices', torch.cuda.device_count())
EOF"

# bf16, channels_last and compile cases are added by --device cuda; TF32 is off so fp32 is fp32
step throughput 240 $PY benchmarks/train_throughput.py --device cuda --steps 10 --repeats 3 --gen 1024 \
    --batch64 128 --batch24 256 --no-memory

step train-sprite 120 $SG train --data builtin:sprites --device cuda --steps 300 --out "$OUT_DIR/sprite" \
    --overwrite --no-progress --set train.amp=true --set train.sample_every=100
step train-stylegan 150 $SG train --data builtin:sprites --preset stylegan --device cuda --steps 200 \
    --out "$OUT_DIR/stylegan" --overwrite --no-progress --set train.amp=true --set train.sample_every=100
step generate 60 $SG generate "$OUT_DIR/sprite" -n 1024 --device cuda --out "$OUT_DIR/sprite-gen"

NGPU=$($PY -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
if [ "${NGPU:-0}" -ge 2 ]; then DDP_DEVICE=cuda; else DDP_DEVICE=cpu; fi
step torchrun-$DDP_DEVICE 90 "$(dirname "$PY")/torchrun" --standalone --nproc_per_node 2 -m spritegan train \
    --data builtin:sprites:256 --device "$DDP_DEVICE" --steps 20 --out "$OUT_DIR/ddp" --overwrite --no-progress \
    --set train.batch_size=16 --set train.checkpoint_every=10

echo "gpu_check done in $(( $(date +%s) - START )) s, status $STATUS (0: every step passed)"
exit $STATUS
