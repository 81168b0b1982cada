#!/usr/bin/env bash
# `make profile`: a few training steps of the default job's network under Nsight Systems (or, if
# only it is installed, Nsight Compute), with NVTX ranges: the phases that metrics.jsonl times
# (compute, compress, exchange, update, step), forward, backward, exchange_up, exchange_down,
# gossip, and one per launcher. Says where the report is. Extra ./train flags:
# PROFILE_ARGS (e.g. '--precision bf16' or '--cuda-graphs off').
set -euo pipefail
cd "$(dirname "$0")/.."
# Options go through PROFILE_ARGS and PROFILE_DIR: an argument here would otherwise be dropped unseen.
[ $# -eq 0 ] || { echo "profile: unexpected argument '$1' (extra ./train flags go in PROFILE_ARGS)" >&2; exit 2; }
out=${PROFILE_DIR:-runs/profile}
if ! ./train --device cuda --print-params >/dev/null 2>&1; then
  echo "profile: no CUDA GPU here; profiling needs one" >&2
  exit 2
fi
mkdir -p "$out"
job=(./train --device cuda --dataset synthetic --model preact-resnet18 --workers 8 --algo liec --period 32
     --compressor sign --batch-size 128 --steps 30 --log-every 10 --eval-every 1000000 --run-dir "$out/run" --overwrite
     ${PROFILE_ARGS:-})
# Steps replayed as CUDA graphs run no host code, so the NVTX phase ranges mark the eager steps
# (the first of each variant); PROFILE_ARGS='--cuda-graphs off' names the phases of every step.
if command -v nsys >/dev/null; then
  # Graph-replayed steps traced node by node, so that every kernel of a step shows on the timeline.
  nsys profile --trace=cuda,nvtx,cublas,cudnn --cuda-graph-trace=node --force-overwrite=true --output "$out/train" \
    "${job[@]}"
  echo "profile: Nsight Systems report in $out/train.nsys-rep (open it with nsys-ui, or: nsys stats $out/train.nsys-rep)"
elif command -v ncu >/dev/null; then
  # Kernels of steps 20-21 only: the first steps include cuDNN's algorithm search.
  ncu --nvtx --set basic --launch-skip 2000 --launch-count 400 --force-overwrite --export "$out/train" "${job[@]}"
  echo "profile: Nsight Compute report in $out/train.ncu-rep (open it with ncu-ui, or: ncu --import $out/train.ncu-rep)"
else
  echo "profile: neither nsys nor ncu is installed (both come with the CUDA toolkit)" >&2
  exit 2
fi
