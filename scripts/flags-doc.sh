#!/usr/bin/env bash
# Rewrites the block of docs/flags.md between the lines "<!-- ./train --help -->" and
# "<!-- end -->" with the output of `./train --help`, fenced as code. A test in
# tests/test_train.cpp fails while the two differ, so run this after changing a flag.
# Usage: scripts/flags-doc.sh [TRAIN]      (TRAIN: the binary, default ./train in the tree's root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
train=${1:-$root/train}
doc=$root/docs/flags.md
[ -x "$train" ] || { echo "flags-doc: no binary at $train (make train builds it)" >&2; exit 2; }
for marker in '<!-- ./train --help -->' '<!-- end -->'; do
  grep -qxF -- "$marker" "$doc" || { echo "flags-doc: $doc lacks the line '$marker'" >&2; exit 2; }
done
help=$(mktemp) new=$(mktemp)
trap 'rm -f "$help" "$new"' EXIT
"$train" --help >"$help"
# Everything outside the markers is kept as it is; between them, only the fenced help text.
awk -v help="$help" '
  $0 == "<!-- ./train --help -->" { print; print "```"; while ((getline line < help) > 0) print line; print "```"; skip = 1; next }
  $0 == "<!-- end -->" { skip = 0 }
  !skip { print }' "$doc" >"$new"
cat "$new" >"$doc"
echo "flags-doc: $doc holds $train --help"
