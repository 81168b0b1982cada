#!/usr/bin/env bash
# `make run`: LIEC-SGD (H = 32) with Blockwise-SignSGD (5 MiB buckets), 8 simulated workers,
# PreAct-ResNet18 on CIFAR-10, with the LIEC-SGD authors' settings (batch 128 per worker, 120
# epochs, lr 0.1 decayed x0.1 at epoch 80, momentum 0, weight decay 5e-4), on the GPU.
# Data comes from DATA_DIR (default data/cifar10), fetched with scripts/get-data.sh if missing;
# offline, the same job runs on the synthetic dataset so the whole pipeline still runs; damaged
# data stops it (exit 2). Without a GPU the network is narrowed and the run shortened, and it says so.
set -uo pipefail
cd "$(dirname "$0")/.."
data_dir=${DATA_DIR:-data/cifar10}
run_dir=${RUN_DIR:-runs/liec-blockwise-sign}

dataset=(--dataset cifar10 --data-dir "$data_dir")
if ! why=$(./train --inspect "${dataset[@]}" 2>&1 >/dev/null); then
  # The first line of the error, so that a damaged dataset is not taken for a missing one.
  why=${why%%$'\n'*}
  # Only missing data (an absent or empty folder) may be fetched, or stood in for by synthetic
  # data when offline: damaged data is an error to fix, not a reason to train on something else.
  if [ -n "$(ls -A "$data_dir" 2>/dev/null)" ] && ! ls "$data_dir"/*.tar.gz >/dev/null 2>&1; then
    echo "run: the CIFAR-10 in $data_dir cannot be used: ${why#error: }" >&2
    echo "run: repair or remove it (scripts/get-data.sh cifar10 $data_dir fetches a fresh copy), or set DATA_DIR" >&2
    exit 2
  fi
  echo "run: no usable CIFAR-10 in $data_dir (${why#error: }); fetching it"
  if ! scripts/get-data.sh cifar10 "$data_dir"; then
    echo "run: CIFAR-10 cannot be fetched here; once it is in $data_dir, run: make run DATA_DIR=$data_dir"
    echo "run: meanwhile, the same job on the synthetic dataset"
    dataset=(--dataset synthetic)
  fi
fi

job=(--algo liec --period 32 --compressor sign --bucket-bytes 5242880 --workers 8 --model preact-resnet18
     --lr 0.1 --lr-schedule step --decay-epochs 80 --momentum 0 --wd 5e-4 --checkpoint-every 5 --run-dir "$run_dir")
# A second `make run` continues the first from its checkpoint (or says it has finished); an earlier
# run that left none (a CPU run shorter than 5 epochs) is started again in its place.
if [ -d "$run_dir/checkpoint" ] || [ -d "$run_dir/checkpoint.old" ]; then
  echo "run: $run_dir holds a checkpoint; continuing that run (remove the folder to start afresh)"
  job+=(--resume)
elif [ -e "$run_dir/config.json" ] || [ -e "$run_dir/metrics.jsonl" ]; then
  echo "run: $run_dir holds an earlier run without a checkpoint; starting it again in its place"
  job+=(--overwrite)
fi
if ./train --device cuda --print-params >/dev/null 2>&1; then
  exec ./train --device cuda "${dataset[@]}" "${job[@]}" --batch-size 128 --epochs 120 "$@"
fi
echo "run: no CUDA GPU here; training a width-8 PreAct-ResNet18 for 1 epoch on the CPU instead"
exec ./train --device cpu "${dataset[@]}" "${job[@]}" --width 8 --batch-size 32 --epochs 1 --train-subset 8192 --test-subset 2000 "$@"
