#!/usr/bin/env bash
# Everything that needs a GPU, in one call (for a machine lent for a short while): build, the GPU
# test cases, the kernel and transport benchmarks, NCCL with one rank and the two-ranks-on-one-GPU
# refusal, and our training throughput next to PyTorch's for the same network, batch and precision.
# Usage: scripts/gpu-check.sh   (EXTRA_INCLUDES=-I.deps/include where stb/doctest are not installed)
set -uo pipefail
cd "$(dirname "$0")/.."
make -j"$(nproc)" EXTRA_INCLUDES="${EXTRA_INCLUDES:--I.deps/include}" all >/dev/null || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

echo "== GPU test cases"
for t in build/tests/test_*; do
  [ -x "$t" ] && "$t" -tc='*CUDA*,*GPU*' 2>&1 | grep -E 'ERROR|FAILED|test cases' | sed "s|^|$(basename "$t"): |"
done

echo "== kernels"
build/bench_compress
build/bench_batch
build/comm_bench --comm local --workers 4 --device cuda | tail -6

echo "== NCCL: one rank (send to self), then two ranks on one GPU (must be refused)"
mpirun --allow-run-as-root -np 1 build/comm_bench --comm nccl --device cuda | tail -4
mpirun --allow-run-as-root --oversubscribe -np 2 ./train --comm nccl --device cuda --steps 1 --run-dir /tmp/nccl2 2>&1 |
  grep -m1 -E 'error|share'

echo "== throughput, fp32 with TF32 off, synthetic data, one worker"
for batch in 32 128; do
  ./train --device cuda --dataset synthetic --batch-size $batch --steps 200 --log-every 100 --run-dir /tmp/speed 2>&1 |
    grep 'step    200' | sed "s|^|ours  batch=$batch  |"
  python3 scripts/bench_torch.py --model resnet18 --batch $batch --precision fp32 2>/dev/null || echo "torch: not available"
done
