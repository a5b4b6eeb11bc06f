// World size 1: scheduler plus in-process worker threads (R6).
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "scheduler/transport.hpp"

namespace ckv {

class EmbeddedTransport : public Transport {
 public:
  // `threads` workers sharing `options`.
  EmbeddedTransport(int threads, const EvaluatorOptions& options,
                    BatchEvaluator evaluator = default_evaluator());
  // One worker per entry, each with its own options (its device: worker/device_policy.hpp).
  explicit EmbeddedTransport(std::vector<EvaluatorOptions> per_worker,
                             BatchEvaluator evaluator = default_evaluator());
  ~EmbeddedTransport() override;

  int worker_count() const override { return int(workers_.size()); }
  WorkerIdentity identity(int worker) const override;
  void send(int worker, const Batch& batch) override;
  std::optional<Delivery> receive(double timeout_seconds) override;
  void stop() override;
  std::string description() const override;

 private:
  void worker_loop(int index);

  std::vector<EvaluatorOptions> options_;  // per worker
  BatchEvaluator evaluator_;
  std::mutex mutex_;
  std::condition_variable work_ready_, result_ready_;
  std::vector<std::deque<Batch>> queues_;
  std::deque<Delivery> results_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace ckv
