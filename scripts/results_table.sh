#!/usr/bin/env bash
# The results table of finished runs, in Markdown: final and best test accuracy, the bytes each
# worker (gossip: each node) sent and received in training, in all and per step, the modelled
# training time (--link-gbps; "-" without it), the measured training time (evaluations left out,
# summed over resumed pieces), and the exact command (RUN_DIR/command.txt).
# Usage: scripts/results_table.sh RUN_DIR [RUN_DIR ...]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
echo "| run | final test acc | best test acc | traffic per worker (up + down) | per step | modelled time | training time | command |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for run in "$@"; do
  metrics="$run/metrics.jsonl"
  [ -f "$metrics" ] || { echo "results_table: no $metrics" >&2; exit 2; }
  command=$( [ -f "$run/command.txt" ] && cat "$run/command.txt" || echo "(not recorded)")
  awk -f "$(dirname "$0")/evaluation_lines.awk" "$metrics" | awk -v name="$(basename "$run")" -v command="$command" '
    function bytes_text(b) { return b >= 1e9 ? sprintf("%.2f GB", b / 1e9) : b >= 1e6 ? sprintf("%.1f MB", b / 1e6) : sprintf("%.1f kB", b / 1e3) }
    function time_text(s) { return s >= 7200 ? sprintf("%.2f h", s / 3600) : s >= 60 ? sprintf("%.1f min", s / 60) : sprintf("%.1f s", s) }
    {  # epoch step test_acc up down train_s sim_s
      if (n == 0 || $3 > best) best = $3
      final = $3; steps = $2; bytes = $4 + $5; seconds = $6; sim = $7; n++
    }
    END {
      if (n == 0) { printf "| %s | no evaluation yet | | | | | | |\n", name; exit }
      printf "| %s | %.2f%% | %.2f%% | %s | %s | %s | %s | `%s` |\n", name, 100 * final, 100 * best, bytes_text(bytes),
             (steps > 0 ? bytes_text(bytes / steps) : "-"), (sim == "NaN" ? "-" : time_text(sim)), time_text(seconds), command
    }'
done
