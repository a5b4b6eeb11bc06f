// The scheduler loop (docs/spec/MISSION.md R6, R8): hands out batches grouped by sample, records attempts and
// results through the single writer, requeues lost work on the next run, drains on signals.
#pragma once
#include <string>

#include "db/result_store.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/progress.hpp"
#include "scheduler/transport.hpp"

namespace ckv {

struct RunOptions {
  bool retry_failed = false;  // also rerun units that failed (default: only pending and lost)
  bool retry_lost = false;    // also rerun lost units whose retry budget ([run] max_attempts) is used up
  Progress::Mode progress = Progress::Mode::Auto;
  double progress_interval = 30.0;  // seconds between lines when not on a terminal
  double drain_grace = 30.0;        // seconds to collect in-flight work after a drain signal
  int batches_in_flight = 2;        // per worker, so a worker never idles waiting for rank 0
};

struct RunSummary {
  long long total = 0;                       // units of the campaign
  long long already_done = 0;                // done before this run
  long long ran = 0;                         // units handed out by this run
  long long done = 0, failed = 0, lost = 0;  // outcomes of this run
  long long remaining = 0;                   // units of the campaign not done after this run, of which:
  long long remaining_failed = 0;            // failed (rerun only with --retry-failed)
  long long remaining_retryable = 0;         // lost with attempts left, or pending: the same command runs them
  long long remaining_exhausted = 0;         // lost with no attempt left (rerun only with --retry-lost)
  int max_attempts = 0;
  bool drained = false;
  bool stopped_now = false;  // a second signal ended the drain at once
  int drain_signal = 0;
  double seconds = 0;
  bool complete() const { return remaining == 0; }
};

RunSummary run_campaign(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store,
                        Transport& transport, const RunOptions& options);

}  // namespace ckv
