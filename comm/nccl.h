// The NCCL transport: one rank per GPU, messages as ncclSend/ncclRecv on device buffers inside
// ncclGroupStart/ncclGroupEnd on the rank's stream. The communicator is bootstrapped as
// nccl-tests do it: rank 0 creates the ncclUniqueId and MPI broadcasts it. NCCL refuses two ranks
// on one GPU; we refuse first, with a message that says what to use instead. A receive waits on
// the GPU, so the host's waits for the stream poll (the transport is the context's WaitWatch):
// past --comm-timeout, or on an error NCCL reports, the communicator is aborted and the rank stops.
#pragma once

#include "comm/mpi.h"
#include "comm/transport.h"
#include "engine/host_wait.h"

struct ncclComm;

// The GPU this rank should use: its rank on the node modulo the visible devices.
int nccl_device_for(const MpiRuntime& mpi);

class NcclTransport : public Transport, private WaitWatch {
 public:
  // ctx must be a CUDA context on nccl_device_for(mpi). Stops with a one-line error (exit code 2)
  // if two ranks of the job share a GPU. Watches ctx's host waits until it is destroyed.
  NcclTransport(Context& ctx, const MpiRuntime& mpi, double timeout_seconds);
  ~NcclTransport() override;
  const char* name() const override { return "nccl"; }
  void barrier() override;
  std::vector<double> all_gather(const std::vector<double>& values) override;
  // ncclSend and ncclRecv can be captured into a CUDA graph on the rank's stream.
  Capture capture() const override { return Capture::ThisRank; }

 protected:
  void exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) override;

 private:
  // Throws CommError, having aborted the communicator, on an error NCCL reports or a wait longer
  // than the timeout.
  void waiting(double seconds) override;
  [[noreturn]] void give_up(const std::string& why);

  ncclComm* comm_ = nullptr;
  MpiTransport control_;  // host-side barrier and all-gather
  const double timeout_seconds_;
};
