// `ckv-sweep SPEC.toml` under mpirun/srun (world size > 1): rank 0 schedules and is the only
// database writer, ranks >= 1 evaluate batches (docs/spec/MISSION.md R6). Workers never open the database.
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/launch.hpp"
#include "scheduler/mpi/mpi_transport.hpp"
#include "scheduler/runner.hpp"
#include "scheduler/signals.hpp"

namespace ckv {

int run_distributed(const LaunchContext& launch, const std::string& spec_path, const RunOptions& options) {
  MpiSession session;
  session.check_world(launch);
  if (session.size() < 2)
    CKV_FAIL("{}: a distributed run needs at least 2 ranks (rank 0 schedules, the others compute)",
             session.where());

  if (session.rank() != 0) {
    try {
      return run_mpi_worker(session, default_evaluator());
    } catch (const std::exception& e) {
      // Only MPI failures get here (batch errors go to rank 0 as messages); the job cannot
      // continue without this rank's communication, so end it rather than leave rank 0 waiting.
      spdlog::critical("{}", e.what());
      session.abort(kRunError);
    }
  }

  install_drain_handlers();
  std::optional<MpiTransport> transport;
  try {
    transport.emplace(session);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    session.abort(kRunError);  // a silent rank cannot be told to stop; nothing is written yet
  }

  int code = kRunError;
  try {
    CampaignSpec spec = load_spec(spec_path);
    CampaignPlan plan = prepare_campaign(spec);  // validates and plans before anything is written
    Database db = Database::open(spec.database, Database::Mode::Writer);
    ResultStore store(db, spec.run.commit_interval);
    register_campaign(spec, plan, store);
    spdlog::info("campaign '{}': {} configurations x {} samples = {} units; {} MPI workers ({} launch)",
                 spec.name, plan.configurations.size(), plan.samples.size(), plan.units.size(),
                 transport->worker_count(), launch.launcher);
    const RunSummary summary = run_campaign(spec, plan, store, *transport, options);
    store.flush();
    code = report_run_summary(spec, summary);
  } catch (const std::exception& e) {
    fmt::print(stderr, "ckv-sweep: error: {}\n", e.what());
    code = kRunError;
  }
  // The database is closed here; what follows only concerns the other ranks.
  transport->stop();
  if (!transport->all_stopped()) session.abort(code);
  return code;
}

}  // namespace ckv
