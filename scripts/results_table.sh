#!/usr/bin/env bash
# The results table of finished runs, in Markdown: final and best test accuracy, the bytes each
# worker (gossip: each node) sent and received in training, the training time (evaluations left
# out, summed over resumed pieces), and the exact command (RUN_DIR/command.txt).
# Usage: scripts/results_table.sh RUN_DIR [RUN_DIR ...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
echo "| run | final test acc | best test acc | traffic per worker (up + down) | training time | command |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for run in "$@"; do
  metrics="$run/metrics.jsonl"
  [ -f "$metrics" ] || { echo "results_table: no $metrics" >&2; exit 2; }
  command=$( [ -f "$run/command.txt" ] && cat "$run/command.txt" || echo "(not recorded)")
  awk -v name="$(basename "$run")" -v command="$command" '
    # A number ended by "," or "}"; a field that is absent, null or cut short clears ok.
    function field(key) {
      if (match($0, "\"" key "\": -?[0-9][-+0-9.eE]*[,}]")) return substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5) + 0
      ok = 0
      return 0
    }
    # Only whole evaluation lines count: a last line cut short, or a null field, is left out.
    /"test_acc"/ && /\}[ \t\r]*$/ {
      ok = 1
      acc = field("test_acc"); up = field("bytes_up_total"); down = field("bytes_down_total"); s = field("train_s")
      if (!ok) next
      if (n == 0 || acc > best) best = acc
      final = acc; bytes = up + down; seconds = s; n++
    }
    END {
      if (n == 0) { printf "| %s | no evaluation yet | | | | |\n", name; exit }
      traffic = bytes >= 1e9 ? sprintf("%.2f GB", bytes / 1e9) : sprintf("%.1f MB", bytes / 1e6)
      printf "| %s | %.2f%% | %.2f%% | %s | %.1f min | `%s` |\n", name, 100 * final, 100 * best, traffic, seconds / 60, command
    }' "$metrics"
done
