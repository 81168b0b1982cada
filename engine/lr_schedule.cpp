// Learning-rate schedules.
#include "engine/lr_schedule.h"

#include <cmath>
#include <string>

#include "engine/check.h"

namespace {
constexpr double kPi = 3.14159265358979323846;

// Cosine interpolation from `from` (t = 0) to `to` (t = 1).
double cosine_between(double from, double to, double t) { return to + (from - to) * 0.5 * (1.0 + std::cos(kPi * t)); }
}  // namespace

float LrSchedule::at(long step) const {
  const double t = total_steps > 1 ? static_cast<double>(step) / total_steps : 0.0;
  switch (kind) {
    case Constant: return base_lr;
    case Step: {
      const long epoch = step / steps_per_epoch;
      double lr = base_lr;
      for (long e : decay_epochs)
        if (epoch >= e) lr *= decay_factor;
      return static_cast<float>(lr);
    }
    case Cosine: return static_cast<float>(cosine_between(base_lr, 0.0, t));
    case OneCycle: {
      // Warm up over the first 30% from base/25, then anneal to base/25/1e4 (OneCycleLR defaults).
      const double start = base_lr / 25.0, end = start / 1e4, warmup = 0.3;
      return static_cast<float>(t < warmup ? cosine_between(start, base_lr, t / warmup)
                                           : cosine_between(base_lr, end, (t - warmup) / (1.0 - warmup)));
    }
  }
  return base_lr;
}

LrSchedule::Kind parse_lr_schedule(const std::string& name) {
  if (name == "constant") return LrSchedule::Constant;
  if (name == "step") return LrSchedule::Step;
  if (name == "cosine") return LrSchedule::Cosine;
  if (name == "onecycle") return LrSchedule::OneCycle;
  fail_input("unknown --lr-schedule '%s' (expected constant, step, cosine or onecycle)", name.c_str());
}

std::vector<long> parse_epoch_list(const std::string& text) {
  std::vector<long> epochs;
  // Cut at every comma, so that "3," or "3,,5" has an empty item to refuse.
  for (size_t start = 0, comma;; start = comma + 1) {
    comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool digits = !item.empty() && item.size() <= 9 && item.find_first_not_of("0123456789") == std::string::npos;
    const long e = digits ? std::stol(item) : 0;
    if (e < 1) fail_input("--decay-epochs: '%s' is not an epoch number (1 to 999999999)", item.c_str());
    // In order, each once: a repeated or earlier epoch would be ignored (or decay twice).
    if (!epochs.empty() && e <= epochs.back())
      fail_input("--decay-epochs must increase: %ld comes after %ld", e, epochs.back());
    epochs.push_back(e);
    if (comma == std::string::npos) return epochs;
  }
}
