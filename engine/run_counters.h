// A run's progress and metric sums: what a checkpoint carries besides tensors and settings, so
// that a resumed run goes on counting where it stopped. Each counter is named once, in visit(),
// for saving and restoring alike.
#pragma once

#include <cstdint>
#include <type_traits>

#include "engine/checkpoint.h"

struct RunCounters {
  long step = 0;         // steps trained
  long logged_step = 0;  // the step of the last metrics line
  uint64_t bytes_sent = 0, bytes_received = 0;  // this rank's training traffic (not set-up or evaluation)
  double logged_up = 0.0, logged_down = 0.0;    // the bytes per worker at the last metrics line
  double train_seconds = 0.0;                   // training wall time, evaluations excluded
  double sim_seconds = 0.0, network_seconds = 0.0;  // the modelled network's totals (--link-gbps)

  void save(CheckpointWriter& w) const {
    visit(*this, [&w](const char* key, const auto& value) { w.add_number(key, static_cast<double>(value)); });
  }
  void restore(const CheckpointReader& r) {
    visit(*this, [&r](const char* key, auto& value) {
      value = static_cast<std::remove_reference_t<decltype(value)>>(r.number(key));
    });
  }

 private:
  // Every counter with its key in the checkpoint (`Self`: RunCounters, const or not).
  template <typename Self, typename Visitor>
  static void visit(Self& self, const Visitor& visitor) {
    visitor("step", self.step);
    visitor("logged_step", self.logged_step);
    visitor("bytes_sent", self.bytes_sent);
    visitor("bytes_received", self.bytes_received);
    visitor("logged_up", self.logged_up);
    visitor("logged_down", self.logged_down);
    visitor("train_seconds", self.train_seconds);
    visitor("sim_seconds", self.sim_seconds);
    visitor("network_seconds", self.network_seconds);
  }
};
