#!/usr/bin/env bash
# The experiments of the LIEC-SGD and Malcom-PSGD papers (settings: docs/algorithms.md, last
# section), by name: each run trains into RUNS_DIR/<name>/ (with command.txt, the exact command),
# then the results table and the plots are built from every finished run.
#
# Usage: scripts/reproduce.sh [--quick] [--list] [NAME|GROUP ...]      (default: all)
#   groups: cifar10 (13 runs), tinyimagenet (3), gossip (2), all (these three, on a GPU), and
#           cpu (11): the LIEC-SGD comparison at width 8 for 20 epochs on the CPU (README, Results)
#   --quick  a few epochs each (on a CPU: a width-8 network on 2048 images, synthetic data when the
#            real data is missing), into RUNS_DIR/quick/, to check the pipeline; its table goes to
#            RUNS_DIR/quick/results.md and nothing in docs/ or the README changes.
#   --list   the selected runs' names (default: all), each with its flags.
# Environment: CIFAR10_DIR (default data/cifar10), TINY_DIR (default data/tiny-imagenet-200),
#   RUNS_DIR (runs), DOCS_DIR (docs: the table, the plots, and each finished run's config.json,
#   metrics.jsonl and command.txt in DOCS_DIR/runs/<name>/), PIECE_SECONDS (after this long,
#   SIGTERM asks ./train to save a checkpoint and stop; the next call resumes from it: how a run
#   longer than one sitting is done).
# Exit status: 0 all selected runs finished, 3 stopped after PIECE_SECONDS (call again), 2 bad
# arguments or missing data, 1 a run, the table or the plots failed.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0 list=0 wanted=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --list) list=1 ;;
    -*) echo "reproduce: unknown option '$arg' (expected --quick, --list)" >&2; exit 2 ;;
    *) wanted+=("$arg") ;;
  esac
done
[ ${#wanted[@]} -gt 0 ] || wanted=(all)

cifar_dir=${CIFAR10_DIR:-data/cifar10}
tiny_dir=${TINY_DIR:-data/tiny-imagenet-200}
runs=${RUNS_DIR:-runs}
docs=${DOCS_DIR:-docs}
piece=${PIECE_SECONDS:-}
if [ -n "$piece" ] && ! [[ $piece =~ ^0*[1-9][0-9]*$ ]]; then
  echo "reproduce: PIECE_SECONDS must be a positive whole number of seconds, not '$piece'" >&2
  exit 2
fi
one_block=1099511627776  # a bucket larger than any model: one block, SignSGD
five_mib=5242880         # Blockwise-SignSGD

# name -> flags beyond the dataset's common ones, in the papers' order.
names=()
declare -A flags=() dataset_of=()
add() {  # name dataset flags...
  names+=("$1")
  dataset_of[$1]=$2
  flags[$1]="${*:3}"
}
add c10-psgd cifar10 --algo psgd
for algo in memsgd doublesqueeze neolithic "cser --period 8" "liec --period 32" "liec --period 100"; do
  read -ra words <<<"$algo"
  label=${words[0]}
  [ "$label" = liec ] && label="liec${words[2]}"
  add "c10-$label-sign" cifar10 --algo "${words[@]}" --compressor sign --bucket-bytes $one_block
  add "c10-$label-bsign" cifar10 --algo "${words[@]}" --compressor sign --bucket-bytes $five_mib
done
add tin-psgd tinyimagenet --algo psgd
add tin-doublesqueeze-bsign tinyimagenet --algo doublesqueeze --compressor sign --bucket-bytes $five_mib
add tin-liec32-bsign tinyimagenet --algo liec --period 32 --compressor sign --bucket-bytes $five_mib
# Gossip on a ring of 8: blocks of 65,536 weights and s = 512 levels keep the quantizer's variance
# factor min(d_b / s^2, sqrt(d_b) / s) at 0.25, below the 1 the estimates need to converge.
gossip=(--topology ring --levels 512 --bucket-bytes 262144 --gamma 0.4)
add c10-choco gossip --algo choco "${gossip[@]}"
add c10-malcom gossip --algo malcom "${gossip[@]}" --l1 1e-5
# The reduced-scale comparison on the CPU (PreAct-ResNet18 at width 8: 176,050 weights). Buckets of
# 80 KiB split it into the 10 blocks that the paper's 5 MiB buckets give the full-width network.
cpu_blocks=81920
add cpu-psgd cpu --algo psgd
for algo in memsgd doublesqueeze neolithic "cser --period 8" "liec --period 32" "liec --period 100"; do
  read -ra words <<<"$algo"
  label=${words[0]}
  [ "$label" = liec ] && label="liec${words[2]}"
  [ "$label" = cser ] && label="cser8"
  add "cpu-$label-bsign" cpu --algo "${words[@]}" --compressor sign --bucket-bytes $cpu_blocks
done
add cpu-psgd-seed1 cpu --algo psgd --seed 1
add cpu-liec32-bsign-seed1 cpu --algo liec --period 32 --compressor sign --bucket-bytes $cpu_blocks --seed 1
add cpu-choco cpu --algo choco "${gossip[@]}"
add cpu-malcom cpu --algo malcom "${gossip[@]}" --l1 1e-5

selected=()
for w in "${wanted[@]}"; do
  case "$w" in
    all) for name in "${names[@]}"; do [ "${dataset_of[$name]}" = cpu ] || selected+=("$name"); done ;;
    cifar10|tinyimagenet|gossip|cpu)
      for name in "${names[@]}"; do [ "${dataset_of[$name]}" = "$w" ] && selected+=("$name"); done ;;
    *)  # an empty name is tested first: it is no valid subscript of dataset_of
      { [ -n "$w" ] && [ -n "${dataset_of[$w]:-}" ]; } ||
        { echo "reproduce: unknown run '$w' (scripts/reproduce.sh --list names them)" >&2; exit 2; }
      selected+=("$w") ;;
  esac
done

if [ $list = 1 ]; then
  for name in "${selected[@]}"; do printf "%-26s %-13s %s\n" "$name" "${dataset_of[$name]}" "${flags[$name]}"; done
  exit 0
fi

[ -x ./train ] || { echo "reproduce: ./train is missing; run make first" >&2; exit 2; }
gpu=0
./train --device cuda --print-params >/dev/null 2>&1 && gpu=1

# The authors' settings: 8 workers, batch 128 each, 120 epochs, lr 0.1, momentum 0, wd 5e-4.
network=(--model preact-resnet18 --batch-size 128)
authors=(--workers 8 --lr 0.1 --momentum 0 --wd 5e-4 --augment on --checkpoint-every 5)
schedule_of() {  # dataset -> schedule flags
  if [ "$1" = tinyimagenet ]; then echo "--lr-schedule cosine"; else echo "--lr-schedule step --decay-epochs 80"; fi
}
epochs=(--epochs 120)
if [ $quick = 1 ]; then
  runs="$runs/quick"
  epochs=(--epochs 2)
  schedule_of() {
    if [ "$1" = tinyimagenet ]; then echo "--lr-schedule cosine"; else echo "--lr-schedule step --decay-epochs 1"; fi
  }
  if [ $gpu = 0 ]; then
    echo "reproduce: no CUDA GPU; quick runs train a width-8 network on 2048 images on the CPU"
    network=(--device cpu --model preact-resnet18 --width 8 --batch-size 32 --train-subset 2048 --test-subset 1000)
    epochs=(--epochs 1)
  fi
elif [ $gpu = 0 ]; then
  for name in "${selected[@]}"; do
    [ "${dataset_of[$name]}" = cpu ] && continue
    echo "reproduce: the papers' runs need a CUDA GPU (the group cpu runs here; scripts/reproduce.sh --quick checks the pipeline on a CPU)" >&2
    exit 2
  done
fi
# The group cpu: 8 workers on this CPU at width 8, 20 epochs (about 10 minutes each on 2 cores),
# the rate decayed at two thirds, every run with the network modelled at 1 Gbit/s.
cpu_run=(--device cpu --model preact-resnet18 --width 8 --batch-size 128 --workers 8 --lr 0.1 --momentum 0 --wd 5e-4
         --augment on --checkpoint-every 2 --epochs 20 --lr-schedule step --decay-epochs 13 --link-gbps 1)
[ $quick = 1 ] && cpu_run=("${network[@]}" "${authors[@]}" "${epochs[@]}" --lr-schedule step --decay-epochs 1 --link-gbps 1)

# Where each dataset is, into the caller's array `data` (an array: a folder may hold spaces);
# quick runs fall back to synthetic data, the real runs stop. The first line of --inspect's error
# is shown, so that a damaged dataset is not taken for a missing one.
data_flags() {  # dataset
  local kind=cifar10 dir=$cifar_dir extra=() variable=CIFAR10_DIR why
  [ "$1" = tinyimagenet ] && { kind=tinyimagenet; dir=$tiny_dir; extra=(--image-size 32); variable=TINY_DIR; }
  data=(--dataset "$kind" --data-dir "$dir" "${extra[@]}")
  why=$(./train --inspect "${data[@]}" 2>&1 >/dev/null) && return 0
  why=${why%%$'\n'*}
  why=${why#error: }
  if [ $quick = 1 ]; then
    echo "reproduce: no usable $kind in $dir (${why:-./train --inspect failed}); this quick run uses the synthetic dataset" >&2
    data=(--dataset synthetic)
  else
    echo "reproduce: no usable $kind in $dir (${why:-./train --inspect failed}); scripts/get-data.sh $kind $dir fetches it, or set $variable" >&2
    return 2
  fi
}

# A finished run's files that the table and plots are built from, small enough to commit, into
# DOCS_DIR/runs/<name>/ (not for --quick runs).
keep_run() {  # name
  [ $quick = 1 ] && return 0
  mkdir -p "$docs/runs/$1"
  cp "$runs/$1/config.json" "$runs/$1/metrics.jsonl" "$runs/$1/command.txt" "$docs/runs/$1/"
}

# Runs one experiment to its end, or for PIECE_SECONDS; returns 3 when stopped for time.
# ./train takes the SIGTERM as a request: it saves a checkpoint at its next log interval and exits
# with code 3 (or finishes, if that interval was its last), so a piece loses no work; one that
# does not stop within two minutes is killed.
run_one() {
  local name=$1 dir="$runs/$1" data=()
  if [ -f "$dir/done" ]; then
    echo "reproduce: $name finished earlier ($dir)"
    keep_run "$name"
    return 0
  fi
  data_flags "${dataset_of[$name]}" || return 2
  local dataset=${dataset_of[$name]} command
  [ "$dataset" = gossip ] && dataset=cifar10
  if [ "$dataset" = cpu ]; then
    command=(./train "${data[@]}" "${cpu_run[@]}" ${flags[$name]} --run-dir "$dir")
  else
    command=(./train "${data[@]}" "${network[@]}" "${authors[@]}" "${epochs[@]}" $(schedule_of "$dataset") ${flags[$name]} --run-dir "$dir")
  fi
  local resume=()
  if [ -d "$dir/checkpoint" ] || [ -d "$dir/checkpoint.old" ]; then
    resume=(--resume)
    echo "reproduce: $name: resuming from its checkpoint"
  else
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  printf '%q ' "${command[@]}" | sed 's/ $//' > "$dir/command.txt"
  echo "reproduce: $name: $(cat "$dir/command.txt")"
  local status
  if [ -n "$piece" ]; then
    timeout --preserve-status --signal=TERM --kill-after=120 "$piece" "${command[@]}" "${resume[@]}"
  else
    "${command[@]}" "${resume[@]}"
  fi
  status=$?
  if [ $status = 3 ]; then  # ./train stopped on the signal, at a checkpoint
    echo "reproduce: $name stopped at its checkpoint; run the same command again to resume it"
    return 3
  fi
  if [ -n "$piece" ] && { [ $status = 143 ] || [ $status = 137 ]; }; then
    echo "reproduce: $name was killed before it could save a checkpoint; the next call resumes from its last one, if any" >&2
    return 3
  fi
  [ $status = 0 ] || { echo "reproduce: $name failed (exit $status); see $dir" >&2; return 1; }
  touch "$dir/done"
  rm -rf "$dir/checkpoint" "$dir/checkpoint.old"  # 8 ranks' state, about 0.7 GB a run: not needed once done
  keep_run "$name"
}

failed=0 stopped=0 missing=0
for name in "${selected[@]}"; do
  run_one "$name"
  case $? in
    0) ;;
    3) stopped=1; break ;;  # out of time for this sitting
    2) missing=1 ;;         # its data is not there: the others may still run
    *) failed=1 ;;
  esac
done

# The table of the given runs into FILE, through a temporary file beside it that replaces FILE
# only once the table is whole: a failed table leaves the last good one in place.
write_table() {  # file run_dir...
  local file=$1 partial="$1.partial.$$"
  shift
  if bash scripts/results_table.sh "$@" > "$partial" && mv -f "$partial" "$file"; then return 0; fi
  rm -f "$partial"
  echo "reproduce: the results table failed; $file is unchanged" >&2
  return 1
}

# The table and the plots, from every finished run (outside --quick, from their copies in
# DOCS_DIR/runs/, so that a clone of the repository rebuilds them from its own files).
finished=()
for name in "${names[@]}"; do
  if [ $quick = 1 ]; then
    [ -f "$runs/$name/done" ] && finished+=("$runs/$name")
  else
    [ -f "$docs/runs/$name/metrics.jsonl" ] && finished+=("$docs/runs/$name")
  fi
done
built=1  # 0 once the table or a plot fails
if [ ${#finished[@]} -gt 0 ]; then
  if [ $quick = 1 ]; then
    write_table "$runs/results.md" "${finished[@]}" || built=0
    bash scripts/plots.sh "$runs/plots" "${finished[@]}" >/dev/null || built=0
    [ $built = 0 ] || echo "reproduce: quick table in $runs/results.md, plots in $runs/plots/"
  else
    mkdir -p "$docs"
    write_table "$docs/results.md" "${finished[@]}" || built=0
    for group in cifar10-sign cifar10-bsign tinyimagenet gossip cpu cpu-gossip; do
      members=()
      for run in "${finished[@]}"; do
        name=$(basename "$run")
        case "$group" in
          cifar10-sign) [[ $name == c10-psgd || $name == c10-*-sign ]] && members+=("$run") ;;
          cifar10-bsign) [[ $name == c10-psgd || $name == c10-*-bsign ]] && members+=("$run") ;;
          tinyimagenet) [[ $name == tin-* ]] && members+=("$run") ;;
          gossip) [[ $name == c10-choco || $name == c10-malcom ]] && members+=("$run") ;;
          cpu) [[ $name == cpu-* && $name != cpu-choco && $name != cpu-malcom ]] && members+=("$run") ;;
          cpu-gossip) [[ $name == cpu-choco || $name == cpu-malcom ]] && members+=("$run") ;;
        esac
      done
      if [ ${#members[@]} -gt 0 ]; then bash scripts/plots.sh "$docs/$group" "${members[@]}" >/dev/null || built=0; fi
    done
    [ $built = 0 ] || echo "reproduce: table in $docs/results.md, plots in $docs/*/accuracy_vs_{epoch,time,bits,modelled_time}.png"
  fi
fi
[ $built = 0 ] && failed=1
[ $failed = 1 ] && exit 1
[ $missing = 1 ] && exit 2
[ $stopped = 1 ] && exit 3
exit 0
