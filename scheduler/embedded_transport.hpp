// World size 1: scheduler plus in-process worker threads (docs/spec/MISSION.md R6).
#pragma once
#include <memory>
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
  // A thread the system refuses to start (a thread or cgroup pids limit) is a ckv::Error naming
  // the limit, after the threads already started are stopped.
  explicit EmbeddedTransport(std::vector<EvaluatorOptions> per_worker,
                             BatchEvaluator evaluator = default_evaluator());
  ~EmbeddedTransport() override;  // stops and waits for every worker not abandoned

  int worker_count() const override { return int(workers_.size()); }
  WorkerIdentity identity(int worker) const override;
  void send(int worker, const Batch& batch) override;
  std::optional<Delivery> receive(double timeout_seconds) override;
  // No more work: batches not started are dropped (the runner has recorded them), batches being
  // evaluated are asked to stop at their next layer or configuration.
  void stop() override;
  std::string description() const override;
  // After stop(): waits up to `seconds` for the workers to end. Workers still inside a kernel
  // then are left running, detached (they only touch state this transport shares with them), so
  // the run can end within its drain grace. Returns how many were left.
  int wait_for_workers(double seconds);

  struct State;  // shared with the worker threads, which may outlive this object when left

 private:
  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

}  // namespace ckv
