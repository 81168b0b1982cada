# The evaluation lines of a metrics.jsonl, one per line as "epoch step test_acc bytes_up_total
# bytes_down_total train_s sim_s" (sim_s NaN without the modelled network). Only whole lines
# count: one cut short (a run still writing, or killed) or with a field that is null or not a
# number is left out, so that nothing reaches a table or a plot as text that reads as a number.
# Used by scripts/plots.sh and scripts/results_table.sh: awk -f scripts/evaluation_lines.awk FILE

# A number ended by "," or "}"; a field that is absent, null or cut short clears ok.
function field(key) {
  if (match($0, "\"" key "\": -?[0-9][-+0-9.eE]*[,}]")) return substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
  ok = 0
  return 0
}

/"test_acc"/ && /\}[ \t\r]*$/ {
  ok = 1
  line = field("epoch") " " field("step") " " field("test_acc") " " field("bytes_up_total") " " field("bytes_down_total") " " field("train_s")
  if (!ok) next
  sim = field("sim_s")
  print line, (ok ? sim : "NaN")
}
