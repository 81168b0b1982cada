// Data: the CIFAR binary formats read back exactly, image folders and Tiny ImageNet load as a
// user's download would, bad files stop with a one-line error, augmentation is an exact crop and
// mirror, shards cover each epoch once, and the batch benchmark runs. Real archives are read from
// $TEST_DATA_DIR.
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include <sys/stat.h>

#include <stb/stb_image.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include "data/batch.h"
#include "data/cifar.h"
#include "data/image_decode.h"
#include "data/jpeg_tables.h"
#include "data/load.h"
#include "data/sharding.h"
#include "data/subset.h"
#include "data/tiny_imagenet.h"
#include "engine/check.h"
#include "tests/helpers.h"

namespace {

// Records in the official layout: label byte(s), then the R, G and B planes.
std::vector<uint8_t> cifar_records(int count, int label_bytes, int classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (int r = 0; r < count; ++r) {
    for (int b = 0; b < label_bytes; ++b) bytes.push_back(static_cast<uint8_t>(rng.below(b == 0 && label_bytes == 2 ? 20 : classes)));
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<uint8_t>(rng.below(256)));
  }
  return bytes;
}

// Pixel (y, x, c) of record r, read straight from the file bytes.
uint8_t record_pixel(const std::vector<uint8_t>& bytes, int label_bytes, int r, int y, int x, int c) {
  return bytes[static_cast<size_t>(r) * (label_bytes + 3072) + label_bytes + c * 1024 + y * 32 + x];
}

void check_exact(const Dataset& d, const std::vector<std::vector<uint8_t>>& files, int label_bytes, int label_index) {
  int r_global = 0;
  for (const auto& bytes : files) {
    const int count = static_cast<int>(bytes.size() / (label_bytes + 3072));
    for (int r = 0; r < count; ++r, ++r_global) {
      REQUIRE(d.labels[r_global] == bytes[static_cast<size_t>(r) * (label_bytes + 3072) + label_index]);
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          for (int c = 0; c < 3; ++c)
            REQUIRE(d.images[(static_cast<size_t>(r_global) * 1024 + y * 32 + x) * 3 + c] ==
                    record_pixel(bytes, label_bytes, r, y, x, c));
    }
  }
  CHECK(static_cast<int>(d.size()) == r_global);
}

TEST_CASE("cifar10 binary: small files in the official format read back pixel for pixel") {
  const std::string parent = temp_dir("c10"), dir = parent + "/cifar-10-batches-bin";
  std::vector<std::vector<uint8_t>> train;
  for (int i = 1; i <= 5; ++i) {
    train.push_back(cifar_records(3 + i, 1, 10, i));
    write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin", train.back().data(), train.back().size());
  }
  const std::vector<uint8_t> test = cifar_records(4, 1, 10, 9);
  write_bytes(dir + "/test_batch.bin", test.data(), test.size());
  for (const std::string& where : {dir, parent}) {  // the folder itself or its parent
    const DatasetSplits s = load_cifar10_binary(where);
    check_exact(s.train, train, 1, 0);
    check_exact(s.test, {test}, 1, 0);
    CHECK(s.train.classes == 10);
  }
  std::filesystem::remove_all(parent);
}

TEST_CASE("cifar100 binary: fine labels by default, coarse on request, pixels exact") {
  const std::string parent = temp_dir("c100"), dir = parent + "/cifar-100-binary";
  const std::vector<uint8_t> train = cifar_records(7, 2, 100, 3), test = cifar_records(5, 2, 100, 4);
  write_bytes(dir + "/train.bin", train.data(), train.size());
  write_bytes(dir + "/test.bin", test.data(), test.size());
  const DatasetSplits fine = load_cifar100_binary(parent, Cifar100Labels::Fine);
  check_exact(fine.train, {train}, 2, 1);
  check_exact(fine.test, {test}, 2, 1);
  CHECK(fine.train.classes == 100);
  const DatasetSplits coarse = load_cifar100_binary(dir, Cifar100Labels::Coarse);
  check_exact(coarse.train, {train}, 2, 0);
  CHECK(coarse.train.classes == 20);
  std::filesystem::remove_all(parent);
}

void check_refused(const std::string& args, const std::string& names) {
  INFO(args);
  const Outcome o = run_train("--inspect " + args);
  CHECK(o.status == 2);
  CHECK(lines_of(o.err).size() == 1);
  CHECK(o.err.find(names) != std::string::npos);
}

TEST_CASE("cifar binary: a truncated file, a folder or pipe as a file, a missing folder: an error naming it") {
  const std::string dir = temp_dir("c10bad");
  for (int i = 1; i <= 5; ++i) {
    const std::vector<uint8_t> ok = cifar_records(2, 1, 10, i);
    write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin", ok.data(), ok.size());
  }
  std::vector<uint8_t> cut = cifar_records(2, 1, 10, 7);
  cut.resize(cut.size() - 100);
  write_bytes(dir + "/test_batch.bin", cut.data(), cut.size());
  check_refused("--dataset cifar10 --data-dir " + dir, "test_batch.bin");
  // A folder, or a named pipe (which would block the read forever), where a file should be.
  std::filesystem::remove(dir + "/test_batch.bin");
  std::filesystem::create_directory(dir + "/test_batch.bin");
  check_refused("--dataset cifar10 --data-dir " + dir, "test_batch.bin: it is a folder");
  std::filesystem::remove(dir + "/test_batch.bin");
  REQUIRE(mkfifo((dir + "/test_batch.bin").c_str(), 0600) == 0);
  std::string output;  // under a timeout: opening a pipe that nobody writes would block for ever
  CHECK(run_shell("timeout 20 " + train_binary() + " --inspect --dataset cifar10 --data-dir " + dir, &output) == 2);
  CHECK(output == "error: cannot read " + dir + "/test_batch.bin: it is not a regular file\n");
  std::filesystem::remove(dir + "/test_batch.bin");
  write_bytes(dir + "/test_batch.bin", cut.data(), cut.size());
  std::filesystem::remove(dir + "/data_batch_3.bin");
  check_refused("--dataset cifar10 --data-dir " + dir, "data_batch_3.bin");
  check_refused("--dataset cifar10 --data-dir " + dir + "/nowhere", dir + "/nowhere");
  check_refused("--dataset cifar100 --data-dir " + dir, "train.bin");
  std::filesystem::remove_all(dir);
}

// A small square JPEG with `channels` channels (1 is grayscale), values from the seed.
std::vector<uint8_t> write_jpeg(const std::string& path, int size, int channels, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> pixels(static_cast<size_t>(size) * size * channels);
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng.below(256));
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  REQUIRE(stbi_write_jpg(path.c_str(), size, size, channels, pixels.data(), 90) != 0);
  return pixels;
}

// A miniature Tiny ImageNet: 3 classes, 2 training images each, 4 validation images, CRLF
// annotations, one grayscale image.
std::string make_mini_tiny_imagenet(const std::vector<std::string>& wnids) {
  const std::string root = temp_dir("tin") + "/tiny-imagenet-200";
  std::string list;
  for (const std::string& w : wnids) list += w + "\n";
  write_bytes(root + "/wnids.txt", list.data(), list.size());
  for (size_t c = 0; c < wnids.size(); ++c)
    for (int i = 0; i < 2; ++i)
      write_jpeg(root + "/train/" + wnids[c] + "/images/" + wnids[c] + "_" + std::to_string(i) + ".JPEG", 64,
                 c == 1 && i == 0 ? 1 : 3, c * 10 + i);
  const std::string annotations = "val_0.JPEG\t" + wnids[2] + "\t0\t0\t10\t10\r\nval_1.JPEG\t" + wnids[0] +
                                  "\t1\t2\t3\t4\r\nval_2.JPEG\t" + wnids[1] + "\t0\t0\t1\t1\r\nval_3.JPEG\t" + wnids[2] +
                                  "\t5\t5\t6\t6\r\n";
  write_bytes(root + "/val/val_annotations.txt", annotations.data(), annotations.size());
  for (int i = 0; i < 4; ++i) write_jpeg(root + "/val/images/val_" + std::to_string(i) + ".JPEG", 64, 3, 100 + i);
  return root;
}

TEST_CASE("tiny imagenet: wnids order, CRLF annotations, grayscale as RGB, 2x2 box downsizing") {
  const std::vector<std::string> wnids = {"n0300", "n0100", "n0200"};  // not sorted: the file's order counts
  const std::string root = make_mini_tiny_imagenet(wnids);
  const DatasetSplits s = load_tiny_imagenet(std::filesystem::path(root).parent_path().string(), 0);
  CHECK(s.train.size() == 6);
  CHECK(s.train.labels == std::vector<int32_t>{0, 0, 1, 1, 2, 2});
  CHECK(s.test.labels == std::vector<int32_t>{2, 0, 1, 2});
  CHECK(s.train.class_names == wnids);
  CHECK(s.train.height == 64);
  const uint8_t* gray = s.train.images.data() + 2 * s.train.image_bytes();  // n0100_0, written with one channel
  for (int i = 0; i < 64 * 64; ++i) {
    REQUIRE(gray[i * 3] == gray[i * 3 + 1]);
    REQUIRE(gray[i * 3] == gray[i * 3 + 2]);
  }
  const DatasetSplits small = load_tiny_imagenet(root, 32);
  CHECK(small.train.height == 32);
  for (int y = 0; y < 32; y += 7)
    for (int x = 0; x < 32; x += 5) {
      int sum = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) sum += s.test.images[((2 * y + dy) * 64 + 2 * x + dx) * 3 + 1];
      CHECK(small.test.images[(y * 32 + x) * 3 + 1] == (sum + 2) / 4);
    }
  std::filesystem::remove_all(std::filesystem::path(root).parent_path());
}

TEST_CASE("tiny imagenet and image folders: bad files stop with an error naming them") {
  const std::vector<std::string> wnids = {"n0300", "n0100", "n0200"};
  std::string root = make_mini_tiny_imagenet(wnids);
  write_bytes(root + "/wnids.txt", "n0300\nn0100\nn0200\nn0999\n", 24);
  check_refused("--dataset tinyimagenet --data-dir " + root, "n0999");
  write_bytes(root + "/wnids.txt", "n0300\nn0100\n", 12);
  check_refused("--dataset tinyimagenet --data-dir " + root, "val_annotations.txt:1: class n0200");
  write_bytes(root + "/wnids.txt", "n0300\nn0100\nn0200\n", 18);
  const std::string empty_class = root + "/train/n0200/images";
  std::filesystem::rename(empty_class, empty_class + ".away");
  std::filesystem::create_directory(empty_class);
  check_refused("--dataset tinyimagenet --data-dir " + root, "n0200/images holds no JPEG or PNG images");
  std::filesystem::remove(empty_class);
  std::filesystem::rename(empty_class + ".away", empty_class);
  const std::string corrupt = root + "/train/n0100/images/n0100_1.JPEG";
  const std::string text = "\xff\xd8\xff this is not really a JPEG";
  write_bytes(corrupt, text.data(), text.size());
  check_refused("--dataset tinyimagenet --data-dir " + root, "n0100_1.JPEG");
  std::filesystem::remove_all(std::filesystem::path(root).parent_path());

  const std::string folder = temp_dir("folder");
  write_jpeg(folder + "/train/a/0.jpg", 32, 3, 1);
  write_jpeg(folder + "/train/b/0.jpg", 32, 3, 2);
  write_jpeg(folder + "/test/a/0.jpg", 32, 3, 3);
  write_jpeg(folder + "/test/b/0.jpg", 32, 3, 4);
  CHECK(run_train("--inspect --dataset cifar10 --data-dir " + folder).status == 0);
  write_bytes(folder + "/test/b/1.jpg", text.data(), text.size());
  check_refused("--dataset cifar10 --data-dir " + folder, "test/b/1.jpg");
  write_bytes(folder + "/test/b/1.jpg", "", 0);
  check_refused("--dataset cifar10 --data-dir " + folder, "test/b/1.jpg is empty (0 bytes)");
  write_jpeg(folder + "/test/b/1.jpg", 16, 3, 5);
  check_refused("--dataset cifar10 --data-dir " + folder, "test/b/1.jpg is 16x16");
  std::filesystem::remove(folder + "/test/b/1.jpg");
  // Hidden folders and files (a notebook's, a file manager's) are no class and no image; a link to
  // nothing is not skipped silently.
  std::filesystem::create_directories(folder + "/train/.ipynb_checkpoints");
  write_bytes(folder + "/train/a/.DS_Store", "x", 1);
  const Outcome hidden = run_train("--inspect --dataset cifar10 --data-dir " + folder);
  CHECK(hidden.status == 0);
  CHECK(hidden.out.find("classes=2 ") != std::string::npos);
  std::filesystem::create_symlink(folder + "/nowhere.jpg", folder + "/test/b/1.jpg");
  check_refused("--dataset cifar10 --data-dir " + folder, "test/b/1.jpg is not a file that can be read (a link to nothing)");
  std::filesystem::remove_all(folder);
  // Every image 16x16: the images' size is what is wrong, not a flag the user did not give.
  for (const char* image : {"/train/a/0.jpg", "/train/b/0.jpg", "/test/a/0.jpg", "/test/b/0.jpg"})
    write_jpeg(folder + image, 16, 3, 6);
  check_refused("--dataset cifar10 --data-dir " + folder, "are 16x16: loading them at 32x32 needs 32x32 or 64x64 images");
  std::filesystem::remove_all(folder);
}

TEST_CASE("fuzzer finds: a JPEG Huffman table of more than 256 codes, a wnid or file that is not a plain name") {
  // SOI, then a DHT segment whose one table declares 16 x 17 = 272 codes: Debian's stb_image would
  // write past its 257-entry table (tests/fuzz/corpus/image/found-dht-over-256-codes).
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC4, 0x01, 0x23, 0x00};
  for (int i = 0; i < 16; ++i) jpeg.push_back(17);
  jpeg.resize(jpeg.size() + 272, 0);
  CHECK_FALSE(jpeg_huffman_tables_safe(jpeg.data(), jpeg.size()));
  jpeg[7 + 15] = 0;  // 255 codes: safe (and then refused by the decoder for what else is wrong)
  CHECK(jpeg_huffman_tables_safe(jpeg.data(), jpeg.size()));
  jpeg[7 + 15] = 17;
  uint8_t pixels[32 * 32 * 3];
  CHECK(decode_image_bytes(jpeg, "bad.jpg", 32, 32, pixels) ==
        "cannot decode image bad.jpg: corrupt JPEG (a Huffman table with more than 256 codes)");

  CHECK_THROWS_AS(parse_wnids({"n01443537", "../n01443537"}, "wnids.txt"), UserError);
  CHECK_THROWS_AS(parse_wnids({".hidden"}, "wnids.txt"), UserError);
  CHECK(parse_wnids({"n1", "", "n2"}, "wnids.txt") == std::vector<std::string>{"n1", "n2"});
  CHECK_THROWS_AS(parse_val_annotations({"../../etc/passwd\tn1"}, "val_annotations.txt", {"n1"}), UserError);
  const std::vector<Annotation> a = parse_val_annotations({"val_0.JPEG\tn2\t0\t0"}, "val_annotations.txt", {"n1", "n2"});
  REQUIRE(a.size() == 1);
  CHECK(a[0].file == "val_0.JPEG");
  CHECK(a[0].label == 1);
}

TEST_CASE("fuzzer finds: a JPEG whose Huffman code leads to a symbol of another length decodes the same every time") {
  // stb_image asserted that a decoded code has its symbol's length, reading table entries no table
  // wrote: the fuzzer saw an abort, depending on what the heap held. Now it neither asserts nor
  // reads what was never written (its state is zeroed): the same outcome every time, in one line.
  const std::string text = read_text("tests/fuzz/corpus/image/found-huffman-code-of-another-length");
  REQUIRE(text.size() == 716);
  const std::vector<uint8_t> jpeg(text.begin(), text.end());
  std::vector<uint8_t> first(64 * 64 * 3, 1), again(64 * 64 * 3, 2);
  const std::string error = decode_image_bytes(jpeg, "found.jpg", 64, 64, first.data());
  for (int i = 0; i < 20; ++i) {  // heap contents vary between calls
    std::vector<uint8_t> clutter(4096 + 256 * i, static_cast<uint8_t>(0x5a + i));
    CHECK(decode_image_bytes(jpeg, "found.jpg", 64, 64, again.data()) == error);
    if (error.empty()) CHECK(again == first);
  }
  CHECK(lines_of(error).size() <= 1);
}

TEST_CASE("fuzzer finds: a PNG with an empty IDAT chunk decodes as without it; one that claims 2 GiB is refused") {
  // stb_image copied the empty chunk with memcpy(NULL, ..., 0), undefined behaviour: the empty data
  // chunks are dropped first, which changes no pixel.
  const std::string text = read_text("tests/fuzz/corpus/image/gradient-32.png");
  const std::vector<uint8_t> png(text.begin(), text.end());
  size_t idat = 8;  // the first IDAT chunk: walk length + type + data + CRC
  while (std::string(png.begin() + static_cast<long>(idat) + 4, png.begin() + static_cast<long>(idat) + 8) != "IDAT")
    idat += 12 + (static_cast<size_t>(png[idat]) << 24 | png[idat + 1] << 16 | png[idat + 2] << 8 | png[idat + 3]);
  std::vector<uint8_t> with_empty(png.begin(), png.begin() + static_cast<long>(idat));
  const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};  // its CRC
  with_empty.insert(with_empty.end(), empty_idat, empty_idat + 12);
  with_empty.insert(with_empty.end(), png.begin() + static_cast<long>(idat), png.end());
  std::vector<uint8_t> expected(32 * 32 * 3), actual(32 * 32 * 3);
  REQUIRE(decode_image_bytes(png, "plain.png", 32, 32, expected.data()).empty());
  CHECK(decode_image_bytes(with_empty, "empty-idat.png", 32, 32, actual.data()).empty());
  CHECK(actual == expected);
  // A data chunk that claims 2 GiB: stb_image would allocate it before reading; its allocations are
  // capped, and the file is refused.
  const std::string claims = read_text("tests/fuzz/corpus/image/found-idat-claiming-2-gib");
  std::vector<uint8_t> claims_pixels(32 * 32 * 3);
  CHECK(decode_image_bytes(std::vector<uint8_t>(claims.begin(), claims.end()), "claims.png", 32, 32,
                           claims_pixels.data()) ==
        "cannot decode image claims.png: damaged (it claims more data than a 64x64 image holds)");
  // The fuzzer's files: an empty first IDAT with garbage after it, and one whose CRC is cut off.
  for (const char* name : {"found-empty-first-idat", "found-empty-idat-without-crc"}) {
    std::vector<uint8_t> found_pixels(32 * 32 * 3);
    const std::string found = read_text(std::string("tests/fuzz/corpus/image/") + name);
    CHECK(lines_of(decode_image_bytes(std::vector<uint8_t>(found.begin(), found.end()), "found.png", 32, 32,
                                      found_pixels.data())).size() == 1);  // refused, in one line
  }
}

TEST_CASE("subsets: balanced over the classes, seeded, in storage order, each image with its label") {
  // Sorted by class, as image folders are: 5 of class 0, 3 of class 1, 10 of class 2. Each image's
  // first byte is its index, so that what was kept can be followed.
  Dataset full;
  full.height = full.width = 1;
  full.classes = 3;
  for (int i = 0; i < 18; ++i) {
    full.labels.push_back(i < 5 ? 0 : i < 8 ? 1 : 2);
    full.images.insert(full.images.end(), {static_cast<uint8_t>(i), 7, 7});
  }
  const auto kept = [&](size_t n, uint64_t seed) {
    Dataset d = full;
    keep_balanced_subset(d, n, seed);
    REQUIRE(d.images.size() == 3 * d.size());
    std::vector<int> indices;
    for (size_t k = 0; k < d.size(); ++k) {
      const int i = d.images[3 * k];
      CHECK(d.labels[k] == full.labels[i]);  // the label travelled with its image
      if (k > 0) CHECK(i > indices.back());  // storage order
      indices.push_back(i);
    }
    return std::make_pair(d.class_counts(), indices);
  };
  CHECK(kept(9, 1).first == std::vector<int>{3, 3, 3});
  CHECK(kept(10, 1).first == std::vector<int>{4, 3, 3});  // one more for the first class in turn
  CHECK(kept(14, 1).first == std::vector<int>{5, 3, 6});  // class 1 has no more: the others go on
  CHECK(kept(18, 1).first == std::vector<int>{5, 3, 10});
  CHECK(kept(9, 1).second == kept(9, 1).second);          // seeded
  CHECK(kept(9, 1).second != kept(9, 2).second);          // and another seed, another sample
}

TEST_CASE("cifar10 (real archive): 50,000 training and 10,000 test images, 5,000 and 1,000 per class" *
          REQUIRES_TEST_DATA) {
  const std::string dir = unpacked_test_data("cifar10-jpg.tar.gz");
  const Outcome o = run_train("--inspect --dataset cifar10 --data-dir " + dir);
  REQUIRE(o.status == 0);
  CHECK(lines_of(o.out)[0] == "train=50000 test=10000 classes=10 shape=32x32x3");
  const DatasetSplits s = load_dataset(DatasetOptions{"cifar10", dir + "/cifar10-jpg"});
  CHECK(s.train.class_names[0] == "airplane");
  CHECK(s.train.class_names[9] == "truck");
  for (int c = 0; c < 10; ++c) {
    CHECK(s.train.class_counts()[c] == 5000);
    CHECK(s.test.class_counts()[c] == 1000);
  }
  // The folder is sorted by class: a subset is still every class, equally.
  const Outcome subset = run_train("--inspect --dataset cifar10 --train-subset 100 --test-subset 50 --data-dir " + dir);
  REQUIRE(subset.status == 0);
  CHECK(lines_of(subset.out)[0] == "train=100 test=50 classes=10 shape=32x32x3");
  for (int c = 0; c < 10; ++c) CHECK(lines_of(subset.out)[1 + c].find("train=10 test=5") != std::string::npos);
}

TEST_CASE("tiny imagenet (real archive): 200 classes, 500 images each, validation labels as annotated" *
          REQUIRES_TEST_DATA) {
  const std::string dir = unpacked_test_data("tiny-imagenet-200.tar.gz");
  const auto start = std::chrono::steady_clock::now();
  const DatasetSplits s = load_tiny_imagenet(dir, 0);
  MESSAGE("decoded Tiny ImageNet (110,000 JPEGs) in "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
  CHECK(s.train.size() == 100000);
  CHECK(s.test.size() == 10000);
  CHECK(s.train.classes == 200);
  for (int count : s.train.class_counts()) REQUIRE(count == 500);

  const std::string root = find_tiny_imagenet_dir(dir);
  std::unordered_map<std::string, int> label_of;
  for (const std::string& w : lines_of(read_text(root + "/wnids.txt")))
    if (!w.empty()) label_of[w.substr(0, w.find('\r'))] = static_cast<int>(label_of.size());
  const std::vector<std::string> annotations = lines_of(read_text(root + "/val/val_annotations.txt"));
  size_t checked = 0, grayscale = 0;
  for (size_t i = 0; i < annotations.size(); ++i) {
    if (annotations[i].empty()) continue;
    const size_t t1 = annotations[i].find('\t'), t2 = annotations[i].find('\t', t1 + 1);
    REQUIRE(s.test.labels[i] == label_of.at(annotations[i].substr(t1 + 1, t2 - t1 - 1)));
    ++checked;
    // Grayscale files come out with three equal channels.
    int w, h, channels;
    const std::string path = root + "/val/images/" + annotations[i].substr(0, t1);
    REQUIRE(stbi_info(path.c_str(), &w, &h, &channels));
    if (channels != 1) continue;
    ++grayscale;
    const uint8_t* image = s.test.images.data() + i * s.test.image_bytes();
    for (int p = 0; p < 64 * 64; ++p) REQUIRE((image[p * 3] == image[p * 3 + 1] && image[p * 3] == image[p * 3 + 2]));
  }
  CHECK(checked == 10000);
  MESSAGE(grayscale << " grayscale validation images checked");
  CHECK(grayscale > 0);
}

// ---------------------------------------------------------------------------------------------

// A dataset of `n` 8x8 images whose pixels are all non-zero, so a zero can only be padding.
Dataset nonzero_images(int n, int size) {
  Dataset d;
  d.height = d.width = size;
  d.classes = 3;
  Rng rng(5);
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 3);
  d.images.resize(static_cast<size_t>(n) * d.image_bytes());
  for (uint8_t& p : d.images) p = static_cast<uint8_t>(1 + rng.below(255));
  return d;
}

std::vector<float> batch_of(Context& ctx, const DeviceDataset& data, const std::vector<int32_t>& indices,
                            const Augmentation& a, const Normalization& norm) {
  Buffer<int32_t> order(ctx, indices.size()), labels(ctx, indices.size());
  ctx.upload(order.data(), indices.data(), indices.size() * sizeof(int32_t));
  const int n = static_cast<int>(indices.size());
  Tensor out = Tensor::empty(ctx, {n, 3, data.height, data.width});
  make_batch(ctx, data, order.data(), n, norm, a, out.data(), labels.data());
  return out.to_host(ctx);
}

TEST_CASE("augmentation: a crop is a shifted window with zeros only in the padding, a flip an exact mirror") {
  Context& ctx = *new Context(ContextOptions{Device::CPU});  // lives for the test binary
  const int size = 8, n = 400;
  const Dataset d = nonzero_images(n, size);
  const DeviceDataset data(ctx, d);
  const Normalization identity = {{0, 0, 0}, {1, 1, 1}};  // output = pixel / 255 exactly
  std::vector<int32_t> indices(n);
  for (int i = 0; i < n; ++i) indices[i] = (i * 37) % n;
  const Augmentation a{true, 2, 11, 3};
  const std::vector<float> out = batch_of(ctx, data, indices, a, identity);
  std::set<std::tuple<int, int, bool>> seen;
  for (int b = 0; b < n; ++b) {
    const SampleTransform t = sample_transform(a, indices[b]);
    seen.insert({t.offset_y, t.offset_x, t.flip});
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          // Undo the mirror, then the window shift: the source pixel, or padding.
          const int unflipped_x = t.flip ? size - 1 - x : x;
          const int sy = y + t.offset_y - a.pad, sx = unflipped_x + t.offset_x - a.pad;
          const float value = out[((static_cast<size_t>(b) * 3 + c) * size + y) * size + x];
          if (sy < 0 || sy >= size || sx < 0 || sx >= size) {
            REQUIRE(value == 0.0f);
          } else {
            REQUIRE(value != 0.0f);
            REQUIRE(value == d.images[((static_cast<size_t>(indices[b]) * size + sy) * size + sx) * 3 + c] * (1.0f / 255.0f));
          }
        }
  }
  CHECK(seen.size() == 5 * 5 * 2);  // every offset pair, flipped and not, occurs

  // Without augmentation the batch is the image itself, normalised.
  const Normalization cifar = {{0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.262f}};
  const std::vector<float> plain = batch_of(ctx, data, {4}, Augmentation{}, cifar);
  CHECK(plain[1 * 64 + 2 * 8 + 3] == (d.images[(4 * 64 + 2 * 8 + 3) * 3 + 1] * (1.0f / 255.0f) - 0.482f) / 0.243f);
  // The same key gives the same transform; another epoch another one somewhere.
  Augmentation next = a;
  next.epoch = 4;
  int differing = 0;
  for (int s = 0; s < 50; ++s) {
    const SampleTransform t1 = sample_transform(a, s), t2 = sample_transform(a, s), t3 = sample_transform(next, s);
    CHECK(t1.offset_x == t2.offset_x);
    differing += t1.offset_x != t3.offset_x || t1.offset_y != t3.offset_y || t1.flip != t3.flip;
  }
  CHECK(differing > 25);
}

TEST_CASE("augmentation: CPU and GPU batches agree to the last bit" * REQUIRES_GPU) {
  const Dataset d = nonzero_images(300, 32);
  std::vector<int32_t> indices(256);
  for (int i = 0; i < 256; ++i) indices[i] = (i * 7) % 300;
  const Augmentation a{true, 4, 3, 9};
  const Normalization norm = {{0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.262f}};
  Context cpu(ContextOptions{Device::CPU}), gpu(ContextOptions{Device::CUDA});
  const DeviceDataset on_cpu(cpu, d), on_gpu(gpu, d);
  CHECK(batch_of(cpu, on_cpu, indices, a, norm) == batch_of(gpu, on_gpu, indices, a, norm));
}

TEST_CASE("sharding: every sample appears exactly once per epoch across workers") {
  const int size = 1000, batch = 7;
  for (int workers : {1, 2, 3, 8}) {
    INFO(workers << " workers");
    const int steps = steps_per_epoch(size, workers, batch);
    CHECK(steps == size / (workers * batch));
    std::vector<int> seen(size, 0);
    for (int rank = 0; rank < workers; ++rank) {
      const std::vector<int32_t> shard = worker_shard(42, 3, size, workers, rank, batch);
      CHECK(shard.size() == static_cast<size_t>(steps) * batch);
      for (int32_t i : shard) ++seen[i];
    }
    // Each sample at most once; exactly steps * workers * batch of them, the rest dropped alike.
    CHECK(*std::max_element(seen.begin(), seen.end()) == 1);
    CHECK(std::count(seen.begin(), seen.end(), 1) == steps * workers * batch);
  }
  const std::vector<int32_t> p = epoch_permutation(42, 3, size);
  CHECK(std::set<int32_t>(p.begin(), p.end()).size() == size_t(size));
  CHECK(p == epoch_permutation(42, 3, size));
  CHECK(p != epoch_permutation(42, 4, size));
  CHECK(p != epoch_permutation(43, 3, size));
}

TEST_CASE("train: a few steps on the real CIFAR-10 images, evaluated on the test split" * REQUIRES_TEST_DATA) {
  const std::string dir = unpacked_test_data("cifar10-jpg.tar.gz"), run = temp_dir("c10run");
  const Outcome o = run_train("--device cpu --dataset cifar10 --data-dir " + dir +
                              " --width 4 --batch-size 16 --steps 5 --log-every 5 --run-dir " + run);
  REQUIRE(o.status == 0);
  const std::string metrics = read_text(run + "/metrics.jsonl");
  CHECK(metrics.find("\"test_acc\"") != std::string::npos);
  std::filesystem::remove_all(run);
}

TEST_CASE("bench_batch runs (a check that it works, not a timing)") {
  // `make bench` runs it on the GPU machine, which CI is not: this keeps it from rotting.
  std::string output;
  CHECK(run_shell("build/bench_batch", &output) == 0);
  INFO(output);
  CHECK(output.find("  CPU  32x32") != std::string::npos);
  CHECK(output.find("nan") == std::string::npos);
}

}  // namespace
