// `ckv-sweep SPEC.toml` under mpirun/srun (world size > 1): rank 0 schedules and is the only
// database writer (schedule_campaign, as in the embedded run), ranks >= 1 evaluate batches (docs/spec/MISSION.md R6).
// Workers never open the database.
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "common/exit_codes.hpp"
#include "scheduler/launch.hpp"
#include "scheduler/mpi/mpi_transport.hpp"
#include "scheduler/run_setup.hpp"
#include "scheduler/signals.hpp"

namespace ckv {

int run_distributed(const LaunchContext& launch, const RunRequest& request) {
  MpiSession session;
  session.check_world(launch);
  if (session.size() < 2)
    CKV_FAIL("{}: a distributed run needs at least 2 ranks (rank 0 schedules, the others compute)",
             session.where());

  if (session.rank() != 0) {
    try {
      return run_mpi_worker(session, default_evaluator(), request.device);
    } catch (const std::exception& e) {
      // Only MPI failures get here (batch errors go to rank 0 as messages); the job cannot
      // continue without this rank's communication, so end it rather than leave rank 0 waiting.
      spdlog::critical("{}", e.what());
      session.abort(kExitError);
    }
  }

  install_drain_handlers();
  std::optional<MpiTransport> transport;
  try {
    transport.emplace(session);
    transport->launcher = launch.launcher;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    session.abort(kExitError);  // a silent rank cannot be told to stop; nothing is written yet
  }

  int code = kExitError;
  try {
    code = schedule_campaign(request, [&](const CampaignSpec&) -> Transport& { return *transport; });
  } catch (const std::exception& e) {
    fmt::print(stderr, "ckv-sweep: error: {}\n", e.what());
    code = kExitError;
  }
  // The database is closed here; what follows only concerns the other ranks. After a second
  // signal, workers busy in a batch are not waited for.
  if (stop_now_requested()) transport->stop_timeout = 1;
  transport->stop();
  if (!transport->all_stopped()) session.abort(code);
  return code;
}

}  // namespace ckv
