// Checkpoint serialisation: "CKPT", version, entries (name, kind, count, data), FNV-1a checksum;
// and the folder swap that replaces all ranks' files at once.
#include "engine/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "data/files.h"
#include "engine/atomic_file.h"
#include "engine/check.h"

namespace {

constexpr uint32_t kMagic = 0x54504b43u;  // "CKPT"
constexpr uint32_t kVersion = 3;  // 3: every fingerprint setting required, names hashed as text


template <typename T>
void put(std::vector<uint8_t>& out, const T& value) {
  const auto* raw = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), raw, raw + sizeof value);
}

void put_name(std::vector<uint8_t>& out, const std::string& name) {
  put(out, static_cast<uint32_t>(name.size()));
  out.insert(out.end(), name.begin(), name.end());
}

}  // namespace

void CheckpointWriter::add_vector(const std::string& name, Context& ctx, const float* data, size_t n) {
  std::vector<float>& v = vectors_[name];
  v.resize(n);
  ctx.download(v.data(), data, n * sizeof(float));
}

void CheckpointWriter::add_number(const std::string& name, double value) { numbers_[name] = value; }

void CheckpointWriter::write(const std::string& path, const std::function<void()>& on_failure) const {
  std::vector<uint8_t> out;
  put(out, kMagic);
  put(out, kVersion);
  put(out, static_cast<uint64_t>(vectors_.size()));
  put(out, static_cast<uint64_t>(numbers_.size()));
  for (const auto& [name, v] : vectors_) {
    put_name(out, name);
    put(out, static_cast<uint64_t>(v.size()));
    const auto* raw = reinterpret_cast<const uint8_t*>(v.data());
    out.insert(out.end(), raw, raw + v.size() * sizeof(float));
  }
  for (const auto& [name, value] : numbers_) {
    put_name(out, name);
    put(out, value);
  }
  put(out, checkpoint_checksum(out.data(), out.size()));

  write_file_atomically(path, out.data(), out.size(), on_failure);
}

uint64_t checkpoint_checksum(const uint8_t* bytes, size_t length) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (size_t i = 0; i < length; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}

CheckpointReader::CheckpointReader(const std::string& path) : CheckpointReader(read_file_bytes(path), path) {}

CheckpointReader::CheckpointReader(const std::vector<uint8_t>& bytes, const std::string& path) : path_(path) {
  size_t at = 0;
  const auto take = [&](void* out, size_t n) {
    if (at + n > bytes.size()) fail_input("checkpoint %s is truncated", path.c_str());
    if (n == 0) return;  // an empty vector's data() may be null, which memcpy must not be given
    std::memcpy(out, bytes.data() + at, n);
    at += n;
  };
  uint64_t stored_hash = 0;
  if (bytes.size() < 8 + 16 + 8) fail_input("checkpoint %s is truncated", path.c_str());
  std::memcpy(&stored_hash, bytes.data() + bytes.size() - 8, 8);
  if (checkpoint_checksum(bytes.data(), bytes.size() - 8) != stored_hash) fail_input("checkpoint %s is truncated or corrupt (its checksum does not match)", path.c_str());
  uint32_t magic, version;
  uint64_t vector_count, number_count;
  take(&magic, 4);
  take(&version, 4);
  if (magic != kMagic || version != kVersion) fail_input("%s is not a version-%u checkpoint", path.c_str(), kVersion);
  take(&vector_count, 8);
  take(&number_count, 8);
  // A count read from the file is checked against the bytes left before anything is sized by it:
  // a damaged count must not ask for gigabytes.
  const auto check_count = [&](uint64_t count, size_t element_bytes) {
    if (count > (bytes.size() - at) / element_bytes) fail_input("checkpoint %s is truncated", path.c_str());
  };
  const auto take_name = [&] {
    uint32_t length;
    take(&length, 4);
    check_count(length, 1);
    std::string name(length, '\0');
    take(name.data(), length);
    return name;
  };
  for (uint64_t i = 0; i < vector_count; ++i) {
    const std::string name = take_name();
    uint64_t n;
    take(&n, 8);
    check_count(n, sizeof(float));
    std::vector<float>& v = vectors_[name];
    v.resize(n);
    take(v.data(), n * sizeof(float));
  }
  for (uint64_t i = 0; i < number_count; ++i) {
    const std::string name = take_name();
    take(&numbers_[name], sizeof(double));
  }
}

void CheckpointReader::read_vector(const std::string& name, Context& ctx, float* data, size_t n) const {
  const auto found = vectors_.find(name);
  if (found == vectors_.end()) fail_input("checkpoint %s has no %s", path_.c_str(), name.c_str());
  if (found->second.size() != n)
    fail_input("checkpoint %s: %s has %zu values, the run needs %zu (another model or configuration?)", path_.c_str(),
               name.c_str(), found->second.size(), n);
  ctx.upload(data, found->second.data(), n * sizeof(float));
  ctx.synchronize();  // the host copy goes away with the reader
}

double CheckpointReader::number(const std::string& name) const {
  const auto found = numbers_.find(name);
  if (found == numbers_.end()) fail_input("checkpoint %s has no %s", path_.c_str(), name.c_str());
  return found->second;
}

// ---------------------------------------------------------------------------------------------

namespace {

namespace fs = std::filesystem;

void remove_folder(const std::string& path) {
  std::error_code error;
  fs::remove_all(path, error);
  if (error) fail_input("cannot remove %s: %s", path.c_str(), error.message().c_str());
}

void rename_folder(const std::string& from, const std::string& to) {
  std::error_code error;
  fs::rename(from, to, error);
  if (error) fail_input("cannot rename %s to %s: %s", from.c_str(), to.c_str(), error.message().c_str());
}

// Without throwing: a path that cannot be examined (no permission) counts as absent.
bool present(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

std::string rank_file(const std::string& dir, int rank) { return dir + "/rank-" + std::to_string(rank) + ".bin"; }

}  // namespace

CheckpointFolder::CheckpointFolder(const std::string& run_dir)
    : dir_(run_dir + "/checkpoint"), staging_(dir_ + ".tmp"), old_(dir_ + ".old") {}

void CheckpointFolder::begin() const {
  remove_folder(staging_);  // what a run that died while writing left
  std::error_code error;
  fs::create_directories(staging_, error);
  if (error) fail_input("cannot create %s: %s", staging_.c_str(), error.message().c_str());
}

std::string CheckpointFolder::staging_file(int rank) const { return rank_file(staging_, rank); }

void CheckpointFolder::abandon() const {
  std::error_code ignored;  // on the way to an error already
  fs::remove_all(staging_, ignored);
}

void CheckpointFolder::publish() const {
  // checkpoint.old/ goes only once checkpoint/ is there to replace it: after a crash mid-swap it is
  // the one complete checkpoint.
  if (present(dir_)) {
    remove_folder(old_);
    rename_folder(dir_, old_);
  }
  rename_folder(staging_, dir_);
  remove_folder(old_);
}

std::string CheckpointFolder::file_to_resume(int rank) const {
  // Without checkpoint/ but with checkpoint.old/, the run died between the swap's two renames.
  const std::string& dir = !present(dir_) && present(old_) ? old_ : dir_;
  std::error_code error;
  if (present(dir) && !fs::is_directory(dir, error))
    fail_input("no checkpoint to resume from: %s is not a folder", dir.c_str());
  if (!fs::is_directory(dir, error))
    fail_input("no checkpoint to resume from: %s does not exist (was the run started with --checkpoint-every?)",
               dir_.c_str());
  const std::string file = rank_file(dir, rank);
  if (present(file)) return file;
  // Which is it: a run of fewer ranks, or a file of this one missing or renamed?
  int files = 0, highest = -1;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    const std::string other = entry.path().filename().string();  // rank-N.bin, N of 1 to 6 digits
    if (other.size() < 10 || other.size() > 15 || other.rfind("rank-", 0) != 0 || other.compare(other.size() - 4, 4, ".bin") != 0)
      continue;
    const std::string number = other.substr(5, other.size() - 9);
    if (number.find_first_not_of("0123456789") != std::string::npos) continue;
    ++files;
    highest = std::max(highest, std::stoi(number));
  }
  const std::string name = file.substr(dir.size() + 1);
  if (highest < rank)
    fail_input("the checkpoint in %s has no %s: it was written by %d rank%s, and this run has more", dir.c_str(),
               name.c_str(), files, files == 1 ? "" : "s");
  fail_input("the checkpoint in %s has no %s, but has files of ranks up to %d: a file is missing or was renamed",
             dir.c_str(), name.c_str(), highest);
}
