// Read-side questions for `ckv-sweep status`, `report` and `plan`. Everything here works on a
// read-only connection (Database::Mode::ReadOnly) while a campaign writes, and answers from the
// views of docs/database.md so that the tools and plain SQL agree.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"

namespace ckv {

// ---- status --------------------------------------------------------------------------------

struct CampaignStatus {
  int64_t id = 0;
  std::string name, spec_path;
  double created_at = 0, updated_at = 0;  // unix seconds
  // Unit counts from the campaign_progress view (units shared with other campaigns count in
  // each).
  int64_t total = 0, pending = 0, running = 0, done = 0, failed = 0, lost = 0;
  // Throughput over the recent window: attempts that ended done or failed (both finish a
  // unit) in [end - window, end], divided by the time from the window's opening or the earliest
  // of those attempts' start, whichever is later, to its end. The window ends now while units of
  // the campaign are running, and at the last activity when none is (a run that ended keeps the
  // rate it had, however long ago it ended). 0 when nothing finished in the window.
  int64_t finished_in_window = 0;
  double rate = 0;                      // units per second
  std::optional<double> eta_seconds;    // (pending + running + lost) / rate; none when rate is 0
  std::optional<double> last_activity;  // unix seconds of the latest attempt end
};

// Every campaign, in creation order. `now` is unix seconds (passed in so tests can fix it).
std::vector<CampaignStatus> campaign_status(Database& db, double now, double window_seconds = 600);

// "pid N on host H" when a writer currently holds the database open (its "<db>-lock" file is
// locked), nullopt otherwise. Lets `status` tell a live run from units left `running` by a
// run that died.
std::optional<std::string> active_writer(const std::string& db_path);

struct UnitFailure {
  std::string configuration_hash, method, task, sample_key;
  UnitState state = UnitState::Failed;  // Failed or Lost
  int attempts = 0;
  std::string last_error;
  double updated_at = 0;
};

// Failed and lost units of a campaign, most recent first, at most `limit`.
std::vector<UnitFailure> campaign_failures(Database& db, const std::string& campaign,
                                           size_t limit = 20);

// ---- report --------------------------------------------------------------------------------

struct ConfigurationInfo {
  int64_t id = 0;
  std::string hash, method, canonical_json;
  // The numerics version its results were computed under ("eval"."numerics"; 1 when the
  // document has none, kernels/numerics.hpp).
  int numerics = 1;
};

struct TaskScore {
  std::optional<double> mean;  // mean over the done samples' non-NULL values
  int64_t count = 0;           // how many non-NULL values went into the mean
  int64_t samples = 0;         // the task's samples in the campaign: the mean covers count of them
  int64_t done = 0;            // of those, units of this configuration that are done
};

struct ReportRow {
  ConfigurationInfo configuration;
  std::map<std::string, TaskScore> tasks;  // by task; a task without done samples is absent
  std::optional<double> task_mean;         // mean of task means (16-task mean)
  std::optional<double> category_mean;     // mean over categories of the mean of task means
  int tasks_counted = 0, categories_counted = 0;
  int64_t done_units = 0, total_units = 0;
};

struct CampaignReport {
  std::string campaign, metric;
  // The campaign's tasks (of all its samples, done or not) in common/tasks.hpp order; tasks
  // this build does not know follow, by name.
  std::vector<std::string> tasks;
  std::map<std::string, int64_t> task_samples;  // samples of each task in the campaign
  std::vector<ReportRow> rows;                  // one per configuration of the campaign, by configuration id
  // The numerics versions of those configurations, ascending: one normally; two or more when
  // the campaign holds rows computed by kernels that round differently (never averaged together).
  std::vector<int> numerics;
};

// Throws ckv::Error naming the valid choices when the campaign does not exist or has no result
// for `metric`.
CampaignReport campaign_report(Database& db, const std::string& campaign,
                               const std::string& metric);

// One stored value of a metric: a done unit of the campaign (configuration, sample) and its
// value (nullopt: NULL, the metric could not be computed), with the sample's prompt length. The
// spread and replicate columns of the report are computed from these (report/report_table.hpp).
struct SampleValue {
  std::string configuration;  // hash
  std::string task;
  int64_t sample_id = 0;  // samples.id: the same sample across configurations
  int64_t n_tokens = 0;
  std::optional<double> value;
};
// Every done unit's value of `metric` in the campaign, by configuration id, task, sample id.
// Empty when the metric is not stored (no error: the caller decides whether it needs it).
std::vector<SampleValue> campaign_sample_values(Database& db, const std::string& campaign,
                                                const std::string& metric);

std::vector<std::string> campaign_names(Database& db);
// Metrics with at least one stored result among the campaign's done units, sorted.
std::vector<std::string> metric_names(Database& db, const std::string& campaign);

// ---- plan ----------------------------------------------------------------------------------

// A unit as a plan names it: the configuration and the sample's identity, fingerprint included
// (a sample of the same task and key with other content is another sample, docs/database.md).
struct UnitKey {
  std::string configuration_hash, task, sample_key;
  std::string fingerprint = "";
};

// The state of each unit, nullopt where the database has no such unit yet (it would be new).
std::vector<std::optional<UnitState>> unit_states(Database& db, const std::vector<UnitKey>& keys);

// ---- query ---------------------------------------------------------------------------------

// The rows of one SQL statement, values typed as SQLite returned them (integer, real, text,
// NULL; blobs as text).
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<json>> rows;
};
// Runs exactly one read-only statement: empty SQL, several statements, a statement that would
// write (VACUUM INTO, INSERT, CREATE TEMP, a writing PRAGMA ...), ATTACH and DETACH are refused
// with a message naming the database and the problem, before anything runs.
QueryResult run_query(Database& db, const std::string& sql);

}  // namespace ckv
