// Batch making (data/batch.cu) under the emulator against its CPU path: gather, crop, flip and normalise, by index and by step position.
#include "data/batch.h"
#include "test_support.h"

TEST_CASE("emulated batch kernel: odd and CIFAR-sized images, with and without augmentation") {
  Rng rng(9, 1);
  for (auto [height, width] : {std::pair<int, int>{5, 7}, {32, 32}})
    for (bool augment : {false, true}) {
      INFO("image ", height, "x", width, ", augmentation ", augment);
      const int samples = 10, n = 4;
      Dataset dataset;
      dataset.height = height;
      dataset.width = width;
      dataset.classes = 3;
      dataset.images.resize(static_cast<size_t>(samples) * height * width * 3);
      for (uint8_t& v : dataset.images) v = static_cast<uint8_t>(rng.below(256));
      for (int i = 0; i < samples; ++i) dataset.labels.push_back(static_cast<int32_t>(rng.below(3)));
      const DeviceDataset data_cpu(cpu(), dataset), data_gpu(gpu(), dataset);
      const Normalization normalization{{0.49f, 0.48f, 0.45f}, {0.25f, 0.24f, 0.26f}};
      Augmentation augmentation;
      augmentation.enabled = augment;
      augmentation.pad = 2;
      augmentation.seed = 11;
      augmentation.epoch = 1;
      ExactBuffer<int32_t> indices(n), shard(3 * n);
      for (int i = 0; i < n; ++i) indices[i] = static_cast<int32_t>(rng.below(samples));
      for (int i = 0; i < 3 * n; ++i) shard[i] = static_cast<int32_t>(rng.below(samples));
      const size_t values = static_cast<size_t>(3) * height * width * n;
      ExactBuffer<float> images_cpu(values), images_gpu(values);
      ExactBuffer<int32_t> labels_cpu(n), labels_gpu(n);

      make_batch(cpu(), data_cpu, indices.data(), n, normalization, augmentation, images_cpu.data(), labels_cpu.data());
      make_batch(gpu(), data_gpu, indices.data(), n, normalization, augmentation, images_gpu.data(), labels_gpu.data());
      expect_exact("images", images_gpu.data(), images_cpu.data(), values);
      CHECK(first_difference(labels_gpu.data(), labels_cpu.data(), n) == static_cast<size_t>(n));

      ExactBuffer<StepPosition> position(1);
      position[0] = StepPosition{5, 2, 2, 0.1f};  // batch 2 of the shard, epoch 2
      make_training_batch(cpu(), data_cpu, shard.data(), n, normalization, augmentation, position.data(),
                          images_cpu.data(), labels_cpu.data());
      make_training_batch(gpu(), data_gpu, shard.data(), n, normalization, augmentation, position.data(),
                          images_gpu.data(), labels_gpu.data());
      expect_exact("training images", images_gpu.data(), images_cpu.data(), values);
      CHECK(first_difference(labels_gpu.data(), labels_cpu.data(), n) == static_cast<size_t>(n));
    }
  expect_no_findings();
}
