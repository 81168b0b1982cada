// The NCCL transport: one rank per GPU, messages as ncclSend/ncclRecv on device buffers inside
// ncclGroupStart/ncclGroupEnd on the rank's stream. The communicator is bootstrapped as
// nccl-tests do it: rank 0 creates the ncclUniqueId and MPI broadcasts it. NCCL refuses two ranks
// on one GPU; we refuse first, with a message that says what to use instead.
#pragma once

#include "comm/mpi.h"
#include "comm/transport.h"

struct ncclComm;

// The GPU this rank should use: its rank on the node modulo the visible devices.
int nccl_device_for(const MpiRuntime& mpi);

class NcclTransport : public Transport {
 public:
  // ctx must be a CUDA context on nccl_device_for(mpi). Stops with a one-line error (exit code 2)
  // if two ranks of the job share a GPU.
  NcclTransport(Context& ctx, const MpiRuntime& mpi, double timeout_seconds);
  ~NcclTransport() override;
  const char* name() const override { return "nccl"; }
  void barrier() override;
  double all_reduce_sum(double value) override;
  // ncclSend and ncclRecv can be captured into a CUDA graph on the rank's stream.
  Capture capture() const override { return Capture::ThisRank; }

 protected:
  void exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) override;

 private:
  ncclComm* comm_ = nullptr;
  MpiTransport control_;  // host-side barrier and all-reduce
};
