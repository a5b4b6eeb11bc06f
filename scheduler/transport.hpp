// How the scheduler reaches its workers. The embedded transport runs workers as threads of
// this process; the MPI transport (scheduler/mpi/) sends the same JSON batches to ranks >= 1.
// The scheduler loop (runner.hpp) is the same for both and never blocks on one worker.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "worker/batch.hpp"

namespace ckv {

struct WorkerIdentity {
  int rank = 0;
  std::string host;
  int64_t pid = 0;
  int device = -1;  // CUDA device, -1 = CPU
};

// What a worker runs on each batch: evaluate_batch in production; the scheduler benchmark and
// the fault tests inject trivial, failing or stalling evaluators to exercise the loop alone.
using BatchEvaluator = std::function<BatchResult(const Batch&, const EvaluatorOptions&)>;
BatchEvaluator default_evaluator();

// One message from a worker: a finished batch, or the news that the worker stopped on an error
// outside evaluate_batch (its in-flight batches will never come back).
struct Delivery {
  int worker = 0;
  std::optional<BatchResult> result;
  std::string worker_error;  // set when !result
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int worker_count() const = 0;
  virtual WorkerIdentity identity(int worker) const = 0;
  // False for a worker that failed before it could take work (e.g. its GPU could not be set).
  virtual bool usable(int worker) const { return true; }
  // Hands a batch to a worker without waiting for it to be processed.
  virtual void send(int worker, const Batch& batch) = 0;
  // The next finished batch (or worker failure) from any worker, waiting at most
  // `timeout_seconds`.
  virtual std::optional<Delivery> receive(double timeout_seconds) = 0;
  // No more work: workers finish what they hold and exit.
  virtual void stop() = 0;
  // "4 worker threads (embedded)", "8 MPI workers (srun launch)": for the start-of-run line.
  virtual std::string description() const = 0;
};

}  // namespace ckv
