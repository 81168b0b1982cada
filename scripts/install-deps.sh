#!/usr/bin/env bash
# Installs, with apt, what the build needs and the machine lacks; idempotent. CUDA, cuDNN and NCCL
# come from the machine's CUDA install and cannot be installed here: if missing, say so and stop.
# With --torch, also Debian's python3-torch where it can (optional: only the CPU benchmark's
# PyTorch column needs it, and it is large, so the build and the tests never ask for it).
set -uo pipefail
with_torch=0
case "${1:-}" in
  --torch) with_torch=1 ;;
  "") ;;
  *) echo "install-deps: unknown argument '$1' (expected --torch or nothing)" >&2; exit 2 ;;
esac

# The CUDA install first: nothing apt brings helps without it, so say so before a long apt run.
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

# Needed to build and test; gnuplot only draws the plots (any package's gnuplot will do).
missing=()
# libdnnl-dev: oneDNN, which runs the CPU convolutions; clang-14 and libfuzzer-14-dev: the fuzzed
# parsers (make fuzz, and the short fuzz pass of make test).
for p in libopenmpi-dev openmpi-bin libstb-dev doctest-dev libdnnl-dev clang-14 libfuzzer-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v gnuplot >/dev/null || missing+=(gnuplot)
command -v python3 >/dev/null || missing+=(python3)  # rewrites the kernels for the emulated-kernel tests
want_torch=0
if [ "$with_torch" = 1 ] && ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed"; then
  want_torch=1
fi
[ ${#missing[@]} -gt 0 ] || [ "$want_torch" = 1 ] || exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null; then
  echo "install-deps: apt-get not found; install ${missing[*]} by hand" >&2
  exit 2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt_install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >>"$log" 2>&1; }
$sudo apt-get update -qq >"$log" 2>&1
if [ "$want_torch" = 1 ]; then
  echo "install-deps: installing python3-torch (for the benchmark's PyTorch column)"
  apt_install python3-torch || echo "install-deps: python3-torch could not be installed; the benchmark says 'no torch'" >&2
fi
[ ${#missing[@]} -gt 0 ] || exit 0
echo "install-deps: installing ${missing[*]}"
apt_install "${missing[@]}" && exit 0
# Without gnuplot everything still builds and tests (the plot tests skip): try the rest alone.
needed=()
for p in "${missing[@]}"; do [ "$p" = gnuplot ] || needed+=("$p"); done
if [ ${#needed[@]} -lt ${#missing[@]} ] && { [ ${#needed[@]} -eq 0 ] || apt_install "${needed[@]}"; }; then
  echo "install-deps: gnuplot could not be installed (offline?); everything builds, but make plots needs it" >&2
  exit 0
fi
echo "install-deps: apt-get could not install ${needed[*]:-${missing[*]}} (offline?): $(grep -m1 -E '^(E|W):' "$log" || tail -n 1 "$log")" >&2
exit 1
