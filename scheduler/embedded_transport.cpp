#include "scheduler/embedded_transport.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>

#include <fmt/format.h>

#include "common/error.hpp"
#include "worker/evaluator.hpp"

namespace ckv {

BatchEvaluator default_evaluator() { return &evaluate_batch; }

struct EmbeddedTransport::State {
  std::vector<EvaluatorOptions> options;  // per worker; cancel points at `cancel`
  BatchEvaluator evaluator;
  std::mutex mutex;
  std::condition_variable work_ready, result_ready, worker_ended;
  std::vector<std::deque<Batch>> queues;
  std::deque<Delivery> results;
  bool stopping = false;
  int running = 0;  // worker threads not yet ended
  std::atomic<bool> cancel{false};
};

namespace {

void worker_loop(const std::shared_ptr<EmbeddedTransport::State>& state, int index);

}  // namespace

EmbeddedTransport::EmbeddedTransport(int threads, const EvaluatorOptions& options,
                                     BatchEvaluator evaluator)
    : EmbeddedTransport(std::vector<EvaluatorOptions>(size_t(std::max(1, threads)), options),
                        std::move(evaluator)) {}

EmbeddedTransport::EmbeddedTransport(std::vector<EvaluatorOptions> per_worker, BatchEvaluator evaluator)
    : state_(std::make_shared<State>()) {
  if (per_worker.empty()) per_worker.resize(1);
  state_->options = std::move(per_worker);
  for (auto& o : state_->options) o.cancel = &state_->cancel;
  state_->evaluator = std::move(evaluator);
  state_->queues.resize(state_->options.size());
  const int wanted = int(state_->options.size());
  for (int i = 0; i < wanted; ++i) {
    try {
      {
        std::lock_guard lock(state_->mutex);
        ++state_->running;
      }
      workers_.emplace_back([state = state_, i] { worker_loop(state, i); });
    } catch (const std::system_error& e) {
      {
        std::lock_guard lock(state_->mutex);
        --state_->running;
      }
      stop();
      for (auto& t : workers_) t.join();
      workers_.clear();
      CKV_FAIL(
          "cannot start worker thread {} of {}: {} (the system limits this process's threads: see `ulimit -u`, "
          "a container's or Slurm job's pids limit); run with fewer worker threads (-j)",
          i + 1, wanted, e.what());
    }
  }
}

EmbeddedTransport::~EmbeddedTransport() {
  stop();
  wait_for_workers(1e9);
}

WorkerIdentity EmbeddedTransport::identity(int worker) const {
  return WorkerIdentity{0, hostname(), int64_t(getpid()), state_->options.at(size_t(worker)).device};
}

std::string EmbeddedTransport::description() const {
  int gpus = 0;
  for (const auto& o : state_->options) gpus += o.device >= 0;
  return fmt::format("{} worker threads (embedded; {} on a GPU, {} on the CPU)", state_->options.size(), gpus,
                     int(state_->options.size()) - gpus);
}

void EmbeddedTransport::send(int worker, const Batch& batch) {
  {
    std::lock_guard lock(state_->mutex);
    state_->queues.at(size_t(worker)).push_back(batch);
  }
  state_->work_ready.notify_all();
}

std::optional<Delivery> EmbeddedTransport::receive(double timeout_seconds) {
  std::unique_lock lock(state_->mutex);
  state_->result_ready.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                                [this] { return !state_->results.empty(); });
  if (state_->results.empty()) return std::nullopt;
  auto out = std::move(state_->results.front());
  state_->results.pop_front();
  return out;
}

void EmbeddedTransport::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    for (auto& queue : state_->queues) queue.clear();
  }
  state_->cancel = true;
  state_->work_ready.notify_all();
}

int EmbeddedTransport::wait_for_workers(double seconds) {
  int left = 0;
  {
    std::unique_lock lock(state_->mutex);
    state_->worker_ended.wait_for(lock, std::chrono::duration<double>(std::min(seconds, 1e7)),
                                  [this] { return state_->running == 0; });
    left = state_->running;
  }
  for (auto& t : workers_) {
    if (!t.joinable()) continue;
    if (left == 0) t.join();
    else t.detach();  // it holds its own reference to the shared state
  }
  return left;
}

namespace {

void worker_loop(const std::shared_ptr<EmbeddedTransport::State>& state, int index) {
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(state->mutex);
      state->work_ready.wait(lock, [&] { return state->stopping || !state->queues[size_t(index)].empty(); });
      if (state->stopping || state->queues[size_t(index)].empty()) break;
      batch = std::move(state->queues[size_t(index)].front());
      state->queues[size_t(index)].pop_front();
    }
    Delivery delivery{index, std::nullopt, {}};
    try {
      delivery.result = state->evaluator(batch, state->options[size_t(index)]);
    } catch (const std::exception& e) {
      // evaluate_batch turns sample and configuration problems into failed units; anything
      // escaping it (out of memory, a broken device) ends this worker, like a dead MPI rank.
      delivery.worker_error = e.what();
    }
    const bool failed = !delivery.result;
    {
      std::lock_guard lock(state->mutex);
      state->results.push_back(std::move(delivery));
    }
    state->result_ready.notify_all();
    if (failed) break;
  }
  {
    std::lock_guard lock(state->mutex);
    --state->running;
  }
  state->worker_ended.notify_all();
}

}  // namespace

}  // namespace ckv
