// Stand-in for CUB's DeviceRadixSort in the emulated build: a stable sort on key bits [begin_bit, end_bit), which is CUB's documented contract.
//
// The temporary storage follows CUB's protocol: a call with d_temp_storage == nullptr asks for the
// size; the real call must then pass at least that many bytes, which are all written, so that
// AddressSanitizer notices a caller that passes a smaller buffer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include <cuda_runtime.h>

namespace cub {

struct DeviceRadixSort {
  template <typename Key, typename Value>
  static cudaError_t SortPairsDescending(void* d_temp_storage, size_t& temp_storage_bytes, const Key* keys_in,
                                         Key* keys_out, const Value* values_in, Value* values_out, int n,
                                         int begin_bit = 0, int end_bit = 8 * sizeof(Key), cudaStream_t = nullptr) {
    if (d_temp_storage == nullptr) {  // the size query
      temp_storage_bytes = temp_bytes(n);
      return cudaSuccess;
    }
    if (cudaError_t error = use_temp_storage(d_temp_storage, temp_storage_bytes, n)) return error;
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return bits(keys_in[a], begin_bit, end_bit) > bits(keys_in[b], begin_bit, end_bit);
    });
    std::vector<Key> keys(n);
    std::vector<Value> values(n);
    for (int i = 0; i < n; ++i) keys[i] = keys_in[order[i]], values[i] = values_in[order[i]];
    std::copy(keys.begin(), keys.end(), keys_out);
    std::copy(values.begin(), values.end(), values_out);
    return cudaSuccess;
  }

  template <typename Key>
  static cudaError_t SortKeys(void* d_temp_storage, size_t& temp_storage_bytes, const Key* keys_in, Key* keys_out,
                              int n, int begin_bit = 0, int end_bit = 8 * sizeof(Key), cudaStream_t = nullptr) {
    if (d_temp_storage == nullptr) {  // the size query
      temp_storage_bytes = temp_bytes(n);
      return cudaSuccess;
    }
    if (cudaError_t error = use_temp_storage(d_temp_storage, temp_storage_bytes, n)) return error;
    std::vector<Key> keys(keys_in, keys_in + n);
    std::stable_sort(keys.begin(), keys.end(),
                     [&](Key a, Key b) { return bits(a, begin_bit, end_bit) < bits(b, begin_bit, end_bit); });
    std::copy(keys.begin(), keys.end(), keys_out);
    return cudaSuccess;
  }

 private:
  static size_t temp_bytes(int n) { return 256 + 16 * static_cast<size_t>(n); }

  // CUB sorts only with as much temporary storage as the size query returned; it uses all of it.
  static cudaError_t use_temp_storage(void* d_temp_storage, size_t temp_storage_bytes, int n) {
    if (n < 0 || temp_storage_bytes < temp_bytes(n)) return cudaErrorInvalidValue;
    std::memset(d_temp_storage, 0x5A, temp_bytes(n));
    return cudaSuccess;
  }

  template <typename Key>
  static Key bits(Key key, int begin_bit, int end_bit) {
    const int width = end_bit - begin_bit;
    const Key shifted = key >> begin_bit;
    return width >= static_cast<int>(8 * sizeof(Key)) ? shifted : shifted & ((Key(1) << width) - 1);
  }
};

}  // namespace cub
