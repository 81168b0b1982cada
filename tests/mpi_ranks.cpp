// The MPI side of the transport tests, run by tests/test_comm.cpp under mpirun:
//   mpi_ranks check            every transport check on every rank; exit 0 when all pass
//   mpi_ranks die              rank 1 exits at once; the others must stop with an error
//   mpi_ranks stall SECONDS    rank 1 stays alive but silent; the others must time out
//   mpi_ranks nccl-stall SECONDS   the same over NCCL (one GPU per rank): rank 0's receive waits on
//                              the GPU, and its host wait must end with an error after SECONDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "comm/mpi.h"
#include "comm/nccl.h"
#include "tests/comm_checks.h"

namespace {

void stay_silent() { std::this_thread::sleep_for(std::chrono::seconds(120)); }

int nccl_stall(const MpiRuntime& mpi, double timeout) {
  ContextOptions options{Device::CUDA};
  options.gpu = nccl_device_for(mpi);
  Context ctx(options);
  NcclTransport transport(ctx, mpi, timeout);  // every rank joins the communicator
  if (mpi.rank() != 0) {
    stay_silent();
    return 0;
  }
  Tensor buffer = Tensor::zeros(ctx, Shape{1024});
  try {
    transport.recv(buffer.data(), buffer.bytes(), 1);
    ctx.synchronize();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    MpiRuntime::abort(1);
  }
  std::fprintf(stderr, "mpi_ranks: rank 0's receive completed although rank 1 sent nothing\n");
  MpiRuntime::abort(1);
}

}  // namespace

int run(int argc, char** argv) {
  MpiRuntime mpi(&argc, &argv);
  const std::string mode = argc > 1 ? argv[1] : "check";
  const double timeout = argc > 2 ? std::atof(argv[2]) : 20.0;
  if (mode == "nccl-stall") return nccl_stall(mpi, timeout);
  Context ctx(ContextOptions{Device::CPU});
  MpiTransport transport(ctx, mpi, timeout);
  if (mode == "die" && mpi.rank() == 1) std::_Exit(3);
  if (mode == "stall" && mpi.rank() == 1) {
    stay_silent();
    return 0;
  }
  try {
    const std::string failures = run_transport_checks(transport);
    if (!failures.empty()) {
      std::fprintf(stderr, "%s", failures.c_str());
      MpiRuntime::abort(1);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    MpiRuntime::abort(1);
  }
  if (mpi.rank() == 0) std::printf("mpi_ranks: all checks passed on %d ranks\n", mpi.size());
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return run(argc, argv); });
}
