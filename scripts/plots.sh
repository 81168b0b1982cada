#!/usr/bin/env bash
# Test accuracy of one or more runs against epochs, training time and bits sent per worker: the
# three views of the LIEC-SGD paper's figures, as PNG files, with gnuplot; and a fourth, against
# the modelled training time (--link-gbps), when some of the runs have it.
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

# One table per run: epoch (1-based), test accuracy (%), training seconds, Gbit sent+received per
# worker, modelled training seconds (NaN without the model: gnuplot leaves the point out), from
# the run's whole evaluation lines (scripts/evaluation_lines.awk).
dats=() titles=()  # numbered files: two runs may share a folder name (a/x and b/x)
for run in "$@"; do
  metrics="$run/metrics.jsonl"
  [ -f "$metrics" ] || { echo "plots: no $metrics" >&2; exit 2; }
  dat="$work/${#dats[@]}.dat"
  awk -f "$(dirname "$0")/evaluation_lines.awk" "$metrics" |
    awk '{ printf "%d %.4f %.3f %.6f %s\n", $1 + 1, 100 * $3, $6, 8 * ($4 + $5) / 1e9, ($7 == "NaN" ? "NaN" : sprintf("%.3f", $7)) }' > "$dat"
  [ -s "$dat" ] || { echo "plots: $metrics has no evaluation lines yet" >&2; exit 2; }
  dats+=("$dat")
  titles+=("$(basename "$run")")
done
[ ! -e "$out" ] || [ -d "$out" ] || { echo "plots: $out is not a folder (the plots go into OUT_DIR)" >&2; exit 2; }
mkdir -p "$out" || { echo "plots: cannot create $out" >&2; exit 2; }

# Seconds, minutes or hours, whichever reads best for the longest of the runs in a time column.
time_unit() {  # column -> "divisor name"
  cat "${dats[@]}" | awk -v c="$1" '$c != "NaN" && $c > max { max = $c }
    END { if (max > 7200) print 3600, "hours"; else if (max > 120) print 60, "minutes"; else print 1, "seconds" }'
}

plot() {  # file, x column, x label, divisor of the x column, "log" for a log-scale x; only the runs with values in it
  local file=$1 column=$2 label=$3 divisor=${4:-1} scale=${5:-} series="" i
  for i in "${!dats[@]}"; do
    awk -v c="$column" '$c != "NaN" { found = 1 } END { exit !found }' "${dats[$i]}" || continue
    series+="${series:+, }$(quoted "${dats[$i]}") using (\$$column/$divisor):2 with linespoints title $(quoted "${titles[$i]}") noenhanced"
  done
  [ -n "$series" ] || return 0
  # Drawn in the scratch folder, then moved: a failed gnuplot leaves no half-written PNG behind.
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,600 enhanced font ',11'
set output $(quoted "$work/$file")
set xlabel $(quoted "$label")
$( [ "$scale" = log ] && echo "set logscale x" )
set ylabel 'test accuracy (%)'
set grid
set key bottom right
plot $series
GNUPLOT
  mv -f "$work/$file" "$out/$file"
}
plot accuracy_vs_epoch.png 1 'epoch'
read -r divisor unit < <(time_unit 3)
plot accuracy_vs_time.png 3 "training time ($unit)" "$divisor"
# On a log scale where every point has traffic: compressed runs send 10 to 100 times less.
if cat "${dats[@]}" | awk '$4 <= 0 { zero = 1 } END { exit zero }'; then
  plot accuracy_vs_bits.png 4 'Gbit sent and received per worker (log scale)' 1 log
else
  plot accuracy_vs_bits.png 4 'Gbit sent and received per worker'
fi
made="$out/accuracy_vs_epoch.png, accuracy_vs_time.png, accuracy_vs_bits.png"
if cat "${dats[@]}" | awk '$5 != "NaN" { found = 1 } END { exit !found }'; then
  read -r divisor unit < <(time_unit 5)
  plot accuracy_vs_modelled_time.png 5 "modelled training time ($unit): compute as measured, network as modelled" "$divisor"
  made+=", accuracy_vs_modelled_time.png"
fi
echo "plots: $made"
