#!/usr/bin/env bash
# Runs every test binary given, then prints one summary line over all of them:
# "N passed, M failed, K skipped". Exits non-zero if any test failed or any binary crashed.
# Each binary runs under TEST_TIMEOUT seconds (default 1200): a hung one fails instead of hanging CI.
set -uo pipefail

limit=${TEST_TIMEOUT:-1200}
[[ $limit =~ ^[1-9][0-9]*$ ]] || { echo "run-tests: TEST_TIMEOUT must be a positive whole number of seconds, not '$limit'" >&2; exit 2; }
passed=0 failed=0 skipped=0 crashed=0
for binary in "$@"; do
  echo "== $binary"
  log=$(mktemp)
  # TERM first, KILL 30 s later for a binary that ignores it (137 then; 137 before the limit is
  # some other SIGKILL, such as the kernel's out-of-memory killer).
  start=$SECONDS
  timeout --kill-after=30 "$limit" "$binary" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" -eq 124 ] || { [ "$status" -eq 137 ] && [ $((SECONDS - start)) -ge "$limit" ]; }; then
    rm -f "$log"
    echo "$binary: timed out after $limit s (TEST_TIMEOUT)"
    crashed=$((crashed + 1))
    continue
  fi
  # doctest's closing line: [doctest] test cases: 12 | 10 passed | 1 failed | 1 skipped
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "$binary: no doctest summary (exit status $status)"
    crashed=$((crashed + 1))
    continue
  fi
  p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*\| *([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || crashed=$((crashed + 1))
done

failed=$((failed + crashed))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
