// Transports and exchange patterns: the local transport on 1, 2, 4 and 7 rank threads, the MPI
// transport under mpirun with 4 processes, failures that stop the others within a bounded time,
// comm_bench's sweeps, and topologies.

#include <chrono>
#include <cmath>
#include <sstream>

#include "comm/local.h"
#include "tests/comm_checks.h"
#include "tests/helpers.h"

namespace {

TEST_CASE("local transport: many sizes arrive intact and in order, bytes counted, on 1, 2, 4 and 7 ranks") {
  for (int ranks : {1, 2, 4, 7}) {
    INFO(ranks << " ranks");
    std::vector<std::string> failures(ranks);
    run_local_ranks(ranks, 30.0, [&](LocalHub& hub, int rank) {
      Context ctx(ContextOptions{Device::CPU});
      LocalTransport t(ctx, hub, rank);
      failures[rank] = run_transport_checks(t);
    });
    for (const std::string& f : failures) CHECK(f == "");
  }
}

TEST_CASE("local transport on the GPU: device buffers between rank threads" * REQUIRES_GPU) {
  std::vector<std::string> failures(3);
  run_local_ranks(3, 30.0, [&](LocalHub& hub, int rank) {
    Context ctx(ContextOptions{Device::CUDA});
    LocalTransport t(ctx, hub, rank);
    failures[rank] = run_transport_checks(t);
  });
  for (const std::string& f : failures) CHECK(f == "");
}

TEST_CASE("local transport: a rank that stops early makes the others fail within the timeout") {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  try {
    run_local_ranks(3, 1.0, [&](LocalHub& hub, int rank) {
      Context ctx(ContextOptions{Device::CPU});
      LocalTransport t(ctx, hub, rank);
      if (rank == 2) return;  // leaves without sending
      uint8_t byte = 0;
      t.recv(&byte, 1, 2);
    });
  } catch (const CommError& e) {
    error = e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(error.find("from rank 2") != std::string::npos);
  CHECK(seconds < 10.0);
}

TEST_CASE("local transport: a failing rank releases the others at once; a size mismatch is an error") {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  try {
    run_local_ranks(3, 60.0, [&](LocalHub& hub, int rank) {
      Context ctx(ContextOptions{Device::CPU});
      LocalTransport t(ctx, hub, rank);
      if (rank == 1) throw std::runtime_error("out of cheese");
      t.barrier();
    });
  } catch (const std::exception& e) {
    error = e.what();
  }
  CHECK(error == "out of cheese");  // the cause, not the ranks it released
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10.0);

  CHECK_THROWS_AS(run_local_ranks(2, 5.0,
                                  [&](LocalHub& hub, int rank) {
                                    Context ctx(ContextOptions{Device::CPU});
                                    LocalTransport t(ctx, hub, rank);
                                    uint8_t buffer[8] = {};
                                    if (rank == 0) t.send(buffer, 8, 1);
                                    else t.recv(buffer, 4, 0);
                                  }),
                  CommError);
}

std::string mpirun(const std::string& args) {
  return "mpirun --allow-run-as-root --oversubscribe -np 4 build/tests/mpi_ranks " + args;
}

TEST_CASE("MPI transport: 4 processes pass every transport check") {
  std::string output;
  const int status = run_shell(mpirun("check"), &output);
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("all checks passed on 4 ranks") != std::string::npos);
}

TEST_CASE("MPI transport: a rank that dies, or goes silent, stops the others with an error in bounded time") {
  for (const std::string mode : {"die", "stall 3"}) {
    INFO(mode);
    const auto start = std::chrono::steady_clock::now();
    std::string output;
    const int status = run_shell(mpirun(mode), &output);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(output);
    CHECK(status != 0);
    CHECK(seconds < 60.0);
    if (mode != "die") CHECK(output.find("did a rank stop early?") != std::string::npos);
  }
}

TEST_CASE("comm_bench: short sweeps with a shared and a dedicated server, threads and MPI; bad flags exit 2") {
  for (const std::string command :
       {"build/comm_bench --workers 3 --largest 4096", "build/comm_bench --workers 2 --dedicated-server --largest 4096",
        "mpirun --allow-run-as-root --oversubscribe -np 3 build/comm_bench --comm mpi --dedicated-server --largest 4096"}) {
    INFO(command);
    std::string output;
    CHECK(run_shell(command, &output) == 0);
    INFO(output);
    CHECK(output.find(command.find("dedicated") != std::string::npos ? "3 ranks (2 workers and a dedicated server)"
                                                                      : "3 ranks (3 workers, rank 0 also the server)") !=
          std::string::npos);
    // Sizes 8, 32, 128, 512 and 2048, each with a positive time for both patterns.
    int rows = 0;
    for (const std::string& line : lines_of(output)) {
      std::istringstream fields(line);
      double size = 0.0, server_worker_us = 0.0, algbw = 0.0, busbw = 0.0, ring_us = 0.0;
      if (line.rfind("#", 0) == 0 || !(fields >> size >> server_worker_us >> algbw >> busbw >> ring_us)) continue;
      CHECK(size == 8.0 * std::pow(4.0, rows));
      CHECK(server_worker_us > 0.0);
      CHECK(ring_us > 0.0);
      ++rows;
    }
    CHECK(rows == 5);
    CHECK(output.find("# avg bus bandwidth (server/worker)") != std::string::npos);
  }
  for (const std::string args :
       {"--workers 0", "--largest 4", "--comm carrier-pigeon", "--device tpu", "--link-latency-us 5 --largest 8"}) {
    INFO(args);
    std::string output;
    CHECK(run_shell("build/comm_bench " + args, &output) == 2);
    CHECK(output.rfind("error: ", 0) == 0);
  }
}

TEST_CASE("topologies: neighbours and a symmetric doubly stochastic mixing matrix") {
  for (const auto& [name, nodes] : {std::pair{std::string("ring"), 8}, std::pair{std::string("torus"), 8},
                                    std::pair{std::string("complete"), 5}, std::pair{std::string("ring"), 2}}) {
    INFO(name << " " << nodes);
    const Topology t = make_topology(name, nodes);
    for (int i = 0; i < nodes; ++i) {
      double row = 0.0;
      for (int j = 0; j < nodes; ++j) {
        row += t.weight(i, j);
        CHECK(t.weight(i, j) == t.weight(j, i));
      }
      CHECK(row == doctest::Approx(1.0));
    }
  }
  const Topology ring = make_topology("ring", 8);
  CHECK(ring.neighbors[0] == std::vector<int>{1, 7});
  CHECK(ring.weight(3, 4) == doctest::Approx(1.0 / 3));
  CHECK(make_topology("torus", 8).neighbors[0].size() == 3);  // 2 x 4: the two rows are both up and down
}

}  // namespace
