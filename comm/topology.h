// Graphs for decentralized algorithms: each node's neighbours and a symmetric, doubly stochastic
// mixing matrix W over them (uniform weights 1 / (degree + 1), self included, which is
// symmetric and doubly stochastic on any regular graph: ring, torus, complete).
#pragma once

#include <string>
#include <vector>

struct Topology {
  std::string name;
  int nodes = 0;
  std::vector<std::vector<int>> neighbors;  // sorted, self excluded

  // w_ij for j = i or a neighbour of i, else 0.
  double weight(int i, int j) const;
};

// ring, torus (the most square rows x columns grid with wrap-around), complete; a user error
// when the name is unknown or the graph cannot be built on `nodes`.
Topology make_topology(const std::string& name, int nodes);
