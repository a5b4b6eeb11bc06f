#include "scheduler/embedded_transport.hpp"

#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

BatchEvaluator default_evaluator() { return &evaluate_batch; }

EmbeddedTransport::EmbeddedTransport(int threads, const EvaluatorOptions& options,
                                     BatchEvaluator evaluator)
    : EmbeddedTransport(std::vector<EvaluatorOptions>(size_t(std::max(1, threads)), options),
                        std::move(evaluator)) {}

EmbeddedTransport::EmbeddedTransport(std::vector<EvaluatorOptions> per_worker, BatchEvaluator evaluator)
    : options_(std::move(per_worker)), evaluator_(std::move(evaluator)) {
  if (options_.empty()) options_.resize(1);
  queues_.resize(options_.size());
  for (int i = 0; i < int(queues_.size()); ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

EmbeddedTransport::~EmbeddedTransport() {
  stop();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

WorkerIdentity EmbeddedTransport::identity(int worker) const {
  return WorkerIdentity{0, hostname(), int64_t(getpid()), options_.at(size_t(worker)).device};
}

std::string EmbeddedTransport::description() const {
  int gpus = 0;
  for (const auto& o : options_) gpus += o.device >= 0;
  return fmt::format("{} worker threads (embedded; {} on a GPU, {} on the CPU)", options_.size(), gpus,
                     int(options_.size()) - gpus);
}

void EmbeddedTransport::send(int worker, const Batch& batch) {
  {
    std::lock_guard lock(mutex_);
    queues_.at(worker).push_back(batch);
  }
  work_ready_.notify_all();
}

std::optional<Delivery> EmbeddedTransport::receive(double timeout_seconds) {
  std::unique_lock lock(mutex_);
  result_ready_.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                         [this] { return !results_.empty(); });
  if (results_.empty()) return std::nullopt;
  auto out = std::move(results_.front());
  results_.pop_front();
  return out;
}

void EmbeddedTransport::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
}

void EmbeddedTransport::worker_loop(int index) {
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queues_[index].empty(); });
      if (queues_[index].empty()) return;  // stopping and nothing left
      batch = std::move(queues_[index].front());
      queues_[index].pop_front();
    }
    Delivery delivery{index, std::nullopt, {}};
    try {
      delivery.result = evaluator_(batch, options_[size_t(index)]);
    } catch (const std::exception& e) {
      // evaluate_batch turns sample and configuration problems into failed units; anything
      // escaping it (out of memory, a broken device) ends this worker, like a dead MPI rank.
      delivery.worker_error = e.what();
    }
    const bool failed = !delivery.result;
    {
      std::lock_guard lock(mutex_);
      results_.push_back(std::move(delivery));
    }
    result_ready_.notify_all();
    if (failed) return;
  }
}

}  // namespace ckv
