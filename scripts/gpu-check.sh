#!/usr/bin/env bash
# Everything that needs a GPU (for a machine lent for a short while): build, the GPU test cases,
# the kernel and transport benchmarks, NCCL with one rank, the two-ranks-on-one-GPU refusal and
# (on two GPUs) a silent peer's timeout, eager against graph-replayed steps, compute-sanitizer's
# memcheck and racecheck over a few replayed steps, and the throughput table beside PyTorch
# (scripts/bench_train.sh).
# Usage: scripts/gpu-check.sh [tests] [kernels] [nccl] [graphs] [sanitizer] [throughput]
#   No part named: all of them. Each part prints how long it took, so that a session with a
#   per-call time limit can split them over calls (the build is kept between calls on one machine).
#   EXTRA_INCLUDES=-I.deps/include where stb and doctest are not installed (the default).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0  # 1 once a part fails: a test, a benchmark, a run, or a sanitizer report

part_tests() {
  for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" -tc='*CUDA*,*GPU*' >/tmp/gpu-tests.log 2>&1 || status=1
    grep -E 'ERROR|FAILED|test cases' /tmp/gpu-tests.log | sed "s|^|$(basename "$t"): |"
  done
}

part_kernels() {  # each against copy bandwidth measured in the same run
  build/bench_activations || status=1
  build/bench_compress || status=1
  build/bench_batch || status=1
  build/comm_bench --comm local --workers 4 --device cuda | tail -6 || status=1
}

part_nccl() {  # one rank sending to itself, then two ranks on one GPU, which must be refused
  mpirun --allow-run-as-root -np 1 build/comm_bench --comm nccl --device cuda | tail -4 || status=1
  local out
  if out=$(mpirun --allow-run-as-root --oversubscribe -np 2 ./train --comm nccl --device cuda --steps 1 \
             --run-dir /tmp/nccl2 --overwrite 2>&1); then
    echo "nccl: two ranks on one GPU ran instead of being refused: FAILED"
    status=1
  fi
  grep -m1 -E 'error|share' <<<"$out" || { echo "nccl: two ranks on one GPU stopped without an error line: FAILED"; status=1; }
  # A silent peer: rank 0's receive waits on the GPU, and --comm-timeout (2 s) must still end it.
  if [ "$(nvidia-smi -L | wc -l)" -lt 2 ]; then
    echo "nccl: a silent peer's timeout needs 2 GPUs: skipped"
  elif out=$(timeout 90 mpirun --allow-run-as-root -np 2 build/tests/mpi_ranks nccl-stall 2 2>&1); then
    echo "nccl: a receive from a silent peer completed: FAILED"
    status=1
  else
    grep -m1 "waited 2 s for its peers' messages on the GPU" <<<"$out" ||
      { echo "nccl: a silent peer did not end in the timeout's error: FAILED"; echo "$out" | tail -3; status=1; }
  fi
}

part_graphs() {  # 8 LIEC-SGD workers, eager against replayed (img/s of the last interval)
  for graphs in off on; do
    ./train --device cuda --dataset synthetic --model preact-resnet18 --workers 8 --algo liec --compressor sign \
      --batch-size 128 --steps 200 --log-every 100 --eval-every 1000000 --cuda-graphs $graphs \
      --run-dir /tmp/graphs-$graphs --overwrite 2>&1 |
      grep -E 'cuda graphs|step    200|error' | sed "s|^|graphs=$graphs  |" || { echo "graphs=$graphs  FAILED"; status=1; }
  done
}

part_sanitizer() {  # memcheck and racecheck on a few replayed steps, float32 NCHW and bf16 NHWC kernels
  for precision in fp32 bf16; do
    for tool in memcheck racecheck; do
      compute-sanitizer --tool $tool --error-exitcode 9 ./train --device cuda --dataset synthetic --width 16 --workers 2 \
        --algo liec --period 4 --compressor sign --batch-size 16 --steps 8 --log-every 4 --precision $precision \
        --run-dir /tmp/sanitize --overwrite >/tmp/sanitize.log 2>&1
      local rc=$?
      tail -n 2 /tmp/sanitize.log | sed "s|^|$tool $precision: |"
      [ "$rc" -eq 0 ] || { echo "$tool $precision: FAILED (exit code $rc)"; status=1; }
    done
  done
}

part_throughput() { bash scripts/bench_train.sh || status=1; }

# Every part needs a GPU: without one they would print a CPU stand-in or nothing and pass.
require_gpu() {
  ./train --device cuda --print-params >/dev/null 2>&1 && return 0
  echo "gpu-check: no CUDA GPU here (./train --device cuda --print-params fails); every part needs one" >&2
  exit 2
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tests kernels nccl graphs sanitizer throughput)
for part in "${parts[@]}"; do
  declare -F "part_$part" >/dev/null && continue
  echo "gpu-check: unknown part '$part' (tests, kernels, nccl, graphs, sanitizer, throughput)" >&2
  exit 2
done
[ -x ./train ] && require_gpu  # before a build of minutes, where an earlier build can tell
make -j"$(nproc)" EXTRA_INCLUDES="${EXTRA_INCLUDES:--I.deps/include}" all >/dev/null || exit 1
require_gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for part in "${parts[@]}"; do
  echo "== $part"
  start=$SECONDS
  "part_$part"
  echo "-- $part took $((SECONDS - start)) s"
done
exit $status
