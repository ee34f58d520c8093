#!/usr/bin/env bash
# GPU check of the GPT trainer: bf16, torch.compile, NCCL with one GPU, and the tokens/s
# and MFU of GPT-2 small (124M) against nanoGPT's model in the same process.
#
#   bash bench/gpu_check.sh              # on a CUDA machine, from the repository root
#   bash bench/gpu_check.sh --dry-run    # anywhere: the same steps on the CPU, tiny, float32
#
# Needs .venv (make setup) with a CUDA build of torch for the real run, and ../shared
# (corpora, peers/nanogpt). Writes bench/data/gpu_check/*.json and prints a summary;
# copy the numbers into BENCHMARKS.md ("GPU check").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=bench/data/gpu_check
mkdir -p "$OUT"
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1

step() { printf '\n=== %s\n' "$*"; }

step "environment"
"$PY" - <<'PYEOF'
import json, torch
info = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
if torch.cuda.is_available():
    info.update(device=torch.cuda.get_device_name(0), count=torch.cuda.device_count(),
                bf16=torch.cuda.is_bf16_supported(), nccl=torch.distributed.is_nccl_available(),
                capability=".".join(map(str, torch.cuda.get_device_capability(0))))
print(json.dumps(info))
PYEOF
if [[ $DRY == 0 ]]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: run with --dry-run')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi

if [[ $DRY == 0 ]]; then
  step "bf16 + torch.compile training run, saved weights load in transformers (pytest -m gpu)"
  "$PY" -m pytest -q -m gpu tests/test_gpt_plugin.py -p no:cacheprovider
fi

step "DDP with 1 rank: all_reduce, broadcast, a compiled bf16 GPT under DDP"
if [[ $DRY == 0 ]]; then
  "$PY" -m torch.distributed.run --standalone --nproc-per-node=1 bench/ddp_check.py \
    --device cuda --backend nccl --dtype bfloat16 --compile | tee "$OUT/ddp.json"
else
  "$PY" -m torch.distributed.run --standalone --nproc-per-node=1 bench/ddp_check.py \
    --device cpu --backend gloo --dtype float32 --steps 20 | tee "$OUT/ddp.json"
fi

step "tokens/s: GPT-2 124M (bf16, compiled), plugin model vs nanoGPT model.py, same process"
if [[ $DRY == 0 ]]; then
  "$PY" bench/bench_trainer.py --preset gpt2 --rounds 10 --block 10 --json "$OUT/model.json"
  step "tokens/s and MFU of the plugin's whole loop vs a hand loop (124M, Tiny Shakespeare)"
  "$PY" bench/bench_trainer.py --compare loop --preset gpt2 --steps 50 --warmup 20 --rounds 2 \
    --json "$OUT/loop.json"
else
  "$PY" bench/bench_trainer.py --preset cpu --threads 1 --rounds 2 --block 2 --json "$OUT/model.json"
fi

step "done: results in $OUT"
