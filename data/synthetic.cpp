// Synthetic data: class patterns drawn from the seed, samples drawn from (seed, split).
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "engine/rng.h"

namespace {

// A plane wave per channel: direction, frequency and phase drawn per class.
struct ClassPattern {
  float fx[3], fy[3], phase[3];
};

Dataset draw_split(const std::vector<ClassPattern>& patterns, int size, int image_size, Rng& rng) {
  Dataset d;
  d.height = d.width = image_size;
  d.classes = static_cast<int>(patterns.size());
  d.images.resize(static_cast<size_t>(size) * d.image_bytes());
  d.labels.resize(size);
  for (int i = 0; i < size; ++i) {
    const int label = static_cast<int>(rng.below(d.classes));
    const ClassPattern& p = patterns[label];
    const float brightness = rng.uniform(-30.0f, 30.0f);
    uint8_t* image = d.images.data() + static_cast<size_t>(i) * d.image_bytes();
    for (int y = 0; y < image_size; ++y)
      for (int x = 0; x < image_size; ++x)
        for (int c = 0; c < 3; ++c) {
          const float wave = std::sin(p.fx[c] * x + p.fy[c] * y + p.phase[c]);
          const float value = 128.0f + 70.0f * wave + brightness + 40.0f * rng.normal();
          image[(y * image_size + x) * 3 + c] = static_cast<uint8_t>(std::clamp(value, 0.0f, 255.0f));
        }
    d.labels[i] = label;
  }
  for (int c = 0; c < d.classes; ++c) d.class_names.push_back("class" + std::to_string(c));
  return d;
}

}  // namespace

DatasetSplits make_synthetic_dataset(const SyntheticOptions& options) {
  Rng pattern_rng(options.seed, /*stream=*/0);
  std::vector<ClassPattern> patterns(options.classes);
  for (ClassPattern& p : patterns)
    for (int c = 0; c < 3; ++c) {
      p.fx[c] = pattern_rng.uniform(-1.2f, 1.2f);
      p.fy[c] = pattern_rng.uniform(-1.2f, 1.2f);
      p.phase[c] = pattern_rng.uniform(0.0f, 6.2831853f);
    }
  DatasetSplits splits;
  splits.name = "synthetic";
  Rng train_rng(options.seed, 1), test_rng(options.seed, 2);
  splits.train = draw_split(patterns, options.train_size, options.image_size, train_rng);
  splits.test = draw_split(patterns, options.test_size, options.image_size, test_rng);
  splits.normalization = Normalization{{0.5f, 0.5f, 0.5f}, {0.3f, 0.3f, 0.3f}};
  return splits;
}
