#!/usr/bin/env bash
# Test accuracy of one or more runs against epochs, training time and bits sent per worker: the
# three views of the LIEC-SGD paper's figures, as PNG files, with gnuplot.
# Usage: scripts/plots.sh OUT_DIR RUN_DIR [RUN_DIR ...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plots: gnuplot is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One table per run: epoch (1-based), test accuracy (%), training hours, Gbit sent+received per worker.
plots_of=()
for run in "$@"; do
  metrics="$run/metrics.jsonl"
  [ -f "$metrics" ] || { echo "plots: no $metrics" >&2; exit 2; }
  name=$(basename "$run")
  grep '"test_acc"' "$metrics" | sed -E 's/.*"epoch": ([0-9]+).*"test_acc": ([-0-9.eE+]+).*"bytes_up_total": ([-0-9.eE+]+).*"bytes_down_total": ([-0-9.eE+]+).*"train_s": ([-0-9.eE+]+).*/\1 \2 \3 \4 \5/' |
    awk '{ printf "%d %.4f %.6f %.6f\n", $1 + 1, 100 * $2, $5 / 3600, 8 * ($3 + $4) / 1e9 }' > "$work/$name.dat"
  [ -s "$work/$name.dat" ] || { echo "plots: $metrics has no evaluation lines yet" >&2; exit 2; }
  plots_of+=("$work/$name.dat")
done

plot() {  # file, x column, x label
  local file=$1 column=$2 label=$3 series=""
  for dat in "${plots_of[@]}"; do
    series+="${series:+, }'$dat' using $column:2 with linespoints title '$(basename "$dat" .dat)'"
  done
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,600 enhanced font ',11'
set output '$out/$file'
set xlabel '$label'
set ylabel 'test accuracy (%)'
set grid
set key bottom right
plot $series
GNUPLOT
}
plot accuracy_vs_epoch.png 1 'epoch'
plot accuracy_vs_time.png 3 'training time (hours)'
plot accuracy_vs_bits.png 4 'Gbit sent and received per worker'
echo "plots: $out/accuracy_vs_epoch.png, accuracy_vs_time.png, accuracy_vs_bits.png"
