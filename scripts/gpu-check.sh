#!/usr/bin/env bash
# Everything that needs a GPU, in one call (for a machine lent for a short while): build, the GPU
# test cases, the kernel and transport benchmarks, NCCL with one rank and the two-ranks-on-one-GPU
# refusal, eager against graph-replayed steps, compute-sanitizer's memcheck and racecheck over a
# few replayed steps, and the throughput table beside PyTorch (scripts/bench_train.sh).
# Usage: scripts/gpu-check.sh   (EXTRA_INCLUDES=-I.deps/include where stb/doctest are not installed)
set -uo pipefail
cd "$(dirname "$0")/.."
make -j"$(nproc)" EXTRA_INCLUDES="${EXTRA_INCLUDES:--I.deps/include}" all >/dev/null || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
status=0  # 1 once a sanitizer run reports an error

echo "== GPU test cases"
for t in build/tests/test_*; do
  [ -x "$t" ] && "$t" -tc='*CUDA*,*GPU*' 2>&1 | grep -E 'ERROR|FAILED|test cases' | sed "s|^|$(basename "$t"): |"
done

echo "== kernels (against copy bandwidth)"
build/bench_activations
build/bench_compress
build/bench_batch
build/comm_bench --comm local --workers 4 --device cuda | tail -6

echo "== NCCL: one rank (send to self), then two ranks on one GPU (must be refused)"
mpirun --allow-run-as-root -np 1 build/comm_bench --comm nccl --device cuda | tail -4
mpirun --allow-run-as-root --oversubscribe -np 2 ./train --comm nccl --device cuda --steps 1 --run-dir /tmp/nccl2 2>&1 |
  grep -m1 -E 'error|share'

echo "== CUDA graphs: 8 LIEC-SGD workers, eager against replayed (img/s of the last interval)"
for graphs in off on; do
  ./train --device cuda --dataset synthetic --model preact-resnet18 --workers 8 --algo liec --compressor sign \
    --batch-size 128 --steps 200 --log-every 100 --eval-every 1000000 --cuda-graphs $graphs \
    --run-dir /tmp/graphs-$graphs 2>&1 |
    grep -E 'cuda graphs|step    200' | sed "s|^|graphs=$graphs  |"
done

echo "== compute-sanitizer on a few replayed steps (memcheck, racecheck; float32 NCHW and bf16 NHWC kernels)"
for precision in fp32 bf16; do
  for tool in memcheck racecheck; do
    compute-sanitizer --tool $tool --error-exitcode 9 ./train --device cuda --dataset synthetic --width 16 --workers 2 \
      --algo liec --period 4 --compressor sign --batch-size 16 --steps 8 --log-every 4 --precision $precision \
      --run-dir /tmp/sanitize >/tmp/sanitize.log 2>&1
    rc=$?
    tail -n 2 /tmp/sanitize.log | sed "s|^|$tool $precision: |"
    [ "$rc" -eq 0 ] || { echo "$tool $precision: FAILED (exit code $rc)"; status=1; }
  done
done

echo "== throughput table (scripts/bench_train.sh)"
bash scripts/bench_train.sh
exit $status
