#include "db/queries.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "common/tasks.hpp"

namespace ckv {

namespace {

std::string list_or_none(const std::vector<std::string>& names, const char* none) {
  return names.empty() ? std::string(none) : fmt::format("{}", fmt::join(names, ", "));
}

int64_t campaign_id_or_throw(Database& db, const std::string& campaign) {
  Statement q = db.prepare("SELECT id FROM campaigns WHERE name = ?");
  q.bind(1, campaign);
  if (q.step()) return q.column_int64(0);
  CKV_FAIL("{}: no campaign '{}'; campaigns in this database: {}", db.path(), campaign,
           list_or_none(campaign_names(db), "(none yet)"));
}

// Position of a task in the report: known tasks in their declared order, others after.
size_t task_rank(const std::string& task) {
  const auto& known = known_tasks();
  for (size_t i = 0; i < known.size(); ++i)
    if (known[i].name == task) return i;
  return known.size();
}

}  // namespace

std::vector<CampaignStatus> campaign_status(Database& db, double now, double window_seconds) {
  std::vector<CampaignStatus> campaigns;
  Statement progress = db.prepare(
      "SELECT c.id, c.name, c.spec_path, c.created_at, c.updated_at, p.total, p.pending, "
      "p.running, p.done, p.failed, p.lost "
      "FROM campaigns c JOIN campaign_progress p ON p.campaign = c.name ORDER BY c.id");
  while (progress.step()) {
    CampaignStatus s;
    s.id = progress.column_int64(0);
    s.name = progress.column_text(1);
    s.spec_path = progress.column_text(2);
    s.created_at = progress.column_double(3);
    s.updated_at = progress.column_double(4);
    s.total = progress.column_int64(5);
    s.pending = progress.column_int64(6);
    s.running = progress.column_int64(7);
    s.done = progress.column_int64(8);
    s.failed = progress.column_int64(9);
    s.lost = progress.column_int64(10);
    campaigns.push_back(s);
  }

  Statement recent = db.prepare(
      "SELECT COUNT(*), MIN(a.started_at) FROM attempts a "
      "JOIN campaign_units cu ON cu.unit_id = a.unit_id AND cu.campaign_id = ? "
      "WHERE a.ended_at >= ? AND a.ended_at <= ? AND a.outcome IN ('done', 'failed')");
  // Walks the ended_at index from the newest end and stops at the campaign's first.
  Statement latest = db.prepare(
      "SELECT a.ended_at FROM attempts a WHERE a.ended_at IS NOT NULL AND EXISTS "
      "(SELECT 1 FROM campaign_units cu WHERE cu.unit_id = a.unit_id AND cu.campaign_id = ?) "
      "ORDER BY a.ended_at DESC LIMIT 1");
  for (CampaignStatus& s : campaigns) {
    latest.bind(1, s.id);
    if (latest.step()) s.last_activity = latest.column_double(0);
    latest.reset();
    // The window ends now while units run, and at the last activity once none does: the rate of
    // a run that has ended is that of its last active minutes, not diluted by the idle time since.
    const double window_end = s.running > 0 || !s.last_activity ? now : std::min(now, *s.last_activity);
    const double window_start = window_end - window_seconds;
    recent.bind(1, s.id).bind(2, window_start).bind(3, window_end);
    if (recent.step() && recent.column_int64(0) > 0) {
      s.finished_in_window = recent.column_int64(0);
      // A run that started inside the window has only been going since its first start.
      double since = std::max(window_start, recent.column_double(1));
      double span = std::max(window_end - since, 1e-3);
      s.rate = double(s.finished_in_window) / span;
    }
    recent.reset();
    int64_t remaining = s.pending + s.running + s.lost;
    if (remaining == 0)
      s.eta_seconds = 0.0;
    else if (s.rate > 0)
      s.eta_seconds = double(remaining) / s.rate;
  }
  return campaigns;
}

std::optional<std::string> active_writer(const std::string& db_path) { return database_writer(db_path); }

std::vector<UnitFailure> campaign_failures(Database& db, const std::string& campaign,
                                           size_t limit) {
  campaign_id_or_throw(db, campaign);
  Statement q = db.prepare(
      "SELECT configuration, method, task, sample_key, state, attempts, last_error, updated_at "
      "FROM unit_failures WHERE campaign = ? ORDER BY updated_at DESC LIMIT ?");
  q.bind(1, campaign).bind(2, int64_t(limit));
  std::vector<UnitFailure> failures;
  while (q.step()) {
    UnitFailure f;
    f.configuration_hash = q.column_text(0);
    f.method = q.column_text(1);
    f.task = q.column_text(2);
    f.sample_key = q.column_text(3);
    f.state = unit_state_from_name(q.column_text(4));
    f.attempts = int(q.column_int64(5));
    f.last_error = q.column_text(6);
    f.updated_at = q.column_double(7);
    failures.push_back(f);
  }
  return failures;
}

std::vector<std::string> campaign_names(Database& db) {
  Statement q = db.prepare("SELECT name FROM campaigns ORDER BY id");
  std::vector<std::string> names;
  while (q.step()) names.push_back(q.column_text(0));
  return names;
}

std::vector<std::string> metric_names(Database& db, const std::string& campaign) {
  int64_t campaign_id = campaign_id_or_throw(db, campaign);
  // Per metric, stop at its first result in a done unit of the campaign (results_by_metric).
  Statement q = db.prepare(
      "SELECT m.metric FROM (SELECT DISTINCT metric FROM results) m WHERE EXISTS ("
      "  SELECT 1 FROM results r JOIN units u ON u.id = r.unit_id AND u.state = 'done' "
      "  JOIN campaign_units cu ON cu.unit_id = u.id AND cu.campaign_id = ? "
      "  WHERE r.metric = m.metric) ORDER BY m.metric");
  q.bind(1, campaign_id);
  std::vector<std::string> names;
  while (q.step()) names.push_back(q.column_text(0));
  return names;
}

CampaignReport campaign_report(Database& db, const std::string& campaign,
                               const std::string& metric) {
  int64_t campaign_id = campaign_id_or_throw(db, campaign);
  std::vector<std::string> metrics = metric_names(db, campaign);
  if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
    if (metrics.empty())
      CKV_FAIL("{}: campaign '{}' has no results yet (no unit is done)", db.path(), campaign);
    CKV_FAIL("{}: campaign '{}' has no results for metric '{}'; metrics: {}", db.path(), campaign,
             metric, list_or_none(metrics, "(none)"));
  }

  CampaignReport report;
  report.campaign = campaign;
  report.metric = metric;

  Statement tasks = db.prepare(
      "SELECT s.task, COUNT(DISTINCT s.id) FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN samples s ON s.id = u.sample_id WHERE cu.campaign_id = ? GROUP BY s.task");
  tasks.bind(1, campaign_id);
  while (tasks.step()) {
    report.tasks.push_back(tasks.column_text(0));
    report.task_samples[tasks.column_text(0)] = tasks.column_int64(1);
  }
  std::sort(report.tasks.begin(), report.tasks.end(),
            [](const std::string& a, const std::string& b) {
              size_t ra = task_rank(a), rb = task_rank(b);
              return ra != rb ? ra < rb : a < b;
            });

  std::map<std::string, size_t> row_of_hash;
  Statement configurations = db.prepare(
      "SELECT cf.id, cf.hash, cf.method, cf.canonical_json, COUNT(*), "
      "SUM(u.state = 'done'), COALESCE(json_extract(cf.canonical_json, '$.eval.numerics'), 1) "
      "FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN configurations cf ON cf.id = u.configuration_id "
      "WHERE cu.campaign_id = ? GROUP BY cf.id ORDER BY cf.id");
  configurations.bind(1, campaign_id);
  while (configurations.step()) {
    ReportRow row;
    row.configuration.id = configurations.column_int64(0);
    row.configuration.hash = configurations.column_text(1);
    row.configuration.method = configurations.column_text(2);
    row.configuration.canonical_json = configurations.column_text(3);
    row.total_units = configurations.column_int64(4);
    row.done_units = configurations.column_int64(5);
    row.configuration.numerics = int(configurations.column_int64(6));
    if (std::find(report.numerics.begin(), report.numerics.end(), row.configuration.numerics) == report.numerics.end())
      report.numerics.push_back(row.configuration.numerics);
    row_of_hash[row.configuration.hash] = report.rows.size();
    report.rows.push_back(std::move(row));
  }

  std::sort(report.numerics.begin(), report.numerics.end());

  // The cross-task means are computed here from task_scores, by the formulas of the
  // campaign_summary view: SQLite does not push a campaign filter through that view's nested
  // aggregates, and the whole-database aggregation takes seconds on large databases.
  std::vector<std::map<std::string, std::vector<double>>> category_task_means(report.rows.size());
  Statement scores = db.prepare(
      "SELECT configuration, task, mean, count, category FROM task_scores "
      "WHERE campaign = ? AND metric = ?");
  scores.bind(1, campaign).bind(2, metric);
  while (scores.step()) {
    auto found = row_of_hash.find(scores.column_text(0));
    CKV_CHECK(found != row_of_hash.end(),
              "{}: task_scores names configuration {} that campaign "
              "'{}' does not contain",
              db.path(), scores.column_text(0), campaign);
    TaskScore score;
    score.mean = scores.column_optional_double(2);
    score.count = scores.column_int64(3);
    report.rows[found->second].tasks[scores.column_text(1)] = score;
    if (score.mean) category_task_means[found->second][scores.column_text(4)].push_back(*score.mean);
  }
  // How many units of each (configuration, task) are done: a mean over fewer samples than the
  // task has is shown as such (report_table.cpp), never silently.
  Statement done = db.prepare(
      "SELECT cf.hash, s.task, SUM(u.state = 'done') FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN configurations cf ON cf.id = u.configuration_id JOIN samples s ON s.id = u.sample_id "
      "WHERE cu.campaign_id = ? GROUP BY cf.hash, s.task");
  done.bind(1, campaign_id);
  while (done.step()) {
    auto found = row_of_hash.find(done.column_text(0));
    if (found == row_of_hash.end()) continue;
    auto task = report.rows[found->second].tasks.find(done.column_text(1));
    if (task != report.rows[found->second].tasks.end()) task->second.done = done.column_int64(2);
  }
  for (ReportRow& row : report.rows)
    for (auto& [task, score] : row.tasks) score.samples = report.task_samples[task];
  for (size_t i = 0; i < report.rows.size(); ++i) {
    ReportRow& row = report.rows[i];
    double task_sum = 0, category_sum = 0;
    for (const auto& [category, means] : category_task_means[i]) {
      double sum = 0;
      for (double mean : means) sum += mean;
      task_sum += sum;
      category_sum += sum / double(means.size());
      row.tasks_counted += int(means.size());
      ++row.categories_counted;
    }
    if (row.tasks_counted > 0) {
      row.task_mean = task_sum / row.tasks_counted;
      row.category_mean = category_sum / row.categories_counted;
    }
  }
  return report;
}

std::vector<SampleValue> campaign_sample_values(Database& db, const std::string& campaign,
                                                const std::string& metric) {
  const int64_t campaign_id = campaign_id_or_throw(db, campaign);
  Statement q = db.prepare(
      "SELECT cf.hash, s.task, s.id, s.n_tokens, r.value FROM campaign_units cu "
      "JOIN units u ON u.id = cu.unit_id JOIN configurations cf ON cf.id = u.configuration_id "
      "JOIN samples s ON s.id = u.sample_id JOIN results r ON r.unit_id = u.id AND r.metric = ? "
      "WHERE cu.campaign_id = ? AND u.state = 'done' ORDER BY cf.id, s.task, s.id");
  q.bind(1, metric).bind(2, campaign_id);
  std::vector<SampleValue> out;
  while (q.step())
    out.push_back({q.column_text(0), q.column_text(1), q.column_int64(2), q.column_int64(3),
                   q.column_optional_double(4)});
  return out;
}

std::vector<std::optional<UnitState>> unit_states(Database& db, const std::vector<UnitKey>& keys) {
  Statement q = db.prepare(
      "SELECT u.state FROM configurations cf "
      "JOIN samples s ON s.task = ?2 AND s.sample_key = ?3 AND s.fingerprint = ?4 "
      "JOIN units u ON u.configuration_id = cf.id AND u.sample_id = s.id WHERE cf.hash = ?1");
  std::vector<std::optional<UnitState>> states;
  states.reserve(keys.size());
  for (const UnitKey& key : keys) {
    q.bind(1, key.configuration_hash).bind(2, key.task).bind(3, key.sample_key).bind(4, key.fingerprint);
    if (q.step())
      states.push_back(unit_state_from_name(q.column_text(0)));
    else
      states.push_back(std::nullopt);
    q.reset();
  }
  return states;
}

namespace {

// The statement's first line, shortened, for messages.
std::string statement_excerpt(const std::string& sql) {
  std::string text = sql.substr(0, sql.find('\n'));
  const size_t start = text.find_first_not_of(" \t\r");
  text = start == std::string::npos ? "" : text.substr(start);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Denies ATTACH and DETACH, which sqlite3_stmt_readonly counts as read-only (they change the
// connection, not a file) but which would let a query open, create or write other files.
extern "C" int deny_attach(void* denied, int action, const char*, const char*, const char*, const char*) {
  if (action == SQLITE_ATTACH || action == SQLITE_DETACH) {
    *static_cast<const char**>(denied) = action == SQLITE_ATTACH ? "ATTACH" : "DETACH";
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

}  // namespace

QueryResult run_query(Database& db, const std::string& sql) {
  const char* denied = nullptr;
  sqlite3_set_authorizer(db.handle(), &deny_attach, &denied);
  // VACUUM INTO attaches its output internally (with the authorizer off): no attached database
  // at all closes that door too.
  const int attached_limit = sqlite3_limit(db.handle(), SQLITE_LIMIT_ATTACHED, 0);
  struct Restore {
    sqlite3* handle;
    int limit;
    ~Restore() {
      sqlite3_set_authorizer(handle, nullptr, nullptr);
      sqlite3_limit(handle, SQLITE_LIMIT_ATTACHED, limit);
    }
  } restore{db.handle(), attached_limit};

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int prepared = sqlite3_prepare_v2(db.handle(), sql.c_str(), int(sql.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
  if (denied)
    CKV_FAIL("{}: query is read-only: {} is refused (it would open or write another database file)", db.path(), denied);
  if (prepared != SQLITE_OK) CKV_FAIL("{}: {}", db.path(), sqlite3_errmsg(db.handle()));
  CKV_CHECK(raw != nullptr,
            "{}: the SQL is empty (nothing but spaces or comments): give one statement, e.g. "
            "\"select * from campaign_progress\"",
            db.path());
  // One statement only: a second one would silently not run.
  if (tail && *tail) {
    sqlite3_stmt* next = nullptr;
    const char* after = nullptr;
    sqlite3_prepare_v2(db.handle(), tail, -1, &next, &after);
    const bool more = next != nullptr;
    sqlite3_finalize(next);
    CKV_CHECK(!more,
              "{}: several statements given; query runs exactly one (the second starts at `{}`): run them "
              "one per call",
              db.path(), statement_excerpt(tail));
  }
  CKV_CHECK(sqlite3_stmt_readonly(raw),
            "{}: query is read-only: `{}` would write (VACUUM, INSERT, UPDATE, DELETE, "
            "CREATE, DROP and writing PRAGMAs are refused; use the sqlite3 shell on a copy for those)",
            db.path(), statement_excerpt(sql));
  QueryResult result;
  const int columns = sqlite3_column_count(raw);
  for (int c = 0; c < columns; ++c) result.columns.push_back(sqlite3_column_name(raw, c));
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    std::vector<json> row;
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(raw, c)) {
        case SQLITE_INTEGER: row.push_back(sqlite3_column_int64(raw, c)); break;
        case SQLITE_FLOAT: row.push_back(sqlite3_column_double(raw, c)); break;
        case SQLITE_NULL: row.push_back(nullptr); break;
        default: row.push_back(reinterpret_cast<const char*>(sqlite3_column_text(raw, c)));
      }
    }
    result.rows.push_back(std::move(row));
  }
  CKV_CHECK(rc == SQLITE_DONE, "{}: {}", db.path(), sqlite3_errmsg(db.handle()));
  return result;
}

}  // namespace ckv
