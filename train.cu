// ./train: trains a ResNet with N workers (ranks) running one of the distributed algorithms of
// docs/algorithms.md over a transport (threads, MPI processes or NCCL), and writes config.json,
// metrics.jsonl and checkpoints to its run directory. `./train --help` lists every flag.
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "comm/algorithm.h"
#include "comm/local.h"
#include "comm/mpi.h"
#include "comm/nccl.h"
#include "comm/patterns.h"
#include "comm/step_graph.h"
#include "data/batch.h"
#include "data/load.h"
#include "data/sharding.h"
#include "engine/check.h"
#include "engine/conv_cpu.h"
#include "engine/checkpoint.h"
#include "engine/cross_entropy.h"
#include "engine/lr_schedule.h"
#include "engine/nvtx.h"
#include "engine/run_folder_lock.h"
#include "engine/run_counters.h"
#include "engine/run_id.h"
#include "engine/run_log.h"
#include "engine/step_clock.h"
#include "engine/stop_request.h"
#include "engine/vector_ops.h"
#include "models/model.h"
#include "train_config.h"

#ifndef GIT_COMMIT
#define GIT_COMMIT "unknown"
#endif

namespace {

// The exit code of a run stopped by a signal after saving a checkpoint (engine/stop_request.h):
// not a failure, and not the end either.
constexpr int kExitStoppedOnRequest = 3;

struct Evaluation {
  double loss, accuracy;
};

// Steps per epoch; a user error when one global batch is more than the training set.
int nonzero_steps_per_epoch(const Dataset& train, int workers, int batch) {
  const int steps = steps_per_epoch(static_cast<int>(train.size()), workers, batch);
  if (steps == 0)
    fail_input("%d workers x batch %d is more than the training set (%zu images)", workers, batch, train.size());
  return steps;
}

// One rank of a run: its model replica, its data shard, its optimizer and algorithm state.
class RankTrainer {
 public:
  // `sharing`: the workers that share this rank's device or CPU (for the modelled compute time).
  RankTrainer(const Config& config, std::vector<std::pair<std::string, std::string>> flag_values,
              const DatasetSplits& data, Transport& transport, int sharing)
      : flag_values_(std::move(flag_values)), c_(config), data_(data), t_(transport), ctx_(transport.context()),
        sharing_(sharing),
        roles_{transport.rank(), transport.size(), config.algorithm.dedicated_server}, model_(make_model(config.model, data.train.classes, config.width)),
        store_(model_->store()) {
    steps_per_epoch_ = nonzero_steps_per_epoch(data_.train, roles_.workers(), c_.batch_size);
    if (roles_.is_worker()) {  // a dedicated server sees no data
      train_ = std::make_unique<DeviceDataset>(ctx_, data.train);
      test_ = std::make_unique<DeviceDataset>(ctx_, data.test);
    }
    total_steps_ = c_.steps > 0 ? c_.steps : c_.epochs * steps_per_epoch_;
    augment_ = c_.augment == "on" || (c_.augment == "auto" && data.name != "synthetic");
    schedule_ = LrSchedule{c_.schedule, c_.lr, total_steps_, steps_per_epoch_, c_.decay_epochs, 0.1f};
    // The step clock holds every step's rate (engine/step_clock.h): 4 bytes a step.
    if (total_steps_ > kMaxSteps) fail_input("this run has %ld steps; at most %ld are supported", total_steps_, kMaxSteps);
    std::vector<float> rates(total_steps_);
    for (long t = 0; t < total_steps_; ++t) rates[t] = schedule_.at(t);
    clock_ = std::make_unique<StepClock>(ctx_, rates, steps_per_epoch_);

    store_.allocate(ctx_);
    store_.initialize(ctx_, c_.seed);
    const int d = static_cast<int>(store_.param_count());
    if (c_.sgd.momentum != 0.0f) momentum_ = Tensor::zeros(ctx_, {d});
    algorithm_ = make_algorithm(t_, store_.blocks(c_.bucket_bytes), c_.algorithm);
    images_ = Tensor::empty(ctx_, {c_.batch_size, 3, data_.train.height, data_.train.width});
    dlogits_ = Tensor::empty(ctx_, {c_.batch_size, data_.train.classes});
    stats_ = Tensor::zeros(ctx_, {2});
    labels_ = Buffer<int32_t>(ctx_, c_.batch_size);
    // Everyone starts from rank 0's model (seeded identically anyway; this makes it so).
    broadcast_from_server(t_, reinterpret_cast<uint8_t*>(store_.values().data()), store_.values().bytes());
    broadcast_from_server(t_, reinterpret_cast<uint8_t*>(store_.buffer_values().data()), store_.buffer_values().bytes());
    algorithm_->start(store_.values().data());
    graphs_ = std::make_unique<StepGraphs>(t_, c_.cuda_graphs, algorithm_->capturable());
    t_.model_links(c_.link);
  }

  // Returns the process exit code.
  int run() {
    if (c_.resume) restore();
    else start_run_id();
    // Nothing is written into the run folder before every rank has read its checkpoint: a resume
    // that one rank refuses leaves the folder as it was.
    t_.barrier();
    clock_->set(ctx_, counters_.step);
    std::unique_ptr<RunLog> log;
    if (roles_.rank == 0) {
      if (c_.overwrite) clear_run_folder(c_.run_dir);
      log = std::make_unique<RunLog>(c_.run_dir, c_.resume ? counters_.step : -1);
      log_ = log.get();
      write_config();
      std::printf("model %s: %zu parameters, %d worker%s%s (%s), %ld steps of %d images per worker\n",
                  c_.model.c_str(), store_.param_count(), roles_.workers(), roles_.workers() == 1 ? "" : "s",
                  roles_.dedicated_server ? " and a dedicated server" : "", t_.name(), total_steps_, c_.batch_size);
      std::printf("cuda graphs: %s\n\n", graphs_->description().c_str());
    }
    start_ = last_log_ = segment_start_ = Clock::now();
    while (counters_.step < total_steps_) {
      const long epoch = counters_.step / steps_per_epoch_;
      graphs_->pause();  // the last epoch's replayed steps may still read the old shard
      if (roles_.is_worker()) {
        const std::vector<int32_t> shard = worker_shard(c_.seed, epoch, static_cast<int>(train_->size), roles_.workers(),
                                                        roles_.worker(), c_.batch_size);
        order_.ensure(ctx_, shard.size());
        ctx_.upload(order_.data(), shard.data(), shard.size() * sizeof(int32_t));
      }
      bool stopping = false;  // a stop was asked for (engine/stop_request.h) and agreed on
      for (long s = counters_.step % steps_per_epoch_; s < steps_per_epoch_ && counters_.step < total_steps_ && !stopping; ++s) {
        train_step();
        if (c_.crash_at_step > 0 && counters_.step == c_.crash_at_step && roles_.rank == t_.size() - 1) {
          std::fprintf(stderr, "rank %d: exiting abruptly after step %ld (--crash-at-step)\n", roles_.rank, counters_.step);
          std::_Exit(1);  // not kExitStoppedOnRequest: nothing was saved
        }
        if (counters_.step % c_.log_every == 0 || counters_.step == total_steps_) {
          if (!log_interval(epoch)) return 1;
          stopping = counters_.step < total_steps_ && stop_agreed();
        }
      }
      const bool epoch_done = counters_.step % steps_per_epoch_ == 0;
      const bool evaluate = (epoch_done && (epoch + 1) % c_.eval_every == 0) || counters_.step == total_steps_;
      const bool checkpoint = epoch_done && c_.checkpoint_every > 0 && (epoch + 1) % c_.checkpoint_every == 0;
      // The metrics of the steps since the last line first: an evaluation line then reports the
      // training time and traffic up to its own step, and a checkpoint holds no interval under way.
      if ((evaluate || checkpoint) && counters_.logged_step != counters_.step && !log_interval(epoch)) return 1;
      if (evaluate) evaluate_and_log(epoch);
      if (checkpoint) save_checkpoint();
      // After the epoch's end, if this is one: a resumed run starts in the next epoch and would
      // never make this epoch's evaluation and checkpoint.
      if (stopping) return stop_with_checkpoint();
    }
    return 0;
  }

 private:
  using Clock = std::chrono::steady_clock;

  // One step, eagerly or as a replayed graph; the transport counts its bytes either way.
  void train_step() {
    const uint64_t sent = t_.bytes_sent(), received = t_.bytes_received();
    t_.clear_link_log();
    graphs_->run(algorithm_->step_variant(counters_.step), [this] { issue_step(); });
    counters_.bytes_sent += t_.bytes_sent() - sent;  // training traffic only: not the set-up or evaluation
    counters_.bytes_received += t_.bytes_received() - received;
    interval_links_.insert(interval_links_.end(), t_.link_log().begin(), t_.link_log().end());
    ++counters_.step;
  }

  // Enqueues step counters_.step: the same launches at every step of a variant; which batch it is and its
  // learning rate are read on the device from the step clock, which the step advances last. A
  // dedicated server computes no gradient (its own stays zero), only the algorithm's server part.
  void issue_step() {
    ctx_.timer.mark(Phase::Compute);
    if (roles_.is_worker()) {
      {
        NVTX_RANGE("forward");
        const Augmentation augmentation{augment_, train_->height / 8, c_.seed, 0};
        make_training_batch(ctx_, *train_, order_.data(), c_.batch_size, data_.normalization, augmentation,
                            clock_->position(), images_.data(), labels_.data());
        const Tensor& logits = model_->forward(ctx_, images_, /*training=*/true);
        softmax_cross_entropy(ctx_, dlogits_.data(), stats_.data(), logits.data(), labels_.data(), c_.batch_size,
                              train_->classes);
      }
      NVTX_RANGE("backward");
      model_->backward(ctx_, dlogits_);
    }
    ctx_.timer.mark(Phase::Update);
    LocalOptimizer local{ctx_, store_.values().data(), momentum_.defined() ? momentum_.data() : nullptr,
                         store_.param_count(), c_.sgd, clock_->lr()};
    algorithm_->step(counters_.step, store_.grads().data(), local);
    clock_->advance(ctx_);
  }

  // Bytes per worker: in server/worker algorithms, what a worker sent up and received down, as a
  // mean over the workers whose messages cross the wire (all but a shared server's own worker 0,
  // whose are local copies); in gossip algorithms, what each node sent and received.
  std::pair<double, double> per_worker_bytes() {
    const bool gossip = algorithm_->decentralized();
    const bool counted = gossip || roles_.rank > 0;
    const double contributors = gossip ? t_.size() : std::max(1, t_.size() - 1);
    return {t_.all_reduce_sum(counted ? static_cast<double>(counters_.bytes_sent) : 0.0) / contributors,
            t_.all_reduce_sum(counted ? static_cast<double>(counters_.bytes_received) : 0.0) / contributors};
  }

  // The seconds per phase since the last log: worker 0's rank's (rank 0, which is also the server
  // unless that is dedicated), and the replayed steps' from the rank that launches worker 0's
  // graph. Collective.
  std::array<double, static_cast<size_t>(Phase::Count)> logged_phases() {
    auto phases = ctx_.timer.collect();
    if (!roles_.dedicated_server) return phases;
    const int worker0 = roles_.rank_of(0);
    for (size_t p = 0; p < phases.size(); ++p) {
      const int from = static_cast<Phase>(p) == Phase::Step ? graphs_->launcher_of(worker0) : worker0;
      phases[p] = t_.all_reduce_sum(roles_.rank == from ? phases[p] : 0.0);
    }
    return phases;
  }

  // The modelled network time of the interval's exchanges: each group takes its slowest rank's
  // time, and groups follow one another (comm/link_model.h). Collective.
  double modelled_network_seconds() {
    double seconds = 0.0;
    for (double group : t_.all_reduce_max(interval_links_)) seconds += group;
    interval_links_.clear();
    return seconds;
  }

  // One worker's compute time for `steps` steps: fixed by --link-compute-s, or measured (every
  // phase but the exchange, divided by the workers that shared the device while it was measured).
  double modelled_compute_seconds(const std::array<double, static_cast<size_t>(Phase::Count)>& phases, long steps) const {
    if (c_.link_compute_s >= 0) return c_.link_compute_s * static_cast<double>(steps);
    double seconds = 0.0;
    for (Phase p : {Phase::Compute, Phase::Compress, Phase::Update, Phase::Step}) seconds += phases[static_cast<size_t>(p)];
    return seconds / sharing_;
  }

  // Returns false when the loss is no longer finite (the run stops).
  bool log_interval(long epoch) {
    graphs_->pause();
    const float lr = schedule_.at(counters_.step - 1);
    algorithm_->check_messages();
    const std::vector<float> sums = stats_.to_host(ctx_);
    ctx_.fill_zero(stats_.data(), stats_.bytes());
    const auto phases = logged_phases();
    const double images = static_cast<double>(counters_.step - counters_.logged_step) * c_.batch_size * roles_.workers();
    const double loss = t_.all_reduce_sum(sums[0]) / images, accuracy = t_.all_reduce_sum(sums[1]) / images;
    const auto [up, down] = per_worker_bytes();
    const double network = c_.link.on() ? modelled_network_seconds() : 0.0;
    counters_.network_seconds += network;
    counters_.sim_seconds += c_.link.on() ? network + modelled_compute_seconds(phases, counters_.step - counters_.logged_step) : 0.0;
    const double error_norm = algorithm_->server_error_norm();
    const double sparsity = roles_.rank == 0 && algorithm_->decentralized()
                                ? static_cast<double>(count_zeros(ctx_, store_.values().data(), store_.param_count())) /
                                      store_.param_count()
                                : std::nan("");
    const Clock::time_point now = Clock::now();
    const double seconds = std::chrono::duration<double>(now - last_log_).count();
    if (roles_.rank == 0) {
      JsonObject record;
      record.add("step", counters_.step).add("epoch", epoch).add("loss", loss).add("acc", accuracy).add("lr", static_cast<double>(lr));
      record.add("bytes_up", up - counters_.logged_up).add("bytes_down", down - counters_.logged_down);
      record.add("bytes_up_total", up).add("bytes_down_total", down);
      if (std::isfinite(error_norm)) record.add("server_error_norm", error_norm);
      if (std::isfinite(sparsity)) record.add("sparsity", sparsity);
      for (Phase p : {Phase::Compute, Phase::Compress, Phase::Exchange, Phase::Update, Phase::Step})
        record.add(std::string("time_") + phase_name(p), phases[static_cast<size_t>(p)]);
      if (c_.link.on()) record.add("time_network", network).add("sim_s", counters_.sim_seconds);
      record.add("images_per_s", seconds > 0 ? images / seconds : 0.0)
          .add("wall_s", std::chrono::duration<double>(now - start_).count());
      log_->append_metrics(record);
      const double elapsed = std::chrono::duration<double>(now - start_).count();
      const double eta = elapsed / std::max<long>(1, counters_.step - first_step_) * (total_steps_ - counters_.step);
      char modelled[48] = "";
      if (c_.link.on()) std::snprintf(modelled, sizeof modelled, "  modelled %.4g s", counters_.sim_seconds);
      std::printf("epoch %3ld  step %6ld/%ld  loss %.4f  acc %.4f  lr %.4g  up %.3g MB  down %.3g MB  %7.0f img/s%s  ETA %.0f s\n",
                  epoch, counters_.step, total_steps_, loss, accuracy, lr, (up - counters_.logged_up) / 1e6, (down - counters_.logged_down) / 1e6,
                  seconds > 0 ? images / seconds : 0.0, modelled, eta);
      std::fflush(stdout);
    }
    counters_.logged_up = up;
    counters_.logged_down = down;
    last_log_ = now;
    counters_.logged_step = counters_.step;
    if (std::isfinite(loss)) return true;
    if (roles_.rank == 0) std::fprintf(stderr, "error: the loss became %g at step %ld; stopping (try a smaller --lr)\n", loss, counters_.step);
    return false;
  }

  // Whether any rank was asked to stop. Every rank asks at the same steps (log intervals), so
  // all of them stop at the same step even when the signal reached them at different ones.
  bool stop_agreed() { return t_.all_reduce_sum(stop_requested() ? 1.0 : 0.0) > 0.0; }

  // Saves the run's state (mid-epoch if need be, once only at an epoch's scheduled checkpoint);
  // --resume continues it bit for bit.
  int stop_with_checkpoint() {
    if (saved_step_ != counters_.step) save_checkpoint();
    if (roles_.rank == 0)
      std::printf("stopped on request at step %ld of %ld; the checkpoint is in %s/checkpoint: run the same command "
                  "with --resume to continue\n",
                  counters_.step, total_steps_, c_.run_dir.c_str());
    return kExitStoppedOnRequest;
  }

  // The average of the workers' models, with worker 0's BatchNorm statistics, on each worker's
  // slice of the test set; then every rank goes back to its own model.
  void evaluate_and_log(long epoch) {
    NVTX_RANGE("evaluate");
    graphs_->pause();
    ctx_.timer.mark(Phase::Other);  // not the last step's update: evaluation is not a training phase
    const Clock::time_point evaluation_start = Clock::now();
    counters_.train_seconds += std::chrono::duration<double>(evaluation_start - segment_start_).count();
    const size_t d = store_.param_count();
    Tensor own = Tensor::empty(ctx_, {static_cast<int>(d)});
    Tensor own_buffers = Tensor::empty(ctx_, store_.buffer_values().shape());
    ctx_.copy(own.data(), store_.values().data(), own.bytes());
    ctx_.copy(own_buffers.data(), store_.buffer_values().data(), own_buffers.bytes());
    // Only where models differ: else every rank holds the same model already.
    if (algorithm_->models_differ()) mean_over_workers(t_, roles_, store_.values().data(), store_.param_count());
    broadcast_from_worker0(t_, roles_, reinterpret_cast<uint8_t*>(store_.buffer_values().data()),
                           store_.buffer_values().bytes());

    const size_t tests = data_.test.size();
    std::vector<int32_t> indices;
    if (roles_.is_worker())
      for (size_t i = tests * roles_.worker() / roles_.workers(); i < tests * (roles_.worker() + 1) / roles_.workers(); ++i)
        indices.push_back(static_cast<int32_t>(i));
    Buffer<int32_t> order(ctx_, std::max<size_t>(1, indices.size())), labels(ctx_, c_.batch_size);
    ctx_.upload(order.data(), indices.data(), indices.size() * sizeof(int32_t));
    Tensor images, dlogits, stats = Tensor::zeros(ctx_, {2});
    for (size_t at = 0; at < indices.size(); at += c_.batch_size) {
      const int n = static_cast<int>(std::min<size_t>(c_.batch_size, indices.size() - at));
      images.ensure(ctx_, {n, 3, test_->height, test_->width});
      make_batch(ctx_, *test_, order.data() + at, n, data_.normalization, Augmentation{}, images.data(), labels.data());
      const Tensor& logits = model_->forward(ctx_, images, /*training=*/false);
      dlogits.ensure(ctx_, logits.shape());
      softmax_cross_entropy(ctx_, dlogits.data(), stats.data(), logits.data(), labels.data(), n, test_->classes);
    }
    const std::vector<float> sums = stats.to_host(ctx_);
    const Evaluation e{t_.all_reduce_sum(sums[0]) / tests, t_.all_reduce_sum(sums[1]) / tests};
    const auto [up, down] = per_worker_bytes();
    ctx_.copy(store_.values().data(), own.data(), own.bytes());
    ctx_.copy(store_.buffer_values().data(), own_buffers.data(), own_buffers.bytes());
    if (roles_.rank == 0) {
      // With the cumulative traffic and time, so that accuracy can be plotted against either.
      JsonObject record;
      record.add("step", counters_.step).add("epoch", epoch).add("test_loss", e.loss).add("test_acc", e.accuracy);
      record.add("bytes_up_total", up).add("bytes_down_total", down).add("train_s", counters_.train_seconds);
      if (c_.link.on()) record.add("network_s", counters_.network_seconds).add("sim_s", counters_.sim_seconds);
      log_->append_metrics(record);
      std::printf("epoch %3ld  test loss %.4f  test acc %.4f\n", epoch, e.loss, e.accuracy);
      std::fflush(stdout);
    }
    // Evaluation time is neither training time nor throughput: the log interval under way, which
    // counts its images since last_log_, skips it.
    segment_start_ = Clock::now();
    last_log_ += segment_start_ - evaluation_start;
    graphs_->invalidate();  // the layers ran at the test batch size: their buffers may have moved
  }

  // The settings and derived sizes a checkpoint's state only makes sense under (train_config.h).
  std::vector<FingerprintSetting> fingerprint() const {
    return run_fingerprint(c_, RunShape{store_.param_count(), steps_per_epoch_, total_steps_, augment_, data_.name,
                                        data_.test.size(), data_.train.height});
  }

  // The device state a checkpoint holds, by name: the model, its optimizer's and algorithm's
  // memories, and the metric sums of the log interval under way.
  std::vector<std::pair<std::string, Tensor*>> saved_tensors() {
    std::vector<std::pair<std::string, Tensor*>> tensors{
        {"params", &store_.values()}, {"buffers", &store_.buffer_values()}, {"interval_stats", &stats_}};
    if (momentum_.defined()) tensors.emplace_back("momentum", &momentum_);
    for (auto& [name, tensor] : algorithm_->state()) tensors.emplace_back("algorithm." + name, tensor);
    return tensors;
  }

  // Every rank writes its part of the checkpoint, then rank 0 swaps the whole folder in.
  void save_checkpoint() {
    NVTX_RANGE("checkpoint");
    graphs_->pause();  // the state it reads is what the replayed steps wrote
    ctx_.timer.mark(Phase::Other);
    const CheckpointFolder folder(c_.run_dir);
    if (roles_.rank == 0) folder.begin();
    t_.barrier();
    CheckpointWriter w;
    for (const auto& [name, tensor] : saved_tensors()) w.add_vector(name, ctx_, tensor->data(), tensor->numel());
    w.add_number("rank", roles_.rank);
    w.add_number("run-id", run_id_);
    w.add_number("workers", roles_.workers());
    for (const FingerprintSetting& setting : fingerprint()) w.add_number(setting.key, setting.value);
    RunCounters saved = counters_;
    saved.train_seconds += std::chrono::duration<double>(Clock::now() - segment_start_).count();
    saved.save(w);
    w.write(folder.staging_file(roles_.rank), [&folder] { folder.abandon(); });
    t_.barrier();
    if (roles_.rank == 0) folder.publish();
    t_.barrier();
    saved_step_ = counters_.step;
  }

  void restore() {
    const std::string file = CheckpointFolder(c_.run_dir).file_to_resume(roles_.rank);
    const CheckpointReader r(file);
    // A file of another rank or of another run (copied or swapped in) would resume as another run.
    if (r.number("rank") != roles_.rank)
      fail_input("the checkpoint file %s is rank %.0f's, not rank %d's", file.c_str(), r.number("rank"), roles_.rank);
    run_id_ = t_.all_reduce_sum(roles_.rank == 0 ? r.number("run-id") : 0.0);
    if (roles_.rank == 0) check_config_run_id(c_.run_dir, run_id_, file);
    if (r.number("run-id") != run_id_)
      fail_input("the checkpoint file %s is from another run than rank 0's (run id %s, not %s)", file.c_str(),
                 run_id_text(r.number("run-id")).c_str(), run_id_text(run_id_).c_str());
    if (static_cast<int>(r.number("workers")) != roles_.workers())
      fail_input("the checkpoint %s is from %d workers, this run has %d", file.c_str(),
                 static_cast<int>(r.number("workers")), roles_.workers());
    for (const FingerprintSetting& setting : fingerprint())
      if (r.number(setting.key) != setting.value)
        fail_input("the checkpoint %s was written with another %s; resume with the run's own settings", file.c_str(),
                   setting.what);
    const double step = r.number("step");
    if (!(step >= 0 && step <= total_steps_))  // NaN too
      fail_input("the checkpoint %s is at step %.0f, past this run's end at step %ld (resume with its --epochs or "
                 "--steps)", file.c_str(), step, total_steps_);
    for (const auto& [name, tensor] : saved_tensors()) r.read_vector(name, ctx_, tensor->data(), tensor->numel());
    counters_.restore(r);
    first_step_ = counters_.step;
    if (roles_.rank == 0)
      std::printf("resumed from %s at step %ld%s\n", file.c_str(), counters_.step,
                  counters_.step == total_steps_ ? ", the run's last: nothing left to train" : "");
  }

  // A new run's id (engine/run_id.h), drawn by rank 0 and known to every rank. Collective.
  void start_run_id() { run_id_ = t_.all_reduce_sum(roles_.rank == 0 ? new_run_id() : 0.0); }

  void write_config() {
    JsonObject config;
    std::printf("%-16s %s\n", "setting", "value");
    for (const auto& [name, value] : flag_values_) {
      config.add(name, value);
      std::printf("%-16s %s\n", name.c_str(), value.c_str());
    }
    const std::string device = device_name(ctx_.device);
    config.add("resolved_device", device).add("resolved_workers", roles_.workers()).add("commit", GIT_COMMIT);
    config.add("resolved_cuda_graphs", graphs_->description()).add("run_id", run_id_text(run_id_));
    std::printf("%-16s %s\n%-16s %d\n%-16s %s\n\n", "resolved device", device.c_str(), "resolved workers", roles_.workers(),
                "commit", GIT_COMMIT);
    log_->write_config(config);
  }

 private:
  const std::vector<std::pair<std::string, std::string>> flag_values_;  // for config.json
  const Config& c_;
  const DatasetSplits& data_;
  Transport& t_;
  Context& ctx_;
  const int sharing_;
  const Roles roles_;
  std::unique_ptr<const DeviceDataset> train_, test_;  // on workers only
  std::unique_ptr<Model> model_;
  ParamStore& store_;
  std::unique_ptr<Algorithm> algorithm_;
  LrSchedule schedule_;
  std::unique_ptr<StepClock> clock_;
  std::unique_ptr<StepGraphs> graphs_;
  Tensor momentum_, images_, dlogits_, stats_;
  Buffer<int32_t> labels_, order_;
  RunLog* log_ = nullptr;
  bool augment_ = false;
  long steps_per_epoch_ = 0, total_steps_ = 0;
  long first_step_ = 0;   // where this process started: the ETA counts from it
  long saved_step_ = -1;  // the step of this run's last checkpoint
  // The progress and metric sums a checkpoint carries. train_seconds is the training time before
  // the current segment (segment_start_).
  RunCounters counters_;
  // The modelled network (--link-gbps): this interval's group times on this rank.
  std::vector<double> interval_links_;
  double run_id_ = 0.0;  // 48 bits (start_run_id)
  Clock::time_point start_, last_log_, segment_start_;
};

int train_rank(const Config& c, const Flags& flags, const DatasetSplits& data, Transport& t, int sharing) {
  RankTrainer trainer(c, flags.values(), data, t, sharing);
  return trainer.run();
}

// Ranks on one machine split its cores between their CPU kernels: OpenMP teams that outnumber
// the cores spin against each other and run many times slower.
void share_cores(int ranks_here) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(std::max(1, cores / std::max(1, ranks_here)));
}

// --comm local: the workers are threads of this process, on the CPU or spread over the GPUs.
int run_local(const Config& c, const Flags& flags) {
  install_stop_request_handlers();  // a signal while the data loads stops the run at its first log interval
  const DatasetSplits data = load_dataset(c.data);
  nonzero_steps_per_epoch(data.train, c.workers, c.batch_size);  // checked once, before the ranks start
  int devices = 1;
  if (c.device == Device::CUDA) CUDA_CHECK(cudaGetDeviceCount(&devices));
  std::vector<int> codes(c.local_ranks(), 0);
  run_local_ranks(c.local_ranks(), c.comm_timeout, [&](LocalHub& hub, int rank) {
    share_cores(c.local_ranks());
    Context ctx(ContextOptions{c.device, rank % devices, c.seed, c.deterministic, c.precision});
    LocalTransport transport(ctx, hub, rank);
    codes[rank] = train_rank(c, flags, data, transport, (c.workers + devices - 1) / devices);
  });
  return *std::max_element(codes.begin(), codes.end());
}

// --comm mpi / nccl: this process is one rank of an mpirun job. A rank that fails ends the job, so
// that no peer waits for it until --comm-timeout.
int run_mpi(const Config& c, const Flags& flags, int* argc, char*** argv) {
  MpiRuntime mpi(argc, argv);
  install_stop_request_handlers(/*under_mpirun=*/true);
  try {
    // Rank 0 writes the run folder: it holds it until the job ends.
    std::unique_ptr<RunFolderLock> folder_lock;
    if (mpi.rank() == 0) folder_lock = std::make_unique<RunFolderLock>(c.run_dir);
    // The checks of the flags that need the rank count: every rank makes them alike.
    const int workers = said_by_first_rank([&] {
      validate_algorithm_config(c.algorithm, mpi.size());
      check_run_folder(c);
      const int n = mpi.size() - (c.algorithm.dedicated_server ? 1 : 0);
      if (flags.given("workers") && c.workers != n)
        fail_input("--workers %d disagrees with mpirun -np %d%s (leave --workers out)", c.workers, mpi.size(),
                   c.algorithm.dedicated_server ? " and a dedicated server" : "");
      return n;
    });
    int gpu = 0;
    if (c.comm == TransportKind::Nccl) {
      gpu = nccl_device_for(mpi);
    } else if (c.device == Device::CUDA) {
      int devices = 1;
      CUDA_CHECK(cudaGetDeviceCount(&devices));
      gpu = mpi.local_rank() % devices;  // several ranks may share a GPU: the MPI transport allows it
    }
    const DatasetSplits data = load_dataset(c.data);
    said_by_first_rank([&] { nonzero_steps_per_epoch(data.train, workers, c.batch_size); });
    share_cores(mpi.local_size());
    Context ctx(ContextOptions{c.device, gpu, c.seed, c.deterministic, c.precision});
    std::unique_ptr<Transport> transport;
    if (c.comm == TransportKind::Mpi)
      transport = std::make_unique<MpiTransport>(ctx, mpi, c.comm_timeout);
    else
      transport = std::make_unique<NcclTransport>(ctx, mpi, c.comm_timeout);
    // The ranks on this node share its CPU; on GPUs, those given the same one (one each under NCCL).
    int sharing = mpi.local_size();
    if (c.device == Device::CUDA) {
      int devices = 1;
      CUDA_CHECK(cudaGetDeviceCount(&devices));
      sharing = c.comm == TransportKind::Nccl ? 1 : (mpi.local_size() + devices - 1) / devices;
    }
    const int code = train_rank(c, flags, data, *transport, sharing);
    // A failure on one rank must end the others; a stop on request was agreed by every rank.
    if (code != 0 && code != kExitStoppedOnRequest) MpiRuntime::abort(code);
    return code;
  } catch (const UserError& e) {
    // Said (here or by the first rank), then this process ends without MPI_Finalize, which would
    // wait for the others: mpirun sees the exit and ends the job.
    std::exit(report_error(e));
  } catch (const std::exception& e) {
    // A CommError names its rank already; anything else is said with this rank's number.
    if (dynamic_cast<const CommError*>(&e) != nullptr) report_error(e);
    else report_error(InternalError("rank " + std::to_string(mpi.rank()) + ": " + e.what()));
    MpiRuntime::abort(1);
  }
}

int train_main(int argc, char** argv) {
  // Under mpirun every rank reads the same flags: the first rank alone says what is wrong with them.
  Flags flags = declare_flags();
  const Config c = said_by_first_rank([&] {
    flags.parse(argc, argv);
    return read_config(flags);
  });
  check_device(c);
  if (flags.on("print-params")) {
    const int classes = dataset_classes(c.data);
    std::unique_ptr<Model> model = make_model(c.model, classes, c.width);
    const int size = c.data.image_size > 0 ? c.data.image_size : c.data.name == "tinyimagenet" ? 64 : 32;
    std::printf("%s: %zu parameters (%d classes, width %d); %.4g GMAC per %dx%d image forward, a training step "
                "about 3x that\n",
                c.model.c_str(), model->store().param_count(), classes, c.width, model->forward_macs(size) / 1e9,
                size, size);
    std::printf("CPU convolutions: %s\n", cpu_convolution_library());
    return 0;
  }
  if (flags.on("inspect")) return inspect_dataset(c.data);
  if (c.comm != TransportKind::Local) return run_mpi(c, flags, &argc, &argv);
  // Under mpirun -np N, N independent local runs would train into one folder at once.
  for (const char* size : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* n = std::getenv(size); n != nullptr && std::atoi(n) > 1)
      fail_input("this is one of %s processes under mpirun: give --comm mpi (or nccl), or run ./train without mpirun", n);
  const RunFolderLock folder_lock(c.run_dir);
  check_run_folder(c);
  return run_local(c, flags);
}

}  // namespace

int main(int argc, char** argv) {
  return exit_code_of([&] { return train_main(argc, argv); });
}
