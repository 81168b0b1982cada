#!/usr/bin/env bash
# The default job of `make run`: on a GPU, the full-width ResNet18 on the synthetic set; on a
# machine without one, a narrow network so that the whole pipeline still runs in minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if ./train --device cuda --print-params >/dev/null 2>&1; then
  exec ./train --device cuda --dataset synthetic --epochs 2 --run-dir runs/default "$@"
fi
echo "run: no CUDA GPU here; training a width-16 ResNet18 on the CPU instead"
exec ./train --device cpu --dataset synthetic --width 16 --batch-size 32 --steps 200 --run-dir runs/default "$@"
