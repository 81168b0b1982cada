#!/usr/bin/env bash
# Runs every test binary given, then prints one summary line over all of them:
# "N passed, M failed, K skipped". Exits non-zero if any test failed or any binary crashed.
set -uo pipefail

passed=0 failed=0 skipped=0 crashed=0
for binary in "$@"; do
  echo "== $binary"
  log=$(mktemp)
  "$binary" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
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
