#!/usr/bin/env bash
# Installs, with apt, what the build needs and the machine lacks; idempotent. CUDA, cuDNN and NCCL
# come from the machine's CUDA install and cannot be installed here: if missing, say so and stop.
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libstb-dev doctest-dev gnuplot)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null; then
    echo "install-deps: apt-get not found; install ${missing[*]} by hand" >&2
    exit 2
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cuda_home=${CUDA_HOME:-/usr/local/cuda}
absent=()
[ -x "$cuda_home/bin/nvcc" ] || absent+=("CUDA toolkit (nvcc in $cuda_home/bin)")
found_header() { for d in "$cuda_home/include" /usr/include/x86_64-linux-gnu /usr/include; do [ -f "$d/$1" ] && return 0; done; return 1; }
found_header cudnn.h || absent+=("cuDNN 9 (cudnn.h)")
found_header nccl.h || absent+=("NCCL 2 (nccl.h)")
if [ ${#absent[@]} -gt 0 ]; then
  echo "install-deps: missing, and not installable from here: ${absent[*]}." >&2
  echo "install-deps: install them with the machine's CUDA toolkit, or set CUDA_HOME." >&2
  exit 2
fi
