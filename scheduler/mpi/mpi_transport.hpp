// The MPI side of the scheduler (docs/spec/MISSION.md R6): rank 0 drives workers through MpiTransport with the same
// dispatch loop as the embedded run (runner.cpp); ranks >= 1 run run_mpi_worker. Batches and
// results travel as JSON text. Rank 0 never blocks on one worker: sends are MPI_Isend with the
// buffer kept until the request completes, results are polled with MPI_Improbe.
#pragma once
#include <list>
#include <string>
#include <vector>

#include "scheduler/mpi/mpi_session.hpp"
#include "scheduler/transport.hpp"
#include "worker/device_policy.hpp"

namespace ckv {

class MpiTransport : public Transport {
 public:
  // Takes part in the workers' node split (collective), then collects each worker's identity (host, pid, GPU) within `startup_timeout` seconds; a
  // worker that reports an error instead is not usable. Throws when a rank stays silent.
  MpiTransport(const MpiSession& session, double startup_timeout = 300);
  ~MpiTransport() override;

  int worker_count() const override { return int(identities_.size()); }
  WorkerIdentity identity(int worker) const override { return identities_.at(worker); }
  bool usable(int worker) const override { return usable_.at(worker); }
  void send(int worker, const Batch& batch) override;
  std::optional<Delivery> receive(double timeout_seconds) override;
  // Sends stop to every worker and waits up to `stop_timeout` seconds for each to answer
  // (late results are discarded: the runner has recorded those units as lost).
  void stop() override;
  std::string description() const override;
  // True once every worker answered the stop; false means some worker is stuck in a batch and
  // the caller must MPI_Abort instead of finalising (finalise would wait for it).
  bool all_stopped() const;

  double stop_timeout = 10;
  std::string launcher = "mpirun";  // for description(): "3 MPI workers (srun launch)"

 private:
  struct PendingSend {
    std::string payload;  // must outlive the request
    MPI_Request request = MPI_REQUEST_NULL;
  };
  void post(int rank, int tag, std::string payload);
  void test_sends();
  // One message from any worker if there is one now: (source rank, tag, payload).
  bool poll(int& source, int& tag, std::string& payload);

  const MpiSession& session_;
  std::vector<WorkerIdentity> identities_;
  std::vector<bool> usable_, stopped_, stop_sent_;
  std::list<PendingSend> sends_;
};

// Ranks >= 1: announce identity, then evaluate batches until rank 0 says stop. SIGTERM,
// SIGUSR1, SIGUSR2 and SIGINT are ignored (srun signals every task; rank 0 alone drains).
// The device comes from `device` by the shared policy (worker/device_policy.hpp) with this
// rank's node-local worker index. Returns the process exit code (0).
int run_mpi_worker(const MpiSession& session, const BatchEvaluator& evaluator,
                   DeviceChoice device = DeviceChoice::Auto);

}  // namespace ckv
