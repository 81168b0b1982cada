// The MPI transport: ranks are processes under mpirun. Messages go through host memory (pinned
// staging buffers when the data is on a GPU), so it runs with no GPU at all and with several
// ranks sharing one GPU. Waits poll with a deadline, so a rank that died stops the others with
// an error instead of a hang.
#pragma once

#include <vector>

#include "comm/transport.h"
#include "engine/check.h"

// MPI_Init on construction, MPI_Finalize on destruction; one per process.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  int rank() const;
  int size() const;
  // The rank among the ranks on this node (for picking a GPU), and how many share the node.
  int local_rank() const;
  int local_size() const;
  // Ends every rank of the job: what a rank that failed does, so that no peer waits forever.
  [[noreturn]] static void abort(int code);
};

// This process's rank as mpirun (OpenMPI, MPICH, PMIx) told it in the environment, before
// MPI_Init; -1 when it was not started by mpirun.
int rank_from_launcher();

// Runs checks that every process of an mpirun job makes alike (of the flags, of the data set's
// size) and returns what they return: a user error they find is said by the first rank alone.
template <typename Checks>
auto said_by_first_rank(const Checks& checks) -> decltype(checks()) {
  try {
    return checks();
  } catch (const UserError& e) {
    if (rank_from_launcher() <= 0) throw;
    throw UserErrorSaidElsewhere(e.what());
  }
}

class MpiTransport : public Transport {
 public:
  MpiTransport(Context& ctx, const MpiRuntime& mpi, double timeout_seconds);
  ~MpiTransport() override;
  const char* name() const override { return "mpi"; }
  void barrier() override;
  std::vector<double> all_gather(const std::vector<double>& values) override;

 protected:
  void exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) override;

 private:
  uint8_t* staging(size_t bytes);
  double timeout_seconds_;
  uint8_t* staging_ = nullptr;  // pinned, grows to the largest group
  size_t staging_bytes_ = 0;
};
