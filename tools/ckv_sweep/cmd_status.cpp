// `ckv-sweep status DB`: progress of every campaign, safe while a run writes (read-only).
#include <cmath>
#include <iostream>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "scheduler/progress.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int status_command(int argc, char** argv) {
  po::options_description options("status options");
  std::string db_path;
  std::string failures_of;
  options.add_options()("db", po::value(&db_path)->required(), "database file")("failures", po::value(&failures_of), "list the failed and lost units of this campaign");
  po::positional_options_description positional;
  positional.add("db", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep status DB [--failures CAMPAIGN]", options, positional, vm)) return kExitOk;

  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  const double now = now_seconds();
  auto statuses = campaign_status(db, now);
  auto writer = active_writer(db_path);
  fmt::print("{}: {} campaign(s); {}\n", db_path, statuses.size(),
             writer ? "a run is writing (" + *writer + ")" : std::string("no run is writing"));
  fmt::print("{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9}  {}\n", "campaign", "units", "done",
             "running", "failed", "lost", "pending", "units/s", "ETA", "last activity");
  for (const auto& s : statuses) {
    std::string last = s.last_activity ? format_duration(now - *s.last_activity) + " ago" : "-";
    std::string eta = s.done == s.total ? "done" : (writer && s.eta_seconds ? format_duration(*s.eta_seconds) : "-");
    fmt::print("{:<16} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9.2f} {:>9}  {}\n", s.name, s.total, s.done,
               s.running, s.failed, s.lost, s.pending, s.rate, eta, last);
  }
  if (!writer)
    for (const auto& s : statuses)
      if (s.running > 0)
        fmt::print(
            "note: '{}' has {} units marked running but no run is writing: the last run died; "
            "rerun the campaign to requeue them\n",
            s.name, s.running);
  if (!failures_of.empty()) {
    auto failures = campaign_failures(db, failures_of, 50);
    fmt::print("\n{} failed/lost units of '{}' (most recent first):\n", failures.size(), failures_of);
    for (const auto& f : failures)
      fmt::print("  {:<6} {} {}/{} [{}] attempts={}: {}\n", unit_state_name(f.state), f.method, f.task,
                 f.sample_key, f.configuration_hash.substr(0, 12), f.attempts, f.last_error);
  }
  return kExitOk;
}

}  // namespace ckv::cli
