// comm_bench: message-size sweeps over the two exchange patterns the algorithms use, printed the
// way nccl-tests prints (size, time, algbw, busbw), and with --link-gbps the modelled time of each
// round beside the measured one (comm/link_model.h), to hold the model against a real network.
//   comm_bench --comm local --workers N [--device cpu|cuda] [--dedicated-server] [--largest BYTES]
//   mpirun -np N comm_bench --comm mpi|nccl [--device cpu|cuda] [--dedicated-server] [--largest BYTES]
//   either with [--link-gbps G [--link-latency-us L]]
// server/worker: one gather of every worker's message at rank 0, then one broadcast back (rank 0
//   is also worker 0, or with --dedicated-server a server only, as in ./train);
//   algbw = message size / time, busbw = bytes through the server's link, 2 (ranks - 1) size / time.
// ring: every rank exchanges a message with both ring neighbours at once;
//   algbw = message size / time, busbw = bytes each rank sends and receives, 4 size / time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include "comm/local.h"
#include "comm/mpi.h"
#include "comm/nccl.h"
#include "comm/patterns.h"
#include "comm/topology.h"
#include "engine/check.h"
#include "engine/flags.h"
#include "engine/tensor.h"

namespace {

struct RoundTime {
  double measured, modelled;  // seconds; modelled 0 without --link-gbps
};

RoundTime seconds_per_round(Transport& t, const std::function<void()>& round, int repeats) {
  t.clear_link_log();
  round();  // warm-up, and the round the model times: every round posts the same messages
  double modelled = 0.0;
  for (double group : t.all_reduce_max(t.link_log())) modelled += group;
  t.context().synchronize();
  t.barrier();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) round();
  t.context().synchronize();
  const double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  return {t.all_reduce_sum(local) / t.size(), modelled};  // the mean over ranks
}

void sweep(Transport& t, bool dedicated_server, size_t largest, const LinkModel& link) {
  t.model_links(link);
  Context& ctx = t.context();
  Buffer<uint8_t> message(ctx, largest);
  ctx.fill_zero(message.data(), largest);
  const int n = t.size();
  const Roles roles{t.rank(), n, dedicated_server};
  const Topology ring = make_topology("ring", n);
  // The server receives from every worker, every rank from its ring neighbours.
  const size_t inboxes = std::max<size_t>(roles.is_server() ? roles.workers() : 0, ring.neighbors[t.rank()].size());
  std::vector<Buffer<uint8_t>> storage;
  std::vector<uint8_t*> inbox;
  for (size_t r = 0; r < inboxes; ++r) {
    storage.emplace_back(ctx, largest);
    inbox.push_back(storage.back().data());
  }
  const std::vector<uint8_t*> server_inbox(inbox.begin(), inbox.begin() + (roles.is_server() ? roles.workers() : 0));
  if (t.rank() == 0) {
    std::printf("# comm_bench: %s transport, %d rank%s (%d worker%s%s), %s buffers\n#\n", t.name(), n, n == 1 ? "" : "s",
                roles.workers(), roles.workers() == 1 ? "" : "s",
                dedicated_server ? " and a dedicated server" : ", rank 0 also the server", ctx.is_cuda() ? "device" : "host");
    if (link.on())
      std::printf("# model(us): the round on modelled links of %g Gbit/s, %g us a message (comm/link_model.h)\n#\n",
                  link.gbps, link.latency_s * 1e6);
    const char* model = link.on() ? "   model(us)" : "";
    const char* rule = link.on() ? "-------------" : "";
    std::printf("# %12s   %s------------ server/worker -----------   %s---------------- ring ----------------\n", "", rule, rule);
    std::printf("# %12s   %12s%s %12s %12s   %12s%s %12s %12s\n", "size(B)", "time(us)", model, "algbw(GB/s)",
                "busbw(GB/s)", "time(us)", model, "algbw(GB/s)", "busbw(GB/s)");
  }
  double bus_total = 0.0;
  int rows = 0;
  for (size_t size = 8; size <= largest; size *= 4) {
    const int repeats = size < (1 << 20) ? 50 : 5;
    const RoundTime server_worker = seconds_per_round(t, [&] {
      gather_to_server(t, roles, message.data(), size, server_inbox);
      broadcast_from_server(t, message.data(), size);
    }, repeats);
    const RoundTime ring_round = n < 2 ? RoundTime{0.0, 0.0} : seconds_per_round(t, [&] {
      exchange_with_neighbors(t, ring.neighbors[t.rank()], message.data(), size, inbox);
    }, repeats);
    const double sw = server_worker.measured, rg = ring_round.measured;
    const double sw_bus = n > 1 ? 2.0 * (n - 1) * size / sw / 1e9 : 0.0;
    bus_total += sw_bus;
    ++rows;
    if (t.rank() == 0) {
      const double ring_sends = static_cast<double>(ring.neighbors[0].size());
      char sw_model[16] = "", rg_model[16] = "";
      if (link.on()) {
        std::snprintf(sw_model, sizeof sw_model, " %12.1f", server_worker.modelled * 1e6);
        std::snprintf(rg_model, sizeof rg_model, " %12.1f", ring_round.modelled * 1e6);
      }
      std::printf("  %12zu   %12.1f%s %12.3f %12.3f   %12.1f%s %12.3f %12.3f\n", size, sw * 1e6, sw_model, size / sw / 1e9,
                  sw_bus, rg * 1e6, rg_model, rg > 0 ? size / rg / 1e9 : 0.0,
                  rg > 0 ? 2.0 * ring_sends * size / rg / 1e9 : 0.0);
    }
  }
  if (t.rank() == 0)
    std::printf("# avg bus bandwidth (server/worker) : %.3f GB/s\n#\n", bus_total / rows);
}

}  // namespace

int bench_main(int argc, char** argv) {
  Flags flags("comm_bench", "Message-size sweeps over the server/worker and ring patterns.");
  flags.add("comm", "local", "local, mpi or nccl");
  flags.add("workers", "4", "rank threads for --comm local (mpirun -np sets it otherwise)");
  flags.add("device", "auto", "cpu, cuda, or auto");
  flags.add_switch("dedicated-server", "rank 0 serves only (with --comm local, one more rank thread)");
  flags.add("largest", "33554432", "the largest message in bytes: sizes go 8, 32, 128, ... (x4) up to it");
  flags.add("link-gbps", "0", "also print each round's modelled time on links of this many Gbit/s (0: not)");
  flags.add("link-latency-us", "0", "the modelled links' cost of a message, in microseconds");
  // Under mpirun every rank reads the same flags: the first rank alone says what is wrong with them.
  LinkModel link;
  bool dedicated = false;
  size_t largest = 0;
  TransportKind kind{};
  Device device{};
  said_by_first_rank([&] {
    flags.parse(argc, argv);
    link = LinkModel{flags.number("link-gbps"), flags.number("link-latency-us") * 1e-6};
    if (!(link.gbps >= 0 && link.gbps <= 1e6) || !(link.latency_s >= 0 && link.latency_s <= 1e3))
      fail_input("--link-gbps must be in [0, 1e6] and --link-latency-us in [0, 1e9]");
    if (flags.given("link-latency-us") && link.gbps == 0) fail_input("--link-latency-us goes with a non-zero --link-gbps");
    dedicated = flags.on("dedicated-server");
    largest = static_cast<size_t>(flags.integer("largest", 8, long(1) << 30));
    kind = parse_transport(flags.str("comm"));
    const std::string device_flag = flags.choice("device", {"auto", "cpu", "cuda"});
    device = device_flag == "cuda" || (device_flag == "auto" && cuda_available()) ? Device::CUDA : Device::CPU;
    if (kind == TransportKind::Nccl && device != Device::CUDA) fail_input("--comm nccl needs --device cuda");
  });
  // What follows may differ from rank to rank (this machine's GPU).
  if (device == Device::CUDA && !cuda_available()) fail_input("--device cuda was asked for, but no CUDA GPU is available");
  if (kind == TransportKind::Local) {
    const int workers = static_cast<int>(flags.integer("workers", 1, 1024));  // as ./train allows
    run_local_ranks(workers + (dedicated ? 1 : 0), 120.0, [&](LocalHub& hub, int rank) {
      Context ctx(ContextOptions{device});
      LocalTransport t(ctx, hub, rank);
      sweep(t, dedicated, largest, link);
    });
    return 0;
  }
  MpiRuntime mpi(&argc, &argv);
  said_by_first_rank([&] {
    if (dedicated && mpi.size() < 2) fail_input("--dedicated-server needs a worker besides the server: mpirun -np 2 or more");
  });
  try {
    const int gpu = device == Device::CUDA ? (kind == TransportKind::Nccl ? nccl_device_for(mpi) : 0) : 0;
    Context ctx(ContextOptions{device, gpu});
    std::unique_ptr<Transport> t;
    if (kind == TransportKind::Mpi) t = std::make_unique<MpiTransport>(ctx, mpi, 120.0);
    else t = std::make_unique<NcclTransport>(ctx, mpi, 120.0);
    sweep(*t, dedicated, largest, link);
  } catch (const std::exception& e) {
    MpiRuntime::abort(report_error(e));  // a rank that fails ends the job
  }
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return bench_main(argc, argv); });
}
