// How a per-channel reduction over a channels-last [rows, c] activation is split among blocks and
// threads: one description that BatchNorm's NHWC statistics kernel follows and a CPU test replays.
#pragma once

#include "engine/host_device.h"

// A block reads `group_packs` neighbouring packs of `width` channels (one 2- or 16-byte load
// each) in each of `lanes` rows at once: thread t takes pack t % group_packs of row lane
// t / group_packs, so a warp's loads are contiguous. It walks chunk_rows / lanes such steps, its
// chunk of rows. The grid is (chunks, groups): block (chunk, group) leaves one sum per channel
// of its group for its chunk.
//
// Wide packs matter because a bf16 element is 2 bytes: one channel per thread makes 64-byte
// warp loads, too few bytes in flight to keep HBM busy; a 16-byte pack per thread makes 512.
struct ChannelsLastTiling {
  long rows;        // pixels over the batch, n * h * w
  int width;        // channels per pack: 8 (c a multiple of 8, aligned data) or 1
  int packs;        // packs per row: c / width
  int group_packs;  // packs one block covers
  int lanes;        // rows one block reads at once
  int groups;       // blocks across the channels
  long chunk_rows;  // rows per block
  long chunks;      // blocks along the rows

  // Each thread reads at least `rows_per_thread` rows, and each chunk at least `min_chunk_rows`
  // (so that with few lanes the partial sums, one per channel and chunk, stay few).
  HOST_DEVICE ChannelsLastTiling(long rows_, int c, int width_, int threads, int rows_per_thread, int min_chunk_rows)
      : rows(rows_), width(width_), packs(c / width_) {
    group_packs = packs < threads ? packs : threads;
    lanes = threads / group_packs;
    groups = (packs + group_packs - 1) / group_packs;
    const int steps = (min_chunk_rows + lanes - 1) / lanes;
    chunk_rows = static_cast<long>(lanes) * (steps > rows_per_thread ? steps : rows_per_thread);
    chunks = (rows + chunk_rows - 1) / chunk_rows;
  }

  // Thread `thread` of a block in channel group `group`: its pack and row lane, and whether it
  // reads at all (the last group may run past the packs; threads past lanes * group_packs idle).
  HOST_DEVICE int pack(int group, int thread) const { return group * group_packs + thread % group_packs; }
  HOST_DEVICE int lane(int thread) const { return thread / group_packs; }
  HOST_DEVICE bool reads(int group, int thread) const { return lane(thread) < lanes && pack(group, thread) < packs; }

  // The rows of chunk `chunk`: [first_row, end_row).
  HOST_DEVICE long first_row(long chunk) const { return chunk * chunk_rows; }
  HOST_DEVICE long end_row(long chunk) const {
    const long end = first_row(chunk) + chunk_rows;
    return end < rows ? end : rows;
  }

  // Adding the lanes: the block's k-th sum (k < group_packs * width) is channel sum_channel (or
  // -1 past c), the sum over lanes l of what thread sum_thread(l, k) left for channel
  // sum_offset(k) of its pack. Consecutive k go to consecutive threads' slots (no bank conflicts).
  HOST_DEVICE int sum_offset(int k) const { return k / group_packs; }
  HOST_DEVICE int sum_thread(int lane_, int k) const { return lane_ * group_packs + k % group_packs; }
  HOST_DEVICE int sum_channel(int group, int k) const {
    const int p = pack(group, k);
    return p < packs ? p * width + sum_offset(k) : -1;
  }
};
