#!/usr/bin/env bash
# Runs each fuzz harness given for SECONDS over its seed corpus (tests/fuzz/corpus/<name>/, read
# only; what the fuzzer adds goes to build/fuzz/corpus/<name>/), two at a time, and prints one line
# per harness: executions, coverage, corpus. A find (a crash, a sanitizer report, a hang, an exit)
# is saved as build/fuzz/finds/<name>-crash-* with its log, and fails the run.
# Usage: scripts/fuzz.sh SECONDS build/fuzz/fuzz_NAME...
set -uo pipefail
seconds=${1:-}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive whole number, not '$seconds'" >&2; exit 2; }
shift
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/build/fuzz/finds"
run_one() {
  local binary=$1 name
  name=$(basename "$binary"); name=${name#fuzz_}
  local seeds="$root/tests/fuzz/corpus/$name" work="$root/build/fuzz/corpus/$name" log="$root/build/fuzz/finds/$name.log"
  mkdir -p "$work"
  local dict=()
  [ -f "$root/tests/fuzz/corpus/$name.dict" ] && dict=(-dict="$root/tests/fuzz/corpus/$name.dict")
  # -timeout: one input past 10 s is a hang; -rss_limit_mb: past 2 GiB, a memory bomb.
  timeout --kill-after=10 $((seconds + 60)) "$binary" "$work" "$seeds" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$root/build/fuzz/finds/$name-" >"$log" 2>&1
  local status=$?
  local done_line execs
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  if [ "$status" -eq 0 ] && [ -n "$done_line" ]; then
    echo "fuzz $name: ok, ${execs:-?} executions in $seconds s; $(sed -E 's/^#[0-9]+[[:space:]]+DONE +//; s/ lim:.*//' <<<"$done_line")"
  else
    echo "fuzz $name: FOUND A DEFECT (exit status $status); the input and log are in build/fuzz/finds/ ($name-*, $name.log):"
    grep -m 3 -E 'ERROR|runtime error|SUMMARY|refused|accepted|decodes|terminate' "$log" | sed 's/^/  /'
    return 1
  fi
}
export -f run_one
export root seconds
printf '%s\n' "$@" | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'run_one "$1"' _ {}
