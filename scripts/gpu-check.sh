#!/usr/bin/env bash
# shellcheck disable=SC2317  # the parts are called by name: part_${name//-/_}
# Everything that needs a GPU, in one call of at most 8 minutes (480 s) on a borrowed machine, from
# the kit scripts/pack-device.sh gathers: no build there unless a binary or a library is missing.
#
# Usage, on the GPU machine, from the repository root (its copy of the tree), the kit carried:
#   bash gpu-kit/gpu-check.sh --out $OUT              the probe, then every part below in order
#   bash gpu-kit/gpu-check.sh --out $OUT --only nccl,cifar10   the probe, then only these (after a fix)
#   bash scripts/gpu-check.sh --plan                  the parts and their budgets; runs nothing, no GPU needed
# Options: --out DIR (default $OUT, else /tmp/gpu-check-out); --kit DIR (default: this script's
#   folder when it holds a kit, else gpu-kit/ under the repository root); --plan; --only PART[,PART].
#
# Working directory: the repository root, as under make test: the test binaries look for ./train
# there, and run build/comm_bench and scripts/*.sh from there. Each binary the parts need (./train,
# build/tests/test_*) is the tree's own where one was built there and is newer than the kit's, else
# a link to the kit's (./train -> gpu-kit/train, build/tests/test_conv -> gpu-kit/build/...).
# One that neither has is built (make -j16 EXTRA_INCLUDES=-I<kit>/include <what is missing>); all
# of them are rebuilt when a library stays missing or this CPU lacks an instruction set the kit
# was compiled for. A rebuild's time comes out of the 480 s like any part's.
#
# Each part has a budget (the table below, which --plan prints): it starts only if that much of
# the 480 s is left (else "skipped: N s left, budget M s"), and every command in it runs under
# `timeout` to the part's end. Every ./train gets --comm-timeout 60 or less, --overwrite and its own
# run folder under a temporary folder. The test parts run the GPU cases only: those that a binary
# lists with the GPU visible (-ltc) and not with CUDA_VISIBLE_DEVICES= (`* REQUIRES_GPU`), so a
# case added later is run too; a binary without doctest's closing line crashed, and fails.
#
# Writes DIR/summary.txt (the table, rewritten after each part), DIR/gpu-check.log (everything
# printed) and DIR/gpu-check-logs.tar.gz (one log per part and per binary; they are written to
# DIR/logs/ while running and folded into the archive at the end, since the device machine returns
# at most 8 files). Exit status: 0 no part failed, 1 one did, 2 bad arguments or no GPU.
set -uo pipefail

TOTAL=480
# part  budget(s)  what it checks. The order is first-failure-first; the probe always runs.
PLAN=(
  "probe         10  GPU, driver, libraries (ldd ./train; cuDNN/NCCL from Python wheels where the system has none), mpirun, compute-sanitizer"
  "conv          40  test_conv: the cuDNN convolution cases (float32 and bf16) and the bf16 conversions"
  "engine        40  test_batchnorm, test_ops, test_runtime: every other op's GPU case (batchnorm, pooling, linear, ...)"
  "binaries      70  the GPU cases of the other test binaries, each its own log"
  "graphs-test   30  test_train: CUDA-graph replay gives eager execution's losses"
  "throughput    80  ./train ResNet18 batch 128 fp32, tf32, bf16 beside bench_torch.py: img/s and ratio"
  "graphs-equal  40  8 LIEC-SGD workers --deterministic, --cuda-graphs off vs on: equal losses in metrics.jsonl"
  "nccl          30  mpirun -np 1 ./train --comm nccl 20 steps, graphs on; -np 2 on one GPU refused"
  "sanitizer     70  memcheck on 6 fp32 ./train steps; racecheck on test_batchnorm's GPU cases (batchnorm, pooling, bf16)"
  "cifar10       45  the carried CIFAR-10 JPEGs: 3 epochs ResNet18 batch 512 bf16, test accuracy"
  "host-waits    25  test_runtime: CUDA work that does not finish ends the wait through the context's watch"
)
NAMES=()
declare -A BUDGET DESC
for row in "${PLAN[@]}"; do
  read -r name budget desc <<<"$row"
  NAMES+=("$name")
  BUDGET[$name]=$budget
  DESC[$name]=$desc
done

usage_error() { echo "gpu-check: $1 (usage: gpu-check.sh [--out DIR] [--kit DIR] [--plan] [--only PART[,PART]])" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/gpu-check-out} kit='' plan=0 only=''
while [ $# -gt 0 ]; do
  case "$1" in
    --out|--kit|--only) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value" ;;&
    --out) out=$2; shift 2 ;;
    --kit) kit=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --plan) plan=1; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
SELECTED=()
if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"$only"
  for w in "${wanted[@]}"; do [ -n "${BUDGET[$w]+set}" ] || usage_error "unknown part '$w' (parts: ${NAMES[*]})"; done
  for name in "${NAMES[@]}"; do
    [ "$name" = probe ] && continue
    for w in "${wanted[@]}"; do [ "$w" = "$name" ] && SELECTED+=("$name"); done
  done
else
  SELECTED=("${NAMES[@]:1}")
fi

if [ "$plan" = 1 ]; then
  sum=0
  for name in "${NAMES[@]}"; do sum=$((sum + BUDGET[$name])); done
  echo "gpu-check plan: ${#NAMES[@]} parts, budgets adding up to $sum s of $TOTAL s; a part starts only if its budget is left"
  for name in "${NAMES[@]}"; do printf "  %-12s %4d s  %s\n" "$name" "${BUDGET[$name]}" "${DESC[$name]}"; done
  echo "total: $sum s"
  exit 0
fi

# Every part needs a GPU: without one, say so at once.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "gpu-check: no GPU here (nvidia-smi is missing or lists none); every part needs one" >&2
  exit 2
fi

# The repository root is the working directory (see the header); the kit is found from there.
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
case "$kit" in /*|'') ;; *) kit=$PWD/$kit ;; esac
if [ -f Makefile ] && [ -d tests ]; then ROOT=$PWD; else ROOT=$(cd "$here/.." && pwd); fi
cd "$ROOT" || exit 2
if [ -z "$kit" ]; then
  if [ -f "$here/kit-info.txt" ]; then kit=$here; elif [ -d gpu-kit ]; then kit='gpu-kit'; else kit=''; fi
fi
[ -z "$kit" ] || [ -d "$kit" ] || usage_error "no kit folder '$kit'"
[ -z "$kit" ] || KIT=$(cd "$kit" && pwd)
KIT=${KIT:-}
mkdir -p "$out" || usage_error "cannot write to '$out'"
OUTDIR=$(cd "$out" && pwd)
LOGS=$OUTDIR/logs
rm -rf "$LOGS" "$OUTDIR/gpu-check-logs.tar.gz" "$OUTDIR/summary.txt" "$OUTDIR/gpu-check.log"
mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
exec > >(tee -a "$OUTDIR/gpu-check.log") 2>&1
TEE=$!

# ---------------------------------------------------------------------------------------------
# Helpers. A part sets `verdict` (PASS, FAIL or SKIP) and `figure` (its key figure); `deadline` is
# when its budget ends, in $SECONDS.

left() { local s=$((deadline - SECONDS)); echo $((s > 1 ? s : 1)); }
limit() { timeout --kill-after=5 "$(left)" "$@"; }   # a command, stopped at the part's end

why() {  # an exit status, in words
  case "$1" in
    124) echo "timed out" ;;
    137) echo "killed (time limit or memory)" ;;
    132) echo "illegal instruction: rebuild here (make -j16 EXTRA_INCLUDES=-I$KIT/include)" ;;
    134) echo "aborted" ;;
    139) echo "segmentation fault" ;;
    *) echo "exit status $1" ;;
  esac
}

# The names of a test binary's test cases, one a line (doctest -ltc).
list_cases() {
  limit "$@" -ltc --no-colors 2>/dev/null |
    awk '/listing all test case names/ { state = 1; next }
         state == 1 && /^=====/ { state = 2; next }
         state == 2 && /^=====/ { exit }
         state == 2 { print }'
}

# A binary's GPU cases: listed with the GPU visible, not without it (cached per binary).
gpu_cases() {
  local cache
  cache="$WORK/cases-$(basename "$1")"
  if [ ! -f "$cache" ]; then
    list_cases "$1" >"$cache.all"
    CUDA_VISIBLE_DEVICES='' list_cases "$1" >"$cache.cpu"
    grep -vxF -f "$cache.cpu" "$cache.all" >"$cache"
  fi
  cat "$cache"
}

# Names on stdin as one doctest -tc filter (a comma separates filters; '*' matches it in a name).
tc_filter() { sed 's/,/*/g' | paste -sd, -; }

# Runs a test binary's cases into a log and adds its counts to the part's tally (passed, failed,
# broken: binaries that crashed, timed out or exited non-zero without a failed case).
passed=0 failed=0 broken=0 broke=''
doctest_run() {  # log binary args...
  local log=$1 bin=$2 rc line p f
  shift
  limit "$@" --no-colors >"$log" 2>&1
  rc=$?
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    broke=$(why "$rc")
    echo "  $(basename "$bin"): no doctest summary ($broke); log $(basename "$log")"
    broken=$((broken + 1))
    return 1
  fi
  p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed + p)) failed=$((failed + f))
  echo "  $(basename "$bin"): $p passed, $f failed"
  grep -E '^[^ ].*(ERROR|FATAL ERROR): ' "$log" | sort -u | head -n 5 | sed 's/^/    /'
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    broke="$(why "$rc") with no failed case"
    echo "  $(basename "$bin"): $broke"
    broken=$((broken + 1))
  fi
  [ "$rc" -eq 0 ]
}

tally() {  # the verdict and key figure of a test part
  figure="$passed passed $failed failed"
  if [ "$broken" -gt 0 ]; then figure="$figure, $broken binary broken ($broke)"
  elif [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then figure="$figure (no case ran)"; fi
  if [ "$failed" -eq 0 ] && [ "$broken" -eq 0 ] && [ "$passed" -gt 0 ]; then verdict=PASS; else verdict=FAIL; fi
}

# The test binaries of the engine's ops and services, whose GPU cases the conv, engine and
# host-waits parts run (the binaries part runs the others').
ENGINE_TESTS=(test_conv test_batchnorm test_ops test_runtime)

# Runs the GPU cases of one test binary chosen by a grep (-E PATTERN, or -v -E PATTERN).
gpu_cases_of() {  # log binary grep-args...
  local log=$1 bin=$2 filter
  shift 2
  filter=$(gpu_cases "build/tests/$bin" | grep "$@" | tc_filter)
  if [ -z "$filter" ]; then echo "  $bin: no GPU case matched"; return; fi
  doctest_run "$log" "build/tests/$bin" -tc="$filter"
}

# Common ./train flags, in RUN: a short wait for peers (60 s unless given), a run folder of its own.
run_flags() { RUN=(--comm-timeout "${2:-60}" --overwrite --run-dir "$WORK/runs/$1"); }

# The value of a field in the last line of a metrics.jsonl that has it.
last_field() {  # file field
  grep "\"$2\": " "$1" 2>/dev/null | tail -n 1 | sed -nE "s/.*\"$2\": ([-+0-9.eE]+).*/\1/p"
}

# ---------------------------------------------------------------------------------------------
# The probe: the GPU, the libraries, the tools; the binaries in place; a build only if needed.

NEEDED=()  # ./train and every test binary make builds, but the CPU-only emulated one
for source in tests/test_*.cu tests/test_*.cpp; do
  name=$(basename "${source%.*}")
  [ "$name" = test_main ] || NEEDED+=("build/tests/$name")
done
NEEDED+=(train build/tests/mpi_ranks)
EXTRAS=()  # the benchmarks: linked where the kit has them, for a run by hand; never built here
if [ -n "$KIT" ]; then
  for b in "$KIT"/build/bench_* "$KIT/build/comm_bench"; do [ -f "$b" ] && EXTRAS+=("${b#"$KIT"/}"); done
fi

# Puts each binary in place: the tree's own if it is newer than the kit's (or the kit has none),
# else a link to the kit's. Prints those that neither has.
place_binaries() {  # paths...
  local p
  for p in "$@"; do
    [ -L "$p" ] && rm -f "$p"
    if [ -f "$p" ] && { [ -z "$KIT" ] || [ ! -f "$KIT/$p" ] || [ "$p" -nt "$KIT/$p" ]; }; then
      continue
    elif [ -n "$KIT" ] && [ -f "$KIT/$p" ]; then
      mkdir -p "$(dirname "$p")"
      ln -sfn "$KIT/$p" "$p"
    else
      echo "$p"
    fi
  done
}

# Libraries the binaries cannot find, one name a line (ldd's "not found", and a missing version).
missing_libs() {
  local p
  for p in train build/tests/test_runtime; do [ -e "$p" ] && ldd "$p" 2>&1; done |
    sed -nE 's/^\s*(\S+) => not found.*/\1/p; s/.*version .(\S+). not found.*/\1/p' | sort -u
}

# Where missing libraries can be found: the Python wheels' nvidia/ folders (cuDNN, NCCL, cuBLAS
# there when the system has none), then the kit's archive (oneDNN, OpenMPI's, ...).
find_libs() {
  local lib found d wheels
  wheels=$(timeout 20 python3 -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null)
  mkdir -p "$WORK/lib" "$WORK/bundled"
  [ -n "$KIT" ] && [ -f "$KIT/lib/libs.tar.xz" ] && tar xJf "$KIT/lib/libs.tar.xz" -C "$WORK/bundled" 2>/dev/null
  for _ in 1 2 3; do
    local added=0
    for lib in $(missing_libs); do
      found=
      for d in $wheels; do
        found=$(find "$d" -maxdepth 4 -name "$lib" 2>/dev/null | head -n 1)
        [ -n "$found" ] && break
      done
      if [ -n "$found" ]; then
        d=$(dirname "$found")
        case ":${LD_LIBRARY_PATH:-}:" in *":$d:"*) ;; *)
          export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
          echo "  $lib: from $d (LD_LIBRARY_PATH)"; added=1 ;;
        esac
      elif [ -f "$WORK/bundled/$lib" ] && [ ! -e "$WORK/lib/$lib" ]; then
        ln -s "$WORK/bundled/$lib" "$WORK/lib/$lib"
        echo "  $lib: the kit's copy (lib/libs.tar.xz)"
        added=1
      fi
    done
    case ":${LD_LIBRARY_PATH:-}:" in *":$WORK/lib:"*) ;; *) export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;; esac
    [ "$added" = 1 ] || break
  done
  # cuDNN from a wheel compiles some engines at run time with NVRTC: from a wheel too if need be.
  if ldd train 2>/dev/null | grep -q 'libcudnn.*site-packages' && ! ldconfig -p | grep -q 'libnvrtc.so.13'; then
    found=$(for d in $wheels; do find "$d" -maxdepth 4 -name 'libnvrtc.so.13*' 2>/dev/null; done | head -n 1)
    [ -z "$found" ] || LD_LIBRARY_PATH="$(dirname "$found"):$LD_LIBRARY_PATH"
  fi
}

# Instruction sets the kit's host code may use that this CPU lacks (a -march=native build only).
missing_isa() {
  [ -n "$KIT" ] && grep -q '^host_arch: -march=native' "$KIT/kit-info.txt" 2>/dev/null || return 0
  local here_flags
  here_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2-) "
  for f in $(sed -n 's/^cpu_flags: //p' "$KIT/kit-info.txt"); do
    [[ $here_flags == *" $f "* ]] || echo "$f"
  done
}

# Builds what is missing (or everything needed) with the kit's headers, and the cuDNN and NCCL
# headers and libraries of the Python wheels where the system has none.
rebuild() {  # targets...
  local includes="-I${KIT:-.deps}/include" libs='' d h cuda_home=${CUDA_HOME:-/usr/local/cuda} jobs
  [ -x "$cuda_home/bin/nvcc" ] || { command -v nvcc >/dev/null && cuda_home=$(dirname "$(dirname "$(command -v nvcc)")"); }
  mkdir -p "$WORK/devlib"
  for h in cudnn nccl; do
    [ -f "$cuda_home/include/$h.h" ] || [ -f "/usr/include/$h.h" ] || [ -f "/usr/include/x86_64-linux-gnu/$h.h" ] || {
      d=$(timeout 20 python3 -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null | head -n 1)
      [ -n "$d" ] && [ -f "$d/$h/include/$h.h" ] && includes="$includes -I$d/$h/include"
      [ -n "$d" ] && for so in "$d/$h/lib/lib$h".so.*; do [ -f "$so" ] && ln -sfn "$so" "$WORK/devlib/lib$h.so"; done
    }
  done
  [ -z "$(ls -A "$WORK/devlib")" ] || libs="-L$WORK/devlib"
  for t in "$@"; do [ -L "$t" ] && rm -f "$t"; done
  jobs=$(nproc)
  echo "  make -j$jobs CUDA_HOME=$cuda_home EXTRA_INCLUDES='$includes' EXTRA_LIBS='$libs' $*"
  timeout --kill-after=5 $((TOTAL - SECONDS > 30 ? TOTAL - SECONDS - 20 : 10)) \
    make -j"$jobs" CUDA_HOME="$cuda_home" EXTRA_INCLUDES="$includes" EXTRA_LIBS="$libs" "$@" >"$LOGS/build.log" 2>&1
}

part_probe() {
  local log=$LOGS/probe.log gpu missing isa sanitizer_note rc
  gpu=$(timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n 1)
  echo "  GPU: $gpu ($(timeout 20 nvidia-smi -L | wc -l) visible); CPU: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  [ -z "$KIT" ] && echo "  kit: none (the tree's own binaries)" || echo "  kit: $KIT, $(grep -m1 '^commit:' "$KIT/kit-info.txt" 2>/dev/null)"
  missing=$(place_binaries "${NEEDED[@]}")
  place_binaries "${EXTRAS[@]}" >/dev/null
  find_libs
  isa=$(missing_isa | paste -sd' ')
  local libs_missing
  libs_missing=$(missing_libs | paste -sd' ')
  if [ -n "$missing" ] || [ -n "$libs_missing" ] || [ -n "$isa" ]; then
    local targets=()
    if [ -n "$libs_missing" ] || [ -n "$isa" ]; then
      [ -z "$libs_missing" ] || echo "  libraries missing: $libs_missing: rebuilding here"
      [ -z "$isa" ] || echo "  this CPU lacks $isa, which the kit's -march=native code may use: rebuilding here"
      targets=("${NEEDED[@]}")
    else
      read -r -a targets <<<"$(tr '\n' ' ' <<<"$missing")"
      echo "  not in the kit nor built here: ${targets[*]}: building"
    fi
    local start=$SECONDS
    rebuild "${targets[@]}"
    rc=$?
    if [ "$rc" -eq 0 ]; then echo "  build: done in $((SECONDS - start)) s (log build.log)"
    else echo "  build: $(why "$rc") after $((SECONDS - start)) s (log build.log)"; tail -n 15 "$LOGS/build.log" | sed 's/^/    /'; fi
    missing=$(place_binaries "${NEEDED[@]}")
    libs_missing=$(missing_libs | paste -sd' ')
  fi
  command -v compute-sanitizer >/dev/null || for d in "${CUDA_HOME:-/usr/local/cuda}/bin" /usr/local/cuda/compute-sanitizer; do
    [ -x "$d/compute-sanitizer" ] && export PATH="$PATH:$d" && break
  done
  {
    echo "== nvidia-smi"; timeout 20 nvidia-smi
    echo "== kit"; [ -n "$KIT" ] && cat "$KIT/kit-info.txt"
    echo "== LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "== ldd ./train"; ldd ./train
    echo "== tools"
    for t in mpirun compute-sanitizer python3 nvcc ncu; do echo "$t: $(command -v "$t" || echo missing)"; done
    command -v mpirun >/dev/null && timeout 20 mpirun --version 2>&1 | head -n 1
    command -v compute-sanitizer >/dev/null && timeout 20 compute-sanitizer --version 2>&1 | tail -n 1
  } >"$log" 2>&1
  echo "  cuDNN: $(ldd ./train 2>/dev/null | awk '/libcudnn.so/ { print $3 }'); NCCL: $(ldd ./train 2>/dev/null | awk '/libnccl.so/ { print $3 }')"
  sanitizer_note=$(command -v compute-sanitizer || echo missing)
  echo "  mpirun: $(command -v mpirun || echo missing); compute-sanitizer: $sanitizer_note; python3: $(command -v python3 || echo missing)"
  verdict=PASS
  figure="${gpu:-no GPU name}"
  if [ -n "$missing" ]; then verdict=FAIL; figure="missing: $(tr '\n' ' ' <<<"$missing")"; fi
  if [ -n "$libs_missing" ]; then verdict=FAIL; figure="libraries missing: $libs_missing"; fi
  if [ "$verdict" = PASS ]; then
    timeout 60 ./train --device cuda --print-params >"$WORK/params.out" 2>&1
    rc=$?
    cat "$WORK/params.out" >>"$log"
    if [ "$rc" -ne 0 ]; then
      verdict=FAIL
      figure="./train --device cuda --print-params: $(why "$rc"): $(tail -n 1 "$WORK/params.out" | cut -c1-80)"
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
# The parts.

part_conv() {
  gpu_cases_of "$LOGS/conv.log" test_conv -E '.'
  tally
}

part_engine() {
  local bin
  for bin in test_batchnorm test_ops test_runtime; do
    gpu_cases_of "$LOGS/engine-$bin.log" "$bin" -v -E '^host waits'
  done
  tally
}

part_binaries() {
  local p b name filter
  for p in "${NEEDED[@]}"; do
    b=$(basename "$p")
    [[ $p == build/tests/test_* ]] && [[ " ${ENGINE_TESTS[*]} test_kernels_emulated " != *" $b "* ]] || continue
    filter=$(gpu_cases "$p" | grep -v 'CUDA-graph replay' | tc_filter)
    if [ -z "$filter" ]; then echo "  $b: no GPU case"; continue; fi
    doctest_run "$LOGS/binaries-$b.log" "$p" -tc="$filter"
  done
  tally
}

part_graphs_test() {
  local filter
  filter=$(gpu_cases build/tests/test_train | grep 'CUDA-graph replay' | tc_filter)
  if [ -z "$filter" ]; then
    echo "  test_train: no GPU case named 'CUDA-graph replay ...'"
  else
    doctest_run "$LOGS/graphs-test.log" build/tests/test_train -tc="$filter"
  fi
  tally
}

part_throughput() {
  local log=$LOGS/throughput.log torch_py p ours theirs r figures=() bad=0 layout
  torch_py=scripts/bench_torch.py
  [ -n "$KIT" ] && [ -f "$KIT/scripts/bench_torch.py" ] && torch_py=$KIT/scripts/bench_torch.py
  printf "  %-9s %12s %12s %7s\n" precision "ours img/s" "torch img/s" ratio
  for p in fp32 tf32 bf16; do
    # Ours: the last of 2 log intervals of 100 steps (the first holds cuDNN's search and the capture).
    echo "== ours $p" >>"$log"
    run_flags "throughput-$p"
    limit ./train --device cuda --dataset synthetic --model resnet18 --batch-size 128 --precision "$p" \
      --steps 200 --log-every 100 --eval-every 1000000 "${RUN[@]}" >>"$log" 2>&1
    ours=$(last_field "$WORK/runs/throughput-$p/metrics.jsonl" images_per_s)
    [ -n "$ours" ] || { ours=failed; bad=1; }
    echo "== torch $p" >>"$log"
    layout=()
    [ "$p" = bf16 ] && layout=(--channels-last)  # PyTorch's fastest bf16 setting, as in bench_train.sh
    limit python3 "$torch_py" --model resnet18 --batch 128 --precision "$p" --steps 200 "${layout[@]}" >"$WORK/torch.out" 2>&1
    cat "$WORK/torch.out" >>"$log"
    theirs=$(sed -nE 's/.*images_per_s=([0-9.]+).*/\1/p' "$WORK/torch.out")
    [ -n "$theirs" ] || theirs="no torch"
    r=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
    printf "  %-9s %12s %12s %7s\n" "$p" "${ours%.*}" "${theirs%.*}" "$r" | tee -a "$log"
    figures+=("$p ${ours%.*}/${theirs%.*} $r")
  done
  if [ "$bad" = 0 ]; then verdict=PASS; else verdict=FAIL; fi
  figure="ours/torch img/s: ${figures[0]}, ${figures[1]}, ${figures[2]}"
}

# "step loss test_loss" of each line of a metrics.jsonl, as written.
losses() {
  awk '{ out = ""; s = $0
         while (match(s, /"(step|loss|test_loss)": [^,}]+/)) { out = out " " substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) }
         if (out ~ /loss/) print substr(out, 2) }' "$1" 2>/dev/null
}

part_graphs_equal() {
  local log=$LOGS/graphs-equal.log g rc ok=1 graphs_line=
  for g in off on; do
    echo "== --cuda-graphs $g" >>"$log"
    run_flags "graphs-$g"
    limit ./train --device cuda --dataset synthetic --workers 8 --algo liec --compressor sign --deterministic \
      --cuda-graphs "$g" --seed 7 --batch-size 64 --steps 60 --log-every 20 --eval-every 4 "${RUN[@]}" >>"$log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || { echo "  --cuda-graphs $g: $(why "$rc")"; ok=0; }
  done
  graphs_line=$(grep -m1 '^cuda graphs:' <(sed -n '/== --cuda-graphs on/,$p' "$log"))
  echo "  graphs on: ${graphs_line:-no 'cuda graphs:' line}"
  losses "$WORK/runs/graphs-off/metrics.jsonl" >"$WORK/losses-off"
  losses "$WORK/runs/graphs-on/metrics.jsonl" >"$WORK/losses-on"
  local lines
  lines=$(wc -l <"$WORK/losses-on")
  if [ "$ok" = 1 ] && [ "$lines" -gt 0 ] && cmp -s "$WORK/losses-off" "$WORK/losses-on"; then
    verdict=PASS figure="losses equal over $lines lines"
  elif [ "$ok" = 1 ] && [ "$lines" -gt 0 ]; then
    verdict=FAIL figure="losses differ: $(diff "$WORK/losses-off" "$WORK/losses-on" | grep -m1 '^[<>]' | cut -c1-60)..."
    diff "$WORK/losses-off" "$WORK/losses-on" | head -n 6 | sed 's/^/    /'
  else
    verdict=FAIL figure="a run failed (log graphs-equal.log)"
  fi
  if [ "$verdict" = PASS ] && [[ $graphs_line != "cuda graphs: on"* ]]; then
    verdict=FAIL figure="losses equal, but graphs were not replayed: ${graphs_line#cuda graphs: }"
  fi
}

part_nccl() {
  local log=$LOGS/nccl.log rc out1=PASS refusal graphs_line
  if ! command -v mpirun >/dev/null; then verdict=SKIP figure="no mpirun here"; return; fi
  echo "== mpirun -np 1 --comm nccl" >>"$log"
  run_flags nccl1 30
  limit mpirun --allow-run-as-root -np 1 ./train --comm nccl --device cuda --cuda-graphs on --steps 20 --log-every 10 \
    --batch-size 64 --eval-every 1000000 "${RUN[@]}" >>"$log" 2>&1
  rc=$?
  graphs_line=$(grep -m1 '^cuda graphs:' "$log")
  if [ "$rc" -ne 0 ]; then out1="FAIL ($(why "$rc"))"; fi
  echo "  one rank, 20 steps: $out1; ${graphs_line:-no 'cuda graphs:' line}"
  echo "== mpirun -np 2 --comm nccl on one GPU (must be refused)" >>"$log"
  run_flags nccl2 30
  limit mpirun --allow-run-as-root --oversubscribe -np 2 ./train --comm nccl --device cuda --steps 1 \
    "${RUN[@]}" >"$WORK/nccl2.out" 2>&1
  rc=$?
  cat "$WORK/nccl2.out" >>"$log"
  # The refusal names the shared GPU (comm/nccl.cpp); another error is not the refusal.
  refusal=$(grep -m1 -E 'share GPU|one GPU per rank' "$WORK/nccl2.out" | cut -c1-70)
  if [ "$rc" -eq 0 ]; then
    refusal="ran instead of being refused"
  elif [ -n "$refusal" ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
    refusal="refused: $refusal"
  else
    refusal="not refused but stopped ($(why "$rc")): $(grep -m1 -i 'error' "$WORK/nccl2.out" | cut -c1-60)"
  fi
  echo "  two ranks on one GPU: $refusal"
  if [ "$out1" = PASS ] && [[ $refusal == refused:* ]]; then verdict=PASS; else verdict=FAIL; fi
  figure="1 rank: ${out1%% *}, 2 ranks: ${refusal:0:50}"
}

part_sanitizer() {
  local san mlog=$LOGS/sanitizer-memcheck.log rlog=$LOGS/sanitizer-racecheck.log rc mem race filter
  san=$(command -v compute-sanitizer) || { verdict=SKIP figure="no compute-sanitizer here"; return; }
  # memcheck: a few fp32 steps of 2 LIEC-SGD workers (compressors, graph capture and replay), leaving
  # 25 s for racecheck.
  run_flags memcheck
  timeout --kill-after=5 $(($(left) > 40 ? $(left) - 25 : 15)) "$san" --tool memcheck --error-exitcode 9 \
    ./train --device cuda --dataset synthetic --width 16 --workers 2 --algo liec --period 4 --compressor sign \
    --batch-size 16 --steps 6 --log-every 3 --test-subset 160 --precision fp32 "${RUN[@]}" >"$mlog" 2>&1
  rc=$?
  if grep -qiE 'device not supported|not supported on this device' "$mlog"; then
    verdict=SKIP figure="compute-sanitizer does not support this device (e.g. under gVisor)"
    return
  fi
  mem=$(grep -m1 -oE 'ERROR SUMMARY: [0-9]+ errors?' "$mlog")
  if [ "$rc" -eq 0 ] && [ -n "$mem" ]; then mem="memcheck ${mem#ERROR SUMMARY: }"; else mem="memcheck FAIL (${mem:-$(why "$rc")})"; fi
  echo "  $mem"
  # racecheck: shared-memory hazards in the batchnorm, pooling and bf16 activation cases (every GPU
  # case of test_batchnorm, which also runs pooling and add on bf16 NHWC activations).
  filter=$(gpu_cases build/tests/test_batchnorm | tc_filter)
  if [ -z "$filter" ]; then
    race="racecheck FAIL (no GPU case found in test_batchnorm)"
  else
    limit "$san" --tool racecheck --error-exitcode 9 build/tests/test_batchnorm -tc="$filter" --no-colors >"$rlog" 2>&1
    rc=$?
    local hazards cases
    hazards=$(grep -m1 -oE 'RACECHECK SUMMARY: [0-9]+ hazards?' "$rlog" | grep -oE '[0-9]+')
    cases=$(grep -m1 -E '^\[doctest\] test cases:' "$rlog" | sed -E 's/.*\| *([0-9]+) passed.*\| *([0-9]+) failed.*/\1 passed \2 failed/')
    if [ "$rc" -eq 0 ] && [ -n "$cases" ] && [ "${hazards:-0}" -eq 0 ]; then race="racecheck 0 hazards ($cases)"
    else race="racecheck FAIL (${hazards:-?} hazards, ${cases:-$(why "$rc")})"; fi
  fi
  echo "  $race"
  if [[ $mem == *FAIL* ]] || [[ $race == *FAIL* ]]; then verdict=FAIL; else verdict=PASS; fi
  figure="$mem, $race"
}

part_cifar10() {
  local log=$LOGS/cifar10.log archive='' rc acc speed
  for archive in "${KIT:-/nonexistent}/data/cifar10-jpg.tar.gz" "${DATA_ARCHIVES:-../shared/data}/cifar10-jpg.tar.gz" ""; do
    [ -f "$archive" ] && break
  done
  if [ -z "$archive" ]; then verdict=SKIP figure="no cifar10-jpg.tar.gz in the kit"; return; fi
  mkdir -p "$WORK/cifar10"
  limit tar xzf "$archive" -C "$WORK/cifar10" || { verdict=FAIL figure="could not unpack $archive"; return; }
  run_flags cifar10
  limit ./train --device cuda --dataset cifar10 --data-dir "$WORK/cifar10" --model resnet18 --batch-size 512 \
    --precision bf16 --epochs 3 --lr 0.1 --lr-schedule cosine --log-every 20 "${RUN[@]}" >"$log" 2>&1
  rc=$?
  acc=$(last_field "$WORK/runs/cifar10/metrics.jsonl" test_acc)
  speed=$(last_field "$WORK/runs/cifar10/metrics.jsonl" images_per_s)
  acc=$(awk -v a="$acc" 'BEGIN { if (a == "") print ""; else printf "%.1f", (a <= 1 ? 100 * a : a) }')
  grep -E '"test_acc"' "$WORK/runs/cifar10/metrics.jsonl" 2>/dev/null | sed 's/^/  /' | cut -c1-150
  figure="test acc ${acc:-none}% after $(grep -c '"test_acc"' "$WORK/runs/cifar10/metrics.jsonl" 2>/dev/null || echo 0) of 3 epochs"
  [ -z "$speed" ] || figure="$figure, ${speed%.*} img/s"
  if [ "$rc" -eq 0 ] && [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 35) }'; then verdict=PASS
  else verdict=FAIL; [ "$rc" -eq 0 ] || figure="$figure ($(why "$rc"))"; fi
}

part_host_waits() {
  gpu_cases_of "$LOGS/host-waits.log" test_runtime -E '^host waits'
  tally
}

# ---------------------------------------------------------------------------------------------
# The run: the probe, then each selected part if its budget is left; the table after each.

declare -A VERDICT SECS FIGURE
write_summary() {
  {
    printf "%-13s %-7s %7s  %s\n" part verdict seconds "key figure"
    for name in probe "${SELECTED[@]}"; do
      [ -n "${VERDICT[$name]+set}" ] || continue
      printf "%-13s %-7s %7s  %s\n" "$name" "${VERDICT[$name]}" "${SECS[$name]}" "${FIGURE[$name]}"
    done
  } >"$OUTDIR/summary.txt"
}

run_part() {
  local name=$1 start=$SECONDS
  verdict=FAIL figure='' passed=0 failed=0 broken=0 broke=''
  deadline=$((SECONDS + BUDGET[$name]))
  echo "== $name (budget ${BUDGET[$name]} s, $((TOTAL - SECONDS)) s left)"
  "part_${name//-/_}"
  VERDICT[$name]=$verdict SECS[$name]=$((SECONDS - start)) FIGURE[$name]=$figure
  echo "-- $name: $verdict in $((SECONDS - start)) s: $figure"
  write_summary
}

echo "gpu-check: $(date -u '+%Y-%m-%d %H:%M UTC'), parts: ${SELECTED[*]}; logs in $OUTDIR"
run_part probe
for name in "${SELECTED[@]}"; do
  left_total=$((TOTAL - SECONDS))
  if [ "$left_total" -lt "${BUDGET[$name]}" ]; then
    echo "== $name skipped: $left_total s left, budget ${BUDGET[$name]} s"
    VERDICT[$name]=SKIP SECS[$name]=0 FIGURE[$name]="skipped: $left_total s left, budget ${BUDGET[$name]} s"
    write_summary
    continue
  fi
  run_part "$name"
done

(cd "$OUTDIR" && tar czf gpu-check-logs.tar.gz logs) && rm -rf "$LOGS"
status=0 counts=
for v in PASS:passed FAIL:failed SKIP:skipped; do
  n=0
  for name in probe "${SELECTED[@]}"; do [ "${VERDICT[$name]:-}" = "${v%%:*}" ] && n=$((n + 1)); done
  counts="$counts, $n ${v#*:}"
  [ "${v%%:*}" = FAIL ] && [ "$n" -gt 0 ] && status=1
done
echo "gpu-check: ${counts#, } in $SECONDS s; exit status $status" >>"$OUTDIR/summary.txt"
echo
echo "gpu-check summary (${FIGURE[probe]:-}; logs: $OUTDIR/gpu-check-logs.tar.gz):"
cat "$OUTDIR/summary.txt"
exec >&- 2>&-
wait "$TEE" 2>/dev/null
exit $status
