// `ckv-sweep [run] SPEC.toml`: one set-up for the embedded and the MPI run (docs/spec/MISSION.md R6, R8). The command
// line is parsed once into a RunRequest on every rank; the launcher decides who schedules
// (embedded: this process; MPI: rank 0) and who computes (worker threads; ranks >= 1). Both
// paths load and validate the spec, open the database, plan, register and run the campaign the
// same way (schedule_campaign), choose devices by one policy (worker/device_policy.hpp) and
// end with one exit-code table (common/exit_codes.hpp).
#pragma once
#include <functional>
#include <string>

#include "scheduler/campaign.hpp"
#include "scheduler/runner.hpp"
#include "scheduler/transport.hpp"
#include "worker/device_policy.hpp"

namespace ckv {

// The most worker threads an embedded run starts (the same bound as [run] threads).
constexpr int kMaxWorkerThreads = 4096;

struct RunRequest {
  std::string spec_path;
  RunOptions options;
  int threads = -1;  // embedded worker threads; -1 = the spec's [run] threads (0 = all cores)
  DeviceChoice device = DeviceChoice::Auto;
  PlanOptions plan;
  double commit_retry = 60;  // seconds a failing commit is retried before the run stops (exit 3)
  bool redefine = false;     // this spec may redefine a campaign another spec file defined
};

// The whole run: embedded when no MPI launcher started several ranks, else distributed.
// Returns the process exit code. Errors before the run throw ckv::Error (exit 1).
int run_campaign_command(const RunRequest& request);

// The scheduler's side, shared by the embedded run and MPI rank 0: spec, plan, database,
// registration, the dispatch loop on the transport that `transport_for` provides once the spec
// is known, the final commit and the summary. Returns kExitOk or kExitIncomplete; throws on errors.
using TransportProvider = std::function<Transport&(const CampaignSpec& spec)>;
int schedule_campaign(const RunRequest& request, const TransportProvider& transport_for);

// The end-of-run lines: what ran, and for an incomplete campaign what each kind of unfinished
// unit needs (the same command, --retry-failed, --retry-lost).
std::string run_summary_text(const CampaignSpec& spec, const RunSummary& summary);
// Prints them and returns kExitOk or kExitIncomplete.
int report_run_summary(const CampaignSpec& spec, const RunSummary& summary);

}  // namespace ckv
