// NCCL transport: bootstrap over MPI, one-GPU-per-rank check, grouped point-to-point.
#include "comm/nccl.h"

#include <nccl.h>

#include <cstring>
#include <string>
#include <vector>

#include "comm/mpi_check.h"
#include "engine/check.h"

#define NCCL_CHECK(call)                                                                      \
  do {                                                                                        \
    const ncclResult_t status_ = (call);                                                      \
    if (status_ != ncclSuccess)                                                               \
      fail_internal(__FILE__, __LINE__, "NCCL: %s (%s)", ncclGetErrorString(status_), #call); \
  } while (0)

int nccl_device_for(const MpiRuntime& mpi) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
    fail_input("--comm nccl needs a CUDA GPU on every rank (use --comm mpi without one)");
  return mpi.local_rank() % devices;
}

namespace {

// Every rank's GPU UUID, so that two ranks on one GPU are caught before NCCL sees them.
void refuse_shared_gpus(int gpu, int rank, int size) {
  cudaDeviceProp properties;
  CUDA_CHECK(cudaGetDeviceProperties(&properties, gpu));
  std::vector<char> all(static_cast<size_t>(size) * 16);
  MPI_CHECK(MPI_Allgather(properties.uuid.bytes, 16, MPI_BYTE, all.data(), 16, MPI_BYTE, MPI_COMM_WORLD));
  for (int other = 0; other < size; ++other)
    if (other != rank && std::memcmp(&all[other * 16], properties.uuid.bytes, 16) == 0)
      fail_input("--comm nccl: ranks %d and %d would share GPU %d, and NCCL needs one GPU per rank; run at most one "
                 "rank per GPU (a dedicated server is a rank too), or use --comm mpi to share GPUs",
                 std::min(rank, other), std::max(rank, other), gpu);
}

}  // namespace

NcclTransport::NcclTransport(Context& ctx, const MpiRuntime& mpi, double timeout_seconds)
    : Transport(ctx, mpi.rank(), mpi.size()), control_(ctx, mpi, timeout_seconds), timeout_seconds_(timeout_seconds) {
  CHECK(ctx.is_cuda(), "the NCCL transport needs a CUDA context");
  refuse_shared_gpus(ctx.gpu, rank_, size_);
  ncclUniqueId id;
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  ctx_.wait_watch = this;
}

NcclTransport::~NcclTransport() {
  if (ctx_.wait_watch == this) ctx_.wait_watch = nullptr;
  if (comm_ != nullptr) ncclCommDestroy(comm_);
}

void NcclTransport::waiting(double seconds) {
  ncclResult_t state = ncclSuccess;
  NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
  if (state != ncclSuccess && state != ncclInProgress)
    give_up(std::string("stopped: NCCL reported ") + ncclGetErrorString(state) + " (" + ncclGetLastError(comm_) + ")");
  if (seconds > timeout_seconds_)
    give_up("waited " + seconds_text(timeout_seconds_) + " s for its peers' messages on the GPU (did a rank stop early?)");
}

// Aborting ends the NCCL kernels that wait on the stream, so that the context can still be torn
// down; the communicator cannot be used after it.
void NcclTransport::give_up(const std::string& why) {
  ctx_.wait_watch = nullptr;
  const ncclResult_t aborted = ncclCommAbort(comm_);
  comm_ = nullptr;
  throw CommError("rank " + std::to_string(rank_) + " " + why +
                  (aborted == ncclSuccess ? "" : std::string("; aborting NCCL failed too: ") + ncclGetErrorString(aborted)));
}

void NcclTransport::exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) {
  NCCL_CHECK(ncclGroupStart());
  for (const Post& p : sends) NCCL_CHECK(ncclSend(p.data, p.bytes, ncclChar, p.peer, comm_, ctx_.stream));
  for (const Post& p : recvs) NCCL_CHECK(ncclRecv(p.data, p.bytes, ncclChar, p.peer, comm_, ctx_.stream));
  NCCL_CHECK(ncclGroupEnd());
}

void NcclTransport::barrier() { control_.barrier(); }

std::vector<double> NcclTransport::all_gather(const std::vector<double>& values) { return control_.all_gather(values); }
