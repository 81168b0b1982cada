// MPI transport and runtime.
#include "comm/mpi.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "comm/mpi_check.h"
#include "engine/check.h"


namespace {

// Polls until every request is done, rather than blocking, so that a peer that died is noticed
// within the timeout.
void wait_all(std::vector<MPI_Request>& requests, std::vector<MPI_Status>& statuses, int rank, double timeout_seconds,
              const char* what) {
  statuses.resize(requests.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (int done = 0;;) {
    MPI_CHECK(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, statuses.data()));
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline)
      throw CommError("rank " + std::to_string(rank) + " waited " + seconds_text(timeout_seconds) +
                      " s for " + what + " (did a rank stop early?)");
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

}  // namespace

int rank_from_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* rank = std::getenv(v)) return std::atoi(rank);
  return -1;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) { MPI_CHECK(MPI_Init(argc, argv)); }

MpiRuntime::~MpiRuntime() { MPI_Finalize(); }

int MpiRuntime::rank() const {
  int r = 0;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

int MpiRuntime::size() const {
  int s = 0;
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &s));
  return s;
}

namespace {
// (rank, size) within the ranks that share this node's memory.
std::pair<int, int> node_rank_and_size(int world_rank) {
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node));
  int r = 0, s = 1;
  MPI_CHECK(MPI_Comm_rank(node, &r));
  MPI_CHECK(MPI_Comm_size(node, &s));
  MPI_CHECK(MPI_Comm_free(&node));
  return {r, s};
}
}  // namespace

int MpiRuntime::local_rank() const { return node_rank_and_size(rank()).first; }

int MpiRuntime::local_size() const { return node_rank_and_size(rank()).second; }

void MpiRuntime::abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

MpiTransport::MpiTransport(Context& ctx, const MpiRuntime& mpi, double timeout_seconds)
    : Transport(ctx, mpi.rank(), mpi.size()), timeout_seconds_(timeout_seconds) {}

MpiTransport::~MpiTransport() {
  if (staging_ != nullptr) cudaFreeHost(staging_);
}

uint8_t* MpiTransport::staging(size_t bytes) {
  if (bytes > staging_bytes_) {
    if (staging_ != nullptr) CUDA_CHECK(cudaFreeHost(staging_));
    CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&staging_), bytes));
    staging_bytes_ = bytes;
  }
  return staging_;
}

void MpiTransport::exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) {
  const bool device = ctx_.is_cuda();
  std::vector<uint8_t*> send_at, recv_at;
  if (device) {  // one pinned area: sends first, then receives
    size_t total = 0;
    for (const Post& p : sends) total += p.bytes;
    for (const Post& p : recvs) total += p.bytes;
    uint8_t* area = staging(std::max<size_t>(total, 1));
    for (const Post& p : sends) {
      if (p.bytes > 0) CUDA_CHECK(cudaMemcpyAsync(area, p.data, p.bytes, cudaMemcpyDeviceToHost, ctx_.stream));
      send_at.push_back(area);
      area += p.bytes;
    }
    for (const Post& p : recvs) {
      recv_at.push_back(area);
      area += p.bytes;
    }
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  } else {
    for (const Post& p : sends) send_at.push_back(static_cast<uint8_t*>(p.data));
    for (const Post& p : recvs) recv_at.push_back(static_cast<uint8_t*>(p.data));
  }

  std::vector<MPI_Request> requests;
  for (size_t i = 0; i < recvs.size(); ++i) {
    CHECK(recvs[i].bytes <= static_cast<size_t>(INT32_MAX), "MPI message of %zu bytes is too large", recvs[i].bytes);
    requests.emplace_back();
    MPI_CHECK(MPI_Irecv(recv_at[i], static_cast<int>(recvs[i].bytes), MPI_BYTE, recvs[i].peer, 0, MPI_COMM_WORLD,
                        &requests.back()));
  }
  for (size_t i = 0; i < sends.size(); ++i) {
    CHECK(sends[i].bytes <= static_cast<size_t>(INT32_MAX), "MPI message of %zu bytes is too large", sends[i].bytes);
    requests.emplace_back();
    MPI_CHECK(MPI_Isend(send_at[i], static_cast<int>(sends[i].bytes), MPI_BYTE, sends[i].peer, 0, MPI_COMM_WORLD,
                        &requests.back()));
  }
  std::vector<MPI_Status> statuses;
  wait_all(requests, statuses, rank_, timeout_seconds_, "its peers' messages");
  for (size_t i = 0; i < recvs.size(); ++i) {
    int count = 0;
    MPI_CHECK(MPI_Get_count(&statuses[i], MPI_BYTE, &count));
    if (static_cast<size_t>(count) != recvs[i].bytes)
      throw CommError("rank " + std::to_string(rank_) + " expected " + std::to_string(recvs[i].bytes) +
                      " bytes from rank " + std::to_string(recvs[i].peer) + ", got " + std::to_string(count));
  }
  if (device) {
    for (size_t i = 0; i < recvs.size(); ++i)
      if (recvs[i].bytes > 0)
        CUDA_CHECK(cudaMemcpyAsync(recvs[i].data, recv_at[i], recvs[i].bytes, cudaMemcpyHostToDevice, ctx_.stream));
    CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));  // the staging area is reused by the next group
  }
}

void MpiTransport::barrier() {
  std::vector<MPI_Request> request(1);
  std::vector<MPI_Status> status;
  MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, &request[0]));
  wait_all(request, status, rank_, timeout_seconds_, "the other ranks at a barrier");
}

std::vector<double> MpiTransport::all_gather(const std::vector<double>& values) {
  // Every rank brings the same count (Transport::all_reduce_max checks it first).
  std::vector<double> all(values.size() * size_);
  std::vector<MPI_Request> request(1);
  std::vector<MPI_Status> status;
  MPI_CHECK(MPI_Iallgather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(),
                           static_cast<int>(values.size()), MPI_DOUBLE, MPI_COMM_WORLD, &request[0]));
  wait_all(request, status, rank_, timeout_seconds_, "the other ranks at an all-gather");
  return all;
}
