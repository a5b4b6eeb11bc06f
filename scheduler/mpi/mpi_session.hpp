// MPI set-up shared by `ckv-sweep` under mpirun/srun and the scheduler benchmark: initialise,
// check that the world is the one the launcher meant to start, finalise. Every MPI call is
// checked; a failure throws ckv::Error naming the call, host and rank (docs/spec/STYLE.md).
#pragma once
#include <mpi.h>

#include <string>

#include "scheduler/launch.hpp"

namespace ckv {

// Message tags between rank 0 (scheduler) and the workers. Payloads are JSON text.
enum MpiTag : int {
  kTagIdentity = 1,     // worker -> 0 at start: {"host", "pid", "device"}
  kTagBatch = 2,        // 0 -> worker: batch_to_json
  kTagResult = 3,       // worker -> 0: batch_result_to_json
  kTagStop = 4,         // 0 -> worker: no more work (empty)
  kTagWorkerError = 5,  // worker -> 0: {"error": message}; the worker takes no more work
  kTagBye = 6,          // worker -> 0: answer to stop, the worker is about to finalise
};

class MpiSession {
 public:
  // MPI_Init_thread (FUNNELED: only the main thread talks MPI) and MPI_ERRORS_RETURN on
  // MPI_COMM_WORLD so that every failure comes back to a check.
  MpiSession();
  ~MpiSession();  // MPI_Finalize unless aborted
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& host() const { return host_; }
  std::string where() const;  // "host rank r" for messages

  // The launcher's environment against MPI's view: a world of 1 where the launcher started
  // several tasks means each task is a singleton (an MPI that does not speak the launcher's
  // PMI); under srun the world must hold SLURM_NTASKS ranks. Throws ckv::Error.
  void check_world(const LaunchContext& launch) const;

  // The node-local index of this rank among the workers (rank 0 is not counted even when it
  // shares the node) and the number of workers on the node. Collective over MPI_COMM_WORLD.
  std::pair<int, int> node_worker_index() const;

  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0, size_ = 1;
  std::string host_;
};

// Throws ckv::Error "HOST rank R: CALL failed: MPI's message" unless `code` is MPI_SUCCESS.
void mpi_check(int code, const char* call, const char* file, int line);
#define CKV_MPI_CHECK(call) ::ckv::mpi_check((call), #call, __FILE__, __LINE__)

}  // namespace ckv
