#!/usr/bin/env bash
# Test accuracy of one or more runs against epochs, training time and bits sent per worker: the
# three views of the LIEC-SGD paper's figures, as PNG files, with gnuplot.
# Usage: scripts/plots.sh OUT_DIR RUN_DIR [RUN_DIR ...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plots: gnuplot is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
out=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# gnuplot's single-quoted strings take a quote as two quotes and nothing else specially.
quoted() { printf "'%s'" "${1//\'/\'\'}"; }

# One table per run: epoch (1-based), test accuracy (%), training hours, Gbit sent+received per worker.
# Only whole evaluation lines count: a line cut short (a run still writing, or killed) or with a
# null field matches nothing, instead of reaching awk as text that reads as a number.
number='(-?[0-9][-+0-9.eE]*)'
evaluation="^\{.*\"epoch\": ([0-9]+),.*\"test_acc\": $number,.*\"bytes_up_total\": $number,.*\"bytes_down_total\": $number,.*\"train_s\": ${number}[,}].*"
dats=() titles=()  # numbered files: two runs may share a folder name (a/x and b/x)
for run in "$@"; do
  metrics="$run/metrics.jsonl"
  [ -f "$metrics" ] || { echo "plots: no $metrics" >&2; exit 2; }
  dat="$work/${#dats[@]}.dat"
  sed -nE "/\}[[:space:]]*$/ s/$evaluation/\1 \2 \3 \4 \5/p" "$metrics" |
    awk '{ printf "%d %.4f %.6f %.6f\n", $1 + 1, 100 * $2, $5 / 3600, 8 * ($3 + $4) / 1e9 }' > "$dat"
  [ -s "$dat" ] || { echo "plots: $metrics has no evaluation lines yet" >&2; exit 2; }
  dats+=("$dat")
  titles+=("$(basename "$run")")
done
mkdir -p "$out"

plot() {  # file, x column, x label
  local file=$1 column=$2 label=$3 series="" i
  for i in "${!dats[@]}"; do
    series+="${series:+, }$(quoted "${dats[$i]}") using $column:2 with linespoints title $(quoted "${titles[$i]}") noenhanced"
  done
  # Drawn in the scratch folder, then moved: a failed gnuplot leaves no half-written PNG behind.
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,600 enhanced font ',11'
set output $(quoted "$work/$file")
set xlabel $(quoted "$label")
set ylabel 'test accuracy (%)'
set grid
set key bottom right
plot $series
GNUPLOT
  mv -f "$work/$file" "$out/$file"
}
plot accuracy_vs_epoch.png 1 'epoch'
plot accuracy_vs_time.png 3 'training time (hours)'
plot accuracy_vs_bits.png 4 'Gbit sent and received per worker'
echo "plots: $out/accuracy_vs_epoch.png, accuracy_vs_time.png, accuracy_vs_bits.png"
