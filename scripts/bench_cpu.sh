#!/usr/bin/env bash
# Training throughput on the CPU, ours beside PyTorch's measured in the same run, on all cores:
# images/s of one worker (synthetic 32x32 data, fp32, SGD with momentum) for resnet18 and
# preact-resnet18 at widths 8 to 64 and batch 32 and 128, and the ratio; then the 8-worker
# LIEC-SGD step (blockwise sign, one thread per rank) against 8 single-worker steps, and the CPU
# compressors against a CPU copy. `make bench-cpu` runs it (and `make bench` on a machine with no GPU).
# Usage: scripts/bench_cpu.sh [--seconds S] [--widths "8 16 32 64"] [--batches "32 128"] [--models "resnet18 preact-resnet18"]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=6 widths="8 16 32 64" batches="32 128" models="resnet18 preact-resnet18"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds|--widths|--batches|--models) [ $# -ge 2 ] || { echo "bench_cpu: $1 needs a value" >&2; exit 2; } ;;&
    --seconds) seconds=$2; shift 2 ;;
    --widths) widths=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "bench_cpu: unknown argument '$1' (expected --seconds, --widths, --batches, --models)" >&2; exit 2 ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "bench_cpu: --seconds must be a positive whole number, not '$seconds'" >&2; exit 2; }
for w in $widths; do [[ $w =~ ^[1-9][0-9]*$ ]] || { echo "bench_cpu: bad width '$w'" >&2; exit 2; }; done
for b in $batches; do [[ $b =~ ^[1-9][0-9]*$ ]] || { echo "bench_cpu: bad batch '$b'" >&2; exit 2; }; done
for m in $models; do
  case "$m" in resnet18|preact-resnet18|preact-resnet34) ;; *) echo "bench_cpu: unknown model '$m'" >&2; exit 2 ;; esac
done
threads=$(nproc)
# Debian's python3-torch lives under /usr/bin/python3, which need not be the python3 on PATH.
torch_python=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c "import torch" >/dev/null 2>&1; then torch_python=$p; break; fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Steps for about `seconds` of work at a rate guessed from the network's size (at least 3).
steps_for() {  # width batch
  awk -v w="$1" -v b="$2" -v s="$seconds" 'BEGIN { n = int(s * 600 * 64 / (w * w) / b + 0.5); if (n < 3) n = 3; print n }'
}

# The learning rate of a cell, 0.1 per 128 images: the speed does not depend on it, but at 0.1 a
# small batch diverges within a few hundred steps (PreAct-ResNet18 width 8, batch 32 reaches NaN at
# step ~160, the im2col reference path as well), and a run that stops measures nothing.
lr_for() { awk -v b="$1" 'BEGIN { printf "%g", 0.1 * b / 128 }'; }

# Our images/s: the second of two log intervals of equal length (the first holds the warm-up:
# oneDNN's kernel generation, first-touch page faults), or the first line of the error.
ours() {  # model width batch steps [extra flags...]
  local model=$1 width=$2 batch=$3 steps=$4 dir="$work/run"
  shift 4
  rm -rf "$dir"
  if ! ./train --device cpu --dataset synthetic --model "$model" --width "$width" --batch-size "$batch" \
      --steps $((2 * steps)) --log-every "$steps" --eval-every 1000000 --lr "$(lr_for "$batch")" --run-dir "$dir" "$@" >"$work/out" 2>&1; then
    sed -n 's/^error: //p' "$work/out" | head -n 1 | cut -c1-40
    return
  fi
  grep '"images_per_s"' "$dir/metrics.jsonl" | tail -n 1 | sed -E 's/.*"images_per_s": ([0-9.eE+-]+).*/\1/' |
    awk '{ printf "%.1f\n", $1 }'
}

theirs() {  # model width batch steps
  [ -n "$torch_python" ] || { echo "no torch"; return; }
  "$torch_python" scripts/bench_torch.py --device cpu --threads "$threads" --model "$1" --width "$2" --batch "$3" \
    --steps "$4" --warmup 2 --lr "$(lr_for "$3")" 2>/dev/null | sed -nE 's/.*images_per_s=([0-9.]+).*/\1/p'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

# Arithmetic per image of a training step: forward multiply-adds x 2 flops x 3 (forward, backward
# data, backward filter); GFLOP/s achieved = img/s x that.
gflop_per_image() {  # model width
  ./train --print-params --model "$1" --width "$2" | sed -nE 's/.*; ([0-9.eE+-]+) GMAC per.*/\1/p' | awk '{ printf "%.6g", $1 * 6 }'
}
gflops() { awk -v r="$1" -v f="$2" 'BEGIN { if (r + 0 > 0) printf "%.1f", r * f; else print "-" }'; }

echo "# CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $threads threads for ours and for PyTorch"
echo "# ours: ./train --device cpu ($(./train --print-params 2>/dev/null | sed -n 's/.*convolutions: //p' | head -n 1));" \
     "PyTorch: ${torch_python:+$("$torch_python" -c 'import torch; print(torch.__version__)' 2>/dev/null) ($torch_python)}${torch_python:-not installed}"
echo "# one worker, synthetic 32x32 data, fp32, SGD momentum 0.9; about $seconds s timed per cell, after a warm-up of as many steps"
printf "%-16s %5s %5s %10s %8s %11s %8s %6s\n" model width batch "ours img/s" GFLOP/s "torch img/s" GFLOP/s ratio
for model in $models; do
  for width in $widths; do
    per_image=$(gflop_per_image "$model" "$width")
    for batch in $batches; do
      steps=$(steps_for "$width" "$batch")
      a=$(ours "$model" "$width" "$batch" "$steps")
      b=$(theirs "$model" "$width" "$batch" "$steps")
      printf "%-16s %5s %5s %10s %8s %11s %8s %6s\n" "$model" "$width" "$batch" "$a" "$(gflops "$a" "$per_image")" \
        "${b:-failed}" "$(gflops "$b" "$per_image")" "$(ratio "$a" "$b")"
    done
  done
done

echo
echo "# 8 workers of PreAct-ResNet18 (width 16, batch 32 each) on this CPU, one thread per rank: LIEC-SGD"
echo "# (H = 32, blockwise sign) against plain SGD on one worker with all $threads threads; time per step of"
echo "# all 8 workers vs 8 single-worker steps"
steps=$(steps_for 16 32)
liec=$(ours preact-resnet18 16 32 "$steps" --workers 8 --algo liec --period 32 --compressor sign --momentum 0)
plain=$(ours preact-resnet18 16 32 $((8 * steps)) --workers 1 --algo psgd --momentum 0)
awk -v liec="$liec" -v plain="$plain" 'BEGIN {
  if (liec + 0 <= 0 || plain + 0 <= 0) { printf "liec: %s, plain: %s\n", liec, plain; exit }
  step = 8 * 32 / liec * 1e3; eight = 8 * 32 / plain * 1e3   # ms for 8 x 32 images either way
  printf "liec-sgd 8 workers: %.1f ms per step; 8 plain sgd steps: %.1f ms; ratio %.3f (goal <= 1.15)\n", step, eight, step / eight
}'

echo
build/bench_compress --cpu
