// The engine's services: host waits with a watch that can give up, the caching allocator, tensor
// views, the RNG, learning-rate schedules, how errors end a process (one line, one exit code), and
// that the activation benchmark still runs.
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "comm/local.h"
#include "engine/check.h"
#include "engine/host_wait.h"
#include "engine/lr_schedule.h"
#include "engine/rng.h"
#include "tests/helpers.h"

namespace {

// A watch that records what it is told and gives up once the wait passes `limit` seconds.
struct GivingUpWatch : WaitWatch {
  explicit GivingUpWatch(double limit) : limit(limit) {}
  void waiting(double seconds) override {
    growing = growing && seconds >= last;
    last = seconds;
    ++calls;
    if (seconds > limit) throw std::runtime_error("gave up");
  }
  double limit, last = 0.0;
  bool growing = true;  // the time waited only grows
  int calls = 0;
};

TEST_CASE("host waits: polling returns once the work is done, and its watch can end a wait that never is") {
  GivingUpWatch patient(60.0);
  int polls = 0;
  wait_polling([&] { return ++polls == 4; }, patient);
  CHECK(polls == 4);
  CHECK(patient.calls == 3);  // told after each miss, not after the hit
  CHECK(patient.growing);

  // Work that never finishes (here: not for 5 s, so that a broken watch fails rather than hangs).
  GivingUpWatch impatient(0.05);
  const auto start = std::chrono::steady_clock::now();
  const auto never = [&] { return std::chrono::steady_clock::now() - start > std::chrono::seconds(5); };
  CHECK_THROWS_WITH(wait_polling(never, impatient), "gave up");
  CHECK(impatient.last > 0.05);
  CHECK(impatient.growing);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

// Spins until the host sets *release (mapped host memory), or for about `cycles` clock ticks, so
// that a test that goes wrong still ends.
__global__ void spin_until_released(const volatile int* release, long long cycles) {
  const long long start = clock64();
  while (*release == 0 && clock64() - start < cycles) {
  }
}

TEST_CASE("host waits: CUDA work that does not finish ends the wait through the context's watch" * REQUIRES_GPU) {
  Context ctx(ContextOptions{Device::CUDA});
  int* release = nullptr;
  CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&release), sizeof(int), cudaHostAllocMapped));
  *release = 0;
  int* device_view = nullptr;
  CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_view), release, 0));
  Tensor one = Tensor::zeros(ctx, Shape{1});  // allocated before the kernel runs
  cudaEvent_t done;
  CUDA_CHECK(cudaEventCreate(&done));
  spin_until_released<<<1, 1, 0, ctx.stream>>>(device_view, 60LL * 2000 * 1000 * 1000);  // ~60 s at 2 GHz
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaEventRecord(done, ctx.stream));

  GivingUpWatch watch(0.2);
  ctx.wait_watch = &watch;
  CHECK_THROWS_WITH(ctx.synchronize(), "gave up");
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.wait_for(done), "gave up");
  float host = 0.0f;
  // Copies from and to pageable memory wait in CUDA for the queued work: through the watch first.
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.download(&host, one.data(), sizeof(float)), "gave up");
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.upload(one.data(), &host, sizeof(float)), "gave up");

  *release = 1;  // the kernel ends: the same waits now return, watched or not
  watch.last = 0.0;
  watch.limit = 30.0;
  ctx.synchronize();
  ctx.wait_for(done);
  ctx.wait_watch = nullptr;
  ctx.synchronize();
  CUDA_CHECK(cudaEventDestroy(done));
  CUDA_CHECK(cudaFreeHost(release));
}

TEST_CASE("allocator: a released block is reused for the same size") {
  Context ctx(ContextOptions{Device::CPU});
  const void* first = nullptr;
  {
    Tensor t = Tensor::empty(ctx, {1000});
    first = t.data();
    CHECK(ctx.allocator->bytes_in_use() >= 4000);
  }
  CHECK(ctx.allocator->bytes_in_use() == 0);
  Tensor again = Tensor::empty(ctx, {1000});
  CHECK(again.data() == first);
  CHECK(ctx.allocator->bytes_cached() == 0);
  CHECK(ctx.allocator->system_allocations() == 1);
  CHECK(ctx.allocator->allocations() == 2);  // the cache's hand-out counts too
}

TEST_CASE("tensor: views share storage and keep it alive") {
  Context ctx(ContextOptions{Device::CPU});
  Tensor view;
  {
    Tensor base = Tensor::zeros(ctx, {10});
    view = Tensor::view(base, 4, {2, 3});
    view.copy_from_host(ctx, {1, 2, 3, 4, 5, 6});
    const std::vector<float> all = base.to_host(ctx);
    CHECK(all == std::vector<float>{0, 0, 0, 0, 1, 2, 3, 4, 5, 6});
  }
  CHECK(view.to_host(ctx)[5] == 6.0f);  // the base is gone, its storage is not
  CHECK(ctx.allocator->bytes_in_use() > 0);
}

TEST_CASE("rng: Philox4x32-10 matches the published known-answer vector") {
  // Random123's kat_vectors: philox4x32_10 with counter = key = 0.
  const Philox4 r = philox(0, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  // ... and with every counter and key bit set.
  const Philox4 ones = philox(~0ull, ~0ull, ~0ull);
  CHECK(ones.v[0] == 0x408f276du);
  CHECK(ones.v[1] == 0x41c83b0eu);
  CHECK(ones.v[2] == 0xa20bc7c6u);
  CHECK(ones.v[3] == 0x6d5451fdu);
}

TEST_CASE("learning-rate schedules: step decay, cosine to zero, one-cycle warm-up and anneal") {
  LrSchedule step{LrSchedule::Step, 0.1f, 1000, 10, {80, 90}, 0.1f};
  CHECK(step.at(0) == doctest::Approx(0.1));
  CHECK(step.at(799) == doctest::Approx(0.1));
  CHECK(step.at(800) == doctest::Approx(0.01));
  CHECK(step.at(905) == doctest::Approx(0.001));
  LrSchedule cosine{LrSchedule::Cosine, 0.2f, 100, 10, {}, 0.1f};
  CHECK(cosine.at(0) == doctest::Approx(0.2));
  CHECK(cosine.at(50) == doctest::Approx(0.1));
  CHECK(cosine.at(100) == doctest::Approx(0.0).epsilon(1e-6));
  LrSchedule one_cycle{LrSchedule::OneCycle, 0.1f, 100, 10, {}, 0.1f};
  CHECK(one_cycle.at(0) == doctest::Approx(0.1 / 25));
  CHECK(one_cycle.at(30) == doctest::Approx(0.1));
  CHECK(one_cycle.at(100) == doctest::Approx(0.1 / 25 / 1e4).epsilon(1e-3));
  CHECK(one_cycle.at(20) > one_cycle.at(10));
  CHECK(one_cycle.at(60) < one_cycle.at(40));
  CHECK(parse_epoch_list("80,120") == std::vector<long>{80, 120});
}

// Runs `body` in a forked child with its stderr captured; returns the child's wait status.
int in_child_process(const std::function<void()>& body, std::string* err) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::fflush(nullptr);  // else the child writes out the parent's buffered output a second time
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    alarm(60);  // a child that hangs dies, and the test fails instead of hanging
    dup2(fds[1], 2);
    close(fds[0]);
    try {
      body();
    } catch (...) {  // never back into the parent's test run
      std::_Exit(99);
    }
    std::_Exit(0);
  }
  close(fds[1]);
  char chunk[4096];
  for (ssize_t n; (n = read(fds[0], chunk, sizeof chunk)) > 0;) err->append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return status;
}

// Host logic only, so CI (no GPU) covers it; skipped where a GPU is, because the GPU test cases
// have started CUDA by then and a forked child's exit would run CUDA's teardown on a copy of it.
TEST_CASE("errors: rank threads failing at the same moment are said in one whole line, exit code 1" *
          doctest::skip(cuda_available())) {
  constexpr int kThreads = 8;
  std::string err;
  const int status = in_child_process(
      [] {
        std::atomic<int> ready{0};
        const std::string detail(600, 'x');  // long lines interleave more readily
        std::_Exit(exit_code_of([&] {
          run_local_ranks(kThreads, 60.0, [&](LocalHub&, int rank) {
            ++ready;
            while (ready.load() < kThreads) {
            }
            fail_internal("rank.cpp", rank, "rank %d failed: %s", rank, detail.c_str());
          });
          return 0;
        }));
      },
      &err);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  REQUIRE(lines_of(err).size() == 1);
  CHECK(err.rfind("fatal: rank.cpp:", 0) == 0);
  CHECK(err.size() == std::string("fatal: rank.cpp:0: rank 0 failed: \n").size() + 600);
}

// A failed library call is an exception, so that in a test binary it fails its test case and the
// others still run; the process's exit code is decided once, by what reaches main.
TEST_CASE("errors: a failed CUDA or cuDNN call throws InternalError naming its file and line; exit codes 2 and 1") {
  CHECK_THROWS_WITH_AS(CUDA_CHECK(cudaErrorInvalidValue), doctest::Contains("test_runtime.cu:"), InternalError);
  CHECK_THROWS_WITH_AS(CUDNN_CHECK(CUDNN_STATUS_NOT_SUPPORTED), doctest::Contains("cuDNN: "), InternalError);
  CHECK(exit_code_of([]() -> int { fail_input("a user's mistake (printed by this test)"); }) == 2);
  CHECK(exit_code_of([]() -> int { fail_internal(__FILE__, __LINE__, "an impossible state (printed by this test)"); }) == 1);
  CHECK(exit_code_of([]() -> int { throw UserErrorSaidElsewhere("said by another rank"); }) == 2);
  CHECK(exit_code_of([] { return 3; }) == 3);
}

TEST_CASE("bench_activations runs on the CPU (a check that it works, not a timing)") {
  // `make bench` runs it on the GPU machine, which CI is not: this keeps it from rotting.
  std::string output;
  CHECK(run_shell("build/bench_activations --cpu", &output) == 0);
  INFO(output);
  CHECK(output.find("  fp32      2   64  1024") != std::string::npos);  // a row of figures
  CHECK(output.find("nan") == std::string::npos);
}

}  // namespace
