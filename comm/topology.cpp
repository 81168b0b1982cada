// Ring, torus and complete graphs.
#include "comm/topology.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/check.h"

double Topology::weight(int i, int j) const {
  const auto& n = neighbors[i];
  const bool linked = i == j || std::binary_search(n.begin(), n.end(), j);
  return linked ? 1.0 / (static_cast<double>(n.size()) + 1.0) : 0.0;
}

Topology make_topology(const std::string& name, int nodes) {
  if (nodes < 1) fail_input("a topology needs at least one node");
  Topology t{name, nodes, std::vector<std::vector<int>>(nodes)};
  std::vector<std::set<int>> links(nodes);
  const auto link = [&](int a, int b) {
    if (a != b) {
      links[a].insert(b);
      links[b].insert(a);
    }
  };
  if (name == "ring") {
    for (int i = 0; i < nodes; ++i) link(i, (i + 1) % nodes);
  } else if (name == "complete") {
    for (int i = 0; i < nodes; ++i)
      for (int j = i + 1; j < nodes; ++j) link(i, j);
  } else if (name == "torus") {
    int rows = static_cast<int>(std::sqrt(static_cast<double>(nodes)));
    while (nodes % rows != 0) --rows;
    const int columns = nodes / rows;
    if (rows < 2) fail_input("--topology torus needs a node count with a factorisation r x c, r, c >= 2 (got %d)", nodes);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < columns; ++c) {
        link(r * columns + c, r * columns + (c + 1) % columns);
        link(r * columns + c, ((r + 1) % rows) * columns + c);
      }
  } else {
    fail_input("unknown --topology '%s' (expected ring, torus or complete)", name.c_str());
  }
  // Uniform weights are doubly stochastic only when every node has the same degree.
  for (int i = 0; i < nodes; ++i) {
    t.neighbors[i].assign(links[i].begin(), links[i].end());
    if (t.neighbors[i].size() != t.neighbors[0].size())
      fail_input("--topology %s on %d nodes is not regular", name.c_str(), nodes);
  }
  return t;
}
