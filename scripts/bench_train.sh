#!/usr/bin/env bash
# Training throughput on the GPU, ours beside PyTorch's measured in the same run: images/s of
# one worker for batch 32, 128 and 512 in fp32, TF32 and bf16 (synthetic data, SGD with momentum,
# the last 100 steps timed), and the ratio; then the 8-worker LIEC-SGD step (blockwise sign,
# batch 128, one graph for all workers) against 8 plain SGD steps. `make bench` runs it.
# Usage: scripts/bench_train.sh [--model resnet18] [--steps 300]
set -uo pipefail
cd "$(dirname "$0")/.."
model=resnet18 steps=300
while [ $# -gt 0 ]; do
  case "$1" in
    --model|--steps) [ $# -ge 2 ] || { echo "bench_train: $1 needs a value" >&2; exit 2; } ;;&
    --model) model=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "bench_train: unknown argument '$1' (expected --model NAME, --steps N)" >&2; exit 2 ;;
  esac
done
case "$model" in
  resnet18|preact-resnet18|preact-resnet34) ;;
  *) echo "bench_train: unknown --model '$model' (expected resnet18, preact-resnet18, preact-resnet34)" >&2; exit 2 ;;
esac
[[ $steps =~ ^[1-9][0-9]*$ ]] || { echo "bench_train: --steps must be a positive whole number, not '$steps'" >&2; exit 2; }
if ! ./train --device cuda --print-params >/dev/null 2>&1; then
  echo "bench_train: no CUDA GPU here; the training-throughput table needs one"
  exit 0
fi
torch_ok=0
python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1 && torch_ok=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Images/s of our last log interval of 100 steps (the earlier ones hold cuDNN's algorithm search
# and the graph capture), or the first line of the error.
ours() {  # batch precision [extra flags...]
  local batch=$1 precision=$2 dir="$work/run"
  shift 2
  rm -rf "$dir"
  if ! ./train --device cuda --dataset synthetic --model "$model" --batch-size "$batch" --precision "$precision" \
      --steps "$steps" --log-every 100 --eval-every 1000000 --run-dir "$dir" "$@" >"$work/out" 2>&1; then
    sed -n 's/^error: //p' "$work/out" | head -n 1 | cut -c1-40
    return
  fi
  grep '"images_per_s"' "$dir/metrics.jsonl" | tail -n 1 | sed -E 's/.*"images_per_s": ([0-9.eE+-]+).*/\1/'
}

theirs() {  # batch precision
  [ "$torch_ok" = 1 ] || { echo "no torch"; return; }
  local layout=()
  [ "$2" = bf16 ] && layout=(--channels-last)  # PyTorch's fastest bf16 setting
  python3 scripts/bench_torch.py --model "$model" --batch "$1" --precision "$2" --steps 200 "${layout[@]}" 2>/dev/null |
    sed -nE 's/.*images_per_s=([0-9.]+).*/\1/p'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

# The arithmetic a training step must do per image: forward multiply-adds (./train --print-params)
# x 2 flops x 3 (forward, backward data, backward filter). Achieved TFLOP/s = img/s x that: how far
# each figure is from the arithmetic units' rate (H100 SXM datasheet: fp32 67, TF32 495, bf16 989).
flops_per_image=$(./train --print-params --model "$model" | sed -nE 's/.*; ([0-9.eE+-]+) GMAC per.*/\1/p' |
                  awk '{ printf "%.6g", $1 * 1e9 * 6 }')
tflops() { awk -v r="$1" -v f="$flops_per_image" 'BEGIN { if (r + 0 > 0) printf "%.1f", r * f / 1e12; else print "-" }'; }

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/# GPU: /'
echo "# $model, one worker, synthetic 32x32 data, SGD momentum 0.9, $steps steps (ours: last 100 timed)"
echo "# PyTorch: eager, cudnn.benchmark, bf16 = autocast + channels-last; TFLOP/s at $flops_per_image flop per image"
printf "%-6s %-9s %12s %8s %12s %8s %7s\n" batch precision "ours img/s" TFLOP/s "torch img/s" TFLOP/s ratio
for precision in fp32 tf32 bf16; do
  for batch in 32 128 512; do
    a=$(ours "$batch" "$precision")
    b=$(theirs "$batch" "$precision")
    printf "%-6s %-9s %12s %8s %12s %8s %7s\n" "$batch" "$precision" "$a" "$(tflops "$a")" "${b:-failed}" \
      "$(tflops "$b")" "$(ratio "$a" "$b")"
  done
done

echo
echo "# 8 workers of PreAct-ResNet18 on this GPU, batch 128 each, fp32: LIEC-SGD (H = 32, blockwise sign)"
echo "# against plain SGD on one worker; GPU time per step of all 8 workers vs 8 single-worker steps"
model=preact-resnet18
liec=$(ours 128 fp32 --workers 8 --algo liec --period 32 --compressor sign --momentum 0)
plain=$(ours 128 fp32 --workers 1 --algo psgd --momentum 0)
awk -v liec="$liec" -v plain="$plain" 'BEGIN {
  if (liec + 0 <= 0 || plain + 0 <= 0) { printf "liec: %s, plain: %s\n", liec, plain; exit }
  step = 8 * 128 / liec * 1e3; eight = 8 * 128 / plain * 1e3   # ms for 8 x 128 images either way
  printf "liec-sgd 8 workers: %.2f ms per step; 8 plain sgd steps: %.2f ms; ratio %.3f (goal <= 1.10)\n", step, eight, step / eight
}'
