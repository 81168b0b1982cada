// The modelled network: every rank has one full-duplex link of `gbps` to a switch, and a group of
// messages costs `latency_s` once per direction plus its bytes at the link's rate (docs/metrics.md).
#pragma once

#include <cstddef>

struct LinkModel {
  double gbps = 0.0;       // 0: the model is off
  double latency_s = 0.0;  // once per direction of a group that carries anything

  bool on() const { return gbps > 0.0; }
  // One direction of one group: `messages` back to back on one link.
  double seconds(double bytes, size_t messages) const {
    return messages == 0 ? 0.0 : latency_s + bytes * 8.0 / (gbps * 1e9);
  }
};
