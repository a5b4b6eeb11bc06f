// World size 1: scheduler plus in-process worker threads (docs/spec/MISSION.md R6).
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
  EmbeddedTransport(int threads, const EvaluatorOptions& options,
                    BatchEvaluator evaluator = default_evaluator());
  ~EmbeddedTransport() override;

  int worker_count() const override { return int(workers_.size()); }
  WorkerIdentity identity(int worker) const override;
  void send(int worker, const Batch& batch) override;
  std::optional<Delivery> receive(double timeout_seconds) override;
  void stop() override;

 private:
  void worker_loop(int index);

  EvaluatorOptions options_;
  BatchEvaluator evaluator_;
  std::mutex mutex_;
  std::condition_variable work_ready_, result_ready_;
  std::vector<std::deque<Batch>> queues_;
  std::deque<Delivery> results_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace ckv
