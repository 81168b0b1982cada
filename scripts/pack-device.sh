#!/usr/bin/env bash
# The GPU kit (issue 19): builds here (make -j2 all), then gathers into one git-ignored folder what a
# borrowed GPU machine needs to run scripts/gpu-check.sh with no build there. That machine has CUDA
# 13, cuDNN 9 (perhaps only inside Python wheels), NCCL, PyTorch, compute-sanitizer and, we are
# told, OpenMPI, but no package access and no stb or doctest headers.
#
# Usage: scripts/pack-device.sh [--no-build] [--out DIR]      (DIR: gpu-kit, below the tree's root)
#   The tree packed is the current directory when it holds the Makefile, else this script's
#   checkout; gpu-check.sh and bench_torch.py come from beside this script.
#   Make variables pass through the environment: HOST_ARCH=-march=x86-64-v3 bash
#   scripts/pack-device.sh builds host code that any AVX2 CPU runs (it rebuilds every object once);
#   the default -march=native builds for this CPU, and gpu-check rebuilds there when that one
#   lacks an instruction set this one has.
#
# The kit mirrors the tree, so that gpu-check, run from the repository root, can link each file
# where make would have put it:
#   DIR/gpu-check.sh             the check (a copy of scripts/gpu-check.sh)
#   DIR/kit-info.txt             commit, build flags, this CPU's instruction sets, the files
#   DIR/train                    ./train
#   DIR/build/tests/test_*       every test binary but the CPU-only test_kernels_emulated
#   DIR/build/tests/mpi_ranks    the MPI rank program the tests start
#   DIR/build/bench_*, DIR/build/comm_bench   the benchmarks
#   DIR/include/{stb,doctest}/   the headers, for a rebuild there: make -j16 EXTRA_INCLUDES=-IDIR/include
#   DIR/lib/libs.tar.xz          the shared libraries the binaries use beyond CUDA, cuDNN, NCCL and
#                                the C/C++ runtime (oneDNN, OpenMPI's, ...): gpu-check uses one only
#                                where ldd finds the machine's own missing
#   DIR/data/cifar10-jpg.tar.gz  from $DATA_ARCHIVES, else ../shared/data (if absent: said, and the
#                                cifar10 part skips)
#   DIR/scripts/bench_torch.py   PyTorch's side of the throughput part
# There: carry DIR, then from the repository root `bash DIR/gpu-check.sh --out $OUT`.
# Prints the kit's size; exits 1 if a binary is missing or the kit is over 48 MiB, 2 on bad arguments.
set -uo pipefail

limit_mib=48
here=$(cd "$(dirname "$0")" && pwd)
build=1 out=gpu-kit
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --out) [ $# -ge 2 ] && [ -n "$2" ] || { echo "pack-device: --out needs a folder" >&2; exit 2; }
           out=$2; shift 2 ;;
    *) echo "pack-device: unknown argument '$1' (expected --no-build, --out DIR)" >&2; exit 2 ;;
  esac
done
if [ -f Makefile ] && [ -d engine ]; then root=$PWD; else root=$(cd "$here/.." && pwd); fi
cd "$root" || exit 1
case "$out" in /*) ;; *) out="$root/$out" ;; esac
[ "$(cd "$(dirname "$out")" 2>/dev/null && pwd)/$(basename "$out")" != "$root" ] || { echo "pack-device: --out must not be the tree itself" >&2; exit 2; }
if [ -e "$out" ] && [ ! -f "$out/kit-info.txt" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "pack-device: $out exists and is not a kit (no kit-info.txt): not overwriting it" >&2
  exit 2
fi

if [ "$build" = 1 ]; then
  echo "pack-device: make -j2 all in $root"
  make -j2 all >/tmp/pack-device-build.log 2>&1 || { tail -n 30 /tmp/pack-device-build.log; echo "pack-device: the build failed (log: /tmp/pack-device-build.log)" >&2; exit 1; }
fi

rm -rf "$out"
mkdir -p "$out/build/tests" "$out/include/stb" "$out/include/doctest" "$out/lib" "$out/scripts"
missing=()

# The binaries: ./train, every test binary make builds (a test_ source but test_main) but the
# emulated one, the rank program, the benchmarks.
binaries=(train build/tests/mpi_ranks)
for source in tests/test_*.cu tests/test_*.cpp; do
  name=$(basename "${source%.*}")
  [ "$name" = test_main ] || binaries+=("build/tests/$name")
done
for b in build/bench_* build/comm_bench; do
  [ -f "$b" ] && [ -x "$b" ] && [[ $(basename "$b") != *.* ]] && binaries+=("$b")
done
for b in "${binaries[@]}"; do
  if [ -f "$b" ] && [ -x "$b" ]; then cp -p "$b" "$out/$b"; else missing+=("$b"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "pack-device: not built: ${missing[*]} (run without --no-build)" >&2
  exit 1
fi

# Stripped of their host symbols (which compute-sanitizer's and a crash's host frames name) only
# if the kit would be over its limit otherwise; the device code is a section that strip keeps.
kit_bytes() { find "$out" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
strip_binaries() {
  local b
  for b in "${binaries[@]}"; do strip "$out/$b" || return 1; done
  timeout 60 "$out/train" --print-params >/dev/null 2>&1 ||
    { echo "pack-device: the stripped ./train does not start ($out/train --print-params)" >&2; return 1; }
  timeout 60 "$out/build/tests/test_runtime" -ltc >/dev/null 2>&1 ||
    { echo "pack-device: the stripped test_runtime does not start ($out/build/tests/test_runtime -ltc)" >&2; return 1; }
}

# The headers, found where the Makefile looks (and in EXTRA_INCLUDES' folders, e.g. .deps/include).
search=("${CUDA_HOME:-/usr/local/cuda}/include" /usr/include/x86_64-linux-gnu /usr/include)
for flag in ${EXTRA_INCLUDES:-}; do [[ $flag == -I* ]] && search+=("${flag#-I}"); done
for header in stb/stb_image.h stb/stb_image_write.h doctest/doctest.h; do
  found=
  for d in "${search[@]}"; do [ -f "$d/$header" ] && { found="$d/$header"; break; }; done
  [ -n "$found" ] || { echo "pack-device: $header not found in ${search[*]}: a rebuild there would fail" >&2; exit 1; }
  cp "$found" "$out/include/$header"
done

# Shared libraries the binaries load beyond those the GPU machine surely has (the C and C++
# runtime, and CUDA's, cuDNN's and NCCL's, which must match its driver): one compressed archive.
base='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libutil|libresolv|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libcudnn.*|libnccl|libnvrtc.*)\.so'
libs=$(for b in "${binaries[@]}"; do ldd "$b" 2>/dev/null; done | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
       grep -vE "$base")
if [ -n "$libs" ]; then
  staged=$(mktemp -d)
  while read -r name path; do cp -L "$path" "$staged/$name"; done <<<"$libs"
  (cd "$staged" && XZ_OPT=-9 tar cJf "$out/lib/libs.tar.xz" ./*) || { echo "pack-device: could not pack the libraries" >&2; exit 1; }
  rm -rf "$staged"
fi

# The CIFAR-10 archive for the cifar10 part.
archives=${DATA_ARCHIVES:-$root/../shared/data}
if [ -f "$archives/cifar10-jpg.tar.gz" ]; then
  mkdir -p "$out/data"
  cp "$archives/cifar10-jpg.tar.gz" "$out/data/"
else
  echo "pack-device: no cifar10-jpg.tar.gz in $archives (set DATA_ARCHIVES): the kit goes without it, and gpu-check's cifar10 part will skip"
fi

cp "$here/gpu-check.sh" "$out/gpu-check.sh"
cp "$here/bench_torch.py" "$out/scripts/bench_torch.py"

stripped="binaries not stripped"
if [ "$(kit_bytes)" -gt $((limit_mib * 1048576)) ]; then
  strip_binaries || exit 1
  stripped="binaries stripped"
fi

# What the kit was built from and for: gpu-check compares the instruction sets with the machine's.
simd='^(sse4_1|sse4_2|avx|avx2|fma|f16c|bmi1|bmi2|avx512f|avx512dq|avx512cd|avx512bw|avx512vl|avx512ifma|avx512vbmi|avx512_vbmi2|avx512_vnni|avx512_bitalg|avx512_vpopcntdq)$'
{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "packed: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "host_arch: $(grep -oE -- '-march=[^ "]+' build/flags.txt 2>/dev/null | head -n 1)"
  echo "cpu_flags: $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | tr ' ' '\n' | grep -E "$simd" | tr '\n' ' ')"
  echo "libraries: $(tar tJf "$out/lib/libs.tar.xz" 2>/dev/null | sed 's|^\./||' | tr '\n' ' ')"
  echo "files:"
  (cd "$out" && find . -type f ! -name kit-info.txt -printf '%s %P\n' | sort -k2 | awk '{ printf "  %9.1f KiB  %s\n", $1 / 1024, $2 }')
} >"$out/kit-info.txt"

bytes=$(kit_bytes)
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "pack-device: $out: $(find "$out" -type f | wc -l) files, $mib MiB ($stripped; limit $limit_mib MiB)"
if [ "$bytes" -gt $((limit_mib * 1048576)) ]; then
  echo "pack-device: the kit is over $limit_mib MiB" >&2
  exit 1
fi
echo "pack-device: there, carry $(basename "$out") and run from the repository root: bash $(basename "$out")/gpu-check.sh --out \$OUT"
