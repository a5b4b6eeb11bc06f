#include "db/result_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "db/sqlite_util.hpp"

namespace ckv {

namespace {
int changed_rows(Database& db) { return sqlite3_changes(db.handle()); }
}  // namespace

const char* unit_state_name(UnitState state) {
  switch (state) {
    case UnitState::Pending: return "pending";
    case UnitState::Running: return "running";
    case UnitState::Done: return "done";
    case UnitState::Failed: return "failed";
    case UnitState::Lost: return "lost";
  }
  return "unknown";
}

UnitState unit_state_from_name(const std::string& name) {
  if (name == "pending") return UnitState::Pending;
  if (name == "running") return UnitState::Running;
  if (name == "done") return UnitState::Done;
  if (name == "failed") return UnitState::Failed;
  if (name == "lost") return UnitState::Lost;
  CKV_FAIL("unknown unit state '{}' (expected pending, running, done, failed or lost)", name);
}

// One buffered write. `attempt_id` is the attempts row a finish closes, when that row was
// already committed at the time the finish was recorded; 0 means it is inserted by a Begin
// earlier in the same buffer.
struct ResultStore::Op {
  enum class Kind { Begin,
                    Done,
                    Failed,
                    Lost };
  Op() = default;
  Op(Kind kind_, int64_t unit, double time) : kind(kind_), unit_id(unit), t(time) {}
  Kind kind = Kind::Begin;
  int64_t unit_id = 0;
  double t = 0;
  int rank = 0;
  std::string host;
  int64_t pid = 0;
  std::string error;
  std::map<std::string, std::optional<double>> metrics;
  int64_t attempt_id = 0;
};

ResultStore::ResultStore(Database& db, double commit_interval_seconds)
    : db_(db), interval_(commit_interval_seconds), last_commit_(monotonic_seconds()) {}

ResultStore::~ResultStore() {
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("{} ({} buffered writes lost)", e.what(), ops_.size());
  }
}

int64_t ResultStore::upsert_campaign(const std::string& name, const std::string& spec_path,
                                     const std::string& spec_text) {
  double now = now_seconds();
  Statement upsert = db_.prepare(
      "INSERT INTO campaigns (name, spec_path, spec_text, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?4) "
      "ON CONFLICT (name) DO UPDATE SET spec_path = excluded.spec_path, "
      "spec_text = excluded.spec_text, updated_at = excluded.updated_at "
      "RETURNING id");
  upsert.bind(1, name).bind(2, spec_path).bind(3, spec_text).bind(4, now);
  CKV_CHECK(upsert.step(), "{}: storing campaign '{}' returned no id", db_.path(), name);
  int64_t id = upsert.column_int64(0);
  upsert.run();
  return id;
}

int64_t ResultStore::upsert_configuration(const std::string& hash, const std::string& method,
                                          const std::string& canonical_json) {
  Statement find = db_.prepare("SELECT id, method, canonical_json FROM configurations WHERE hash = ?");
  find.bind(1, hash);
  if (find.step()) {
    // The hash is the SHA-256 of the canonical JSON, so a different text under the same hash
    // means the caller hashed something else: refuse rather than mix two configurations.
    CKV_CHECK(find.column_text(2) == canonical_json,
              "{}: configuration {} is stored with different canonical JSON ({} vs {})",
              db_.path(), hash, find.column_text(2), canonical_json);
    return find.column_int64(0);
  }
  Statement insert = db_.prepare(
      "INSERT INTO configurations (hash, method, canonical_json, created_at) VALUES (?, ?, ?, ?)");
  insert.bind(1, hash).bind(2, method).bind(3, canonical_json).bind(4, now_seconds());
  insert.run();
  return db_.last_insert_id();
}

int64_t ResultStore::upsert_sample(const SampleRow& sample) {
  // The cache may have moved (a copied results directory): the path and sizes follow the
  // latest spec; identity is (task, sample_key, fingerprint).
  Statement upsert = db_.prepare(
      "INSERT INTO samples (task, sample_key, path, n_tokens, m_answer, fingerprint) "
      "VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (task, sample_key, fingerprint) DO UPDATE SET path = excluded.path, "
      "n_tokens = excluded.n_tokens, m_answer = excluded.m_answer "
      "RETURNING id");
  upsert.bind(1, sample.task).bind(2, sample.sample_key).bind(3, sample.path);
  upsert.bind(4, int64_t(sample.n_tokens)).bind(5, int64_t(sample.m_answer));
  upsert.bind(6, sample.fingerprint);
  CKV_CHECK(upsert.step(), "{}: storing sample {}/{} returned no id", db_.path(), sample.task,
            sample.sample_key);
  int64_t id = upsert.column_int64(0);
  upsert.run();
  return id;
}

bool ResultStore::sample_known_otherwise(const SampleRow& sample) {
  Statement q = db_.prepare("SELECT 1 FROM samples WHERE task = ? AND sample_key = ? AND fingerprint <> ? LIMIT 1");
  q.bind(1, sample.task).bind(2, sample.sample_key).bind(3, sample.fingerprint);
  return q.step();
}

std::optional<ResultStore::CampaignDefinition> ResultStore::campaign_definition(const std::string& name) {
  Statement campaign = db_.prepare("SELECT id, spec_path FROM campaigns WHERE name = ?");
  campaign.bind(1, name);
  if (!campaign.step()) return std::nullopt;
  CampaignDefinition out;
  const int64_t id = campaign.column_int64(0);
  out.spec_path = campaign.column_text(1);
  Statement units = db_.prepare(
      "SELECT DISTINCT cf.hash, s.task || '/' || s.sample_key || '/' || s.fingerprint "
      "FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN configurations cf ON cf.id = u.configuration_id JOIN samples s ON s.id = u.sample_id "
      "WHERE cu.campaign_id = ?");
  units.bind(1, id);
  while (units.step()) {
    out.configurations.insert(units.column_text(0));
    out.samples.insert(units.column_text(1));
  }
  return out;
}

std::vector<UnitRow> ResultStore::ensure_units(
    int64_t campaign_id, const std::vector<std::pair<int64_t, int64_t>>& config_sample) {
  // Buffered state changes first, so the rows returned are current.
  flush();
  std::vector<UnitRow> rows;
  rows.reserve(config_sample.size());
  double now = now_seconds();
  Transaction transaction(db_);
  Statement create = db_.prepare(
      "INSERT OR IGNORE INTO units (configuration_id, sample_id, state, attempts, updated_at) "
      "VALUES (?, ?, 'pending', 0, ?)");
  Statement read = db_.prepare(
      "SELECT id, state, attempts FROM units WHERE configuration_id = ? AND sample_id = ?");
  Statement link =
      db_.prepare("INSERT OR IGNORE INTO campaign_units (campaign_id, unit_id) VALUES (?, ?)");
  // The campaign is what its spec says now: a grid point or sample dropped from the spec leaves
  // the campaign (its units and results stay in the database for any campaign that has them).
  db_.prepare("DELETE FROM campaign_units WHERE campaign_id = ?").bind(1, campaign_id).run();
  for (const auto& [configuration_id, sample_id] : config_sample) {
    create.bind(1, configuration_id).bind(2, sample_id).bind(3, now);
    create.run();
    create.reset();
    read.bind(1, configuration_id).bind(2, sample_id);
    CKV_CHECK(read.step(), "{}: unit ({}, {}) missing right after its insert", db_.path(),
              configuration_id, sample_id);
    UnitRow row;
    row.unit_id = read.column_int64(0);
    row.configuration_id = configuration_id;
    row.sample_id = sample_id;
    row.state = unit_state_from_name(read.column_text(1));
    row.attempts = int(read.column_int64(2));
    read.reset();
    link.bind(1, campaign_id).bind(2, row.unit_id);
    link.run();
    link.reset();
    rows.push_back(row);
  }
  transaction.commit();
  return rows;
}

int ResultStore::recover_interrupted(int64_t campaign_id) {
  flush();
  const std::string why = "worker vanished (run interrupted)";
  double now = now_seconds();
  Transaction transaction(db_);
  Statement close_attempts = db_.prepare(
      "UPDATE attempts SET outcome = 'lost', ended_at = ?1, error = ?2 "
      "WHERE ended_at IS NULL AND unit_id IN ("
      "  SELECT u.id FROM units u JOIN campaign_units cu ON cu.unit_id = u.id "
      "  WHERE cu.campaign_id = ?3 AND u.state = 'running')");
  close_attempts.bind(1, now).bind(2, why).bind(3, campaign_id);
  close_attempts.run();
  Statement mark_lost = db_.prepare(
      "UPDATE units SET state = 'lost', last_error = ?1, updated_at = ?2 "
      "WHERE state = 'running' AND id IN "
      "  (SELECT unit_id FROM campaign_units WHERE campaign_id = ?3)");
  mark_lost.bind(1, why).bind(2, now).bind(3, campaign_id);
  mark_lost.run();
  int changed = changed_rows(db_);
  transaction.commit();
  if (changed > 0) spdlog::info("{}: {} interrupted units marked lost", db_.path(), changed);
  return changed;
}

void ResultStore::begin_attempt(int64_t unit_id, int rank, const std::string& host, int64_t pid,
                                double t) {
  CKV_CHECK(!open_attempt_.count(unit_id),
            "{}: unit {} already has an attempt in progress; finish it before starting another",
            db_.path(), unit_id);
  Op op(Op::Kind::Begin, unit_id, t);
  op.rank = rank;
  op.host = host;
  op.pid = pid;
  ops_.push_back(std::move(op));
  open_attempt_[unit_id] = 0;
}

namespace {
void check_open(const std::map<int64_t, int64_t>& open, int64_t unit_id, const std::string& path) {
  CKV_CHECK(open.count(unit_id),
            "{}: unit {} has no attempt in progress in this run (begin_attempt first)", path,
            unit_id);
}
}  // namespace

void ResultStore::finish_attempt(Op op) {
  const int64_t unit_id = op.unit_id;
  check_open(open_attempt_, unit_id, db_.path());
  op.attempt_id = open_attempt_[unit_id];
  ops_.push_back(std::move(op));
  open_attempt_.erase(unit_id);
}

void ResultStore::finish_done(int64_t unit_id, double t,
                              const std::map<std::string, std::optional<double>>& metrics) {
  Op op(Op::Kind::Done, unit_id, t);
  op.metrics = metrics;
  finish_attempt(std::move(op));
}

void ResultStore::finish_failed(int64_t unit_id, double t, const std::string& error) {
  Op op(Op::Kind::Failed, unit_id, t);
  op.error = error;
  finish_attempt(std::move(op));
}

void ResultStore::finish_lost(int64_t unit_id, double t, const std::string& why) {
  Op op(Op::Kind::Lost, unit_id, t);
  op.error = why;
  finish_attempt(std::move(op));
}

void ResultStore::maybe_flush() {
  if (!ops_.empty() && monotonic_seconds() - last_commit_ >= interval_) flush();
}

size_t ResultStore::pending_writes() const { return ops_.size(); }

size_t ResultStore::buffered_finishes() const {
  size_t n = 0;
  for (const Op& op : ops_) n += op.kind != Op::Kind::Begin;
  return n;
}

void ResultStore::abandon() { ops_.clear(); }

void ResultStore::flush() {
  if (ops_.empty()) {
    last_commit_ = monotonic_seconds();
    return;
  }
  const double start = monotonic_seconds();
  double pause = 0.1;
  for (bool warned = false;;) {
    try {
      commit_buffer();
      if (warned) spdlog::info("{}: committed after {:.1f} s of retries", db_.path(), monotonic_seconds() - start);
      return;
    } catch (const DatabaseError& e) {
      // The transaction rolled back: the database holds exactly what it held before, and the
      // buffer is kept whole so that a later flush (space freed, lock released) writes it all.
      const int code = e.primary_code();
      const bool may_pass = code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_FULL ||
                            code == SQLITE_IOERR || code == SQLITE_PROTOCOL;
      const double waited = monotonic_seconds() - start;
      if (!may_pass || commit_retry_ <= 0)
        CKV_FAIL("{}; {} buffered writes were not committed and are kept for the next flush", e.what(), ops_.size());
      if (waited + pause > commit_retry_ || (retry_abort_ && retry_abort_()))
        throw CommitError(fmt::format("{}; {} buffered writes were not committed after {:.0f} s of retries and are "
                                      "kept for the next flush",
                                      e.what(), ops_.size(), waited),
                          e.what(), buffered_finishes(), waited);
      if (!warned)
        spdlog::warn("{}; retrying the commit for up to {:.0f} s", e.what(), commit_retry_);
      warned = true;
      std::this_thread::sleep_for(std::chrono::duration<double>(pause));
      pause = std::min(pause * 2, 2.0);
    } catch (const std::exception& e) {
      CKV_FAIL("{}; {} buffered writes were not committed and are kept for the next flush", e.what(), ops_.size());
    }
  }
}

void ResultStore::commit_buffer() {
  // Attempt rows inserted by this batch, by unit, in buffer order. Only merged into
  // open_attempt_ once the commit succeeded: after a rollback the ids do not exist.
  std::map<int64_t, int64_t> begun;
  {
    Transaction transaction(db_);
    Statement insert_attempt = db_.prepare(
        "INSERT INTO attempts (unit_id, rank, host, pid, started_at) VALUES (?, ?, ?, ?, ?)");
    Statement start_unit = db_.prepare(
        "UPDATE units SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?");
    Statement close_attempt =
        db_.prepare("UPDATE attempts SET ended_at = ?, outcome = ?, error = ? WHERE id = ?");
    Statement end_unit =
        db_.prepare("UPDATE units SET state = ?, last_error = ?, updated_at = ? WHERE id = ?");
    Statement store_result =
        db_.prepare("INSERT OR REPLACE INTO results (unit_id, metric, value) VALUES (?, ?, ?)");

    auto require_one_row = [&](int64_t unit_id, const char* what) {
      CKV_CHECK(changed_rows(db_) == 1, "{}: {} for unit {} changed no row", db_.path(),
                what, unit_id);
    };

    for (const Op& op : ops_) {
      if (op.kind == Op::Kind::Begin) {
        start_unit.bind(1, op.t).bind(2, op.unit_id);
        start_unit.run();
        start_unit.reset();
        require_one_row(op.unit_id, "starting an attempt");
        insert_attempt.bind(1, op.unit_id).bind(2, int64_t(op.rank)).bind(3, op.host);
        insert_attempt.bind(4, op.pid).bind(5, op.t);
        insert_attempt.run();
        insert_attempt.reset();
        begun[op.unit_id] = db_.last_insert_id();
        continue;
      }
      int64_t attempt_id = op.attempt_id != 0 ? op.attempt_id : begun.at(op.unit_id);
      const char* state = op.kind == Op::Kind::Done     ? "done"
                          : op.kind == Op::Kind::Failed ? "failed"
                                                        : "lost";
      close_attempt.bind(1, op.t).bind(2, state);
      if (op.kind == Op::Kind::Done)
        close_attempt.bind_null(3);
      else
        close_attempt.bind(3, op.error);
      close_attempt.bind(4, attempt_id);
      close_attempt.run();
      close_attempt.reset();
      require_one_row(op.unit_id, "closing an attempt");
      end_unit.bind(1, state);
      if (op.kind == Op::Kind::Done)
        end_unit.bind_null(2);
      else
        end_unit.bind(2, op.error);
      end_unit.bind(3, op.t).bind(4, op.unit_id);
      end_unit.run();
      end_unit.reset();
      for (const auto& [metric, value] : op.metrics) {
        store_result.bind(1, op.unit_id).bind(2, metric).bind(3, value);
        store_result.run();
        store_result.reset();
      }
    }
    transaction.commit();
  }
  for (const auto& [unit_id, attempt_id] : begun) {
    auto open = open_attempt_.find(unit_id);
    if (open != open_attempt_.end() && open->second == 0) open->second = attempt_id;
  }
  ops_.clear();
  last_commit_ = monotonic_seconds();
}

std::vector<UnitRow> ResultStore::campaign_units(int64_t campaign_id) {
  flush();
  Statement q = db_.prepare(
      "SELECT u.id, u.configuration_id, u.sample_id, u.state, u.attempts "
      "FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "WHERE cu.campaign_id = ? ORDER BY u.sample_id, u.configuration_id");
  q.bind(1, campaign_id);
  std::vector<UnitRow> rows;
  while (q.step()) {
    UnitRow row;
    row.unit_id = q.column_int64(0);
    row.configuration_id = q.column_int64(1);
    row.sample_id = q.column_int64(2);
    row.state = unit_state_from_name(q.column_text(3));
    row.attempts = int(q.column_int64(4));
    rows.push_back(row);
  }
  return rows;
}

std::map<std::string, int> ResultStore::state_counts(int64_t campaign_id) {
  flush();
  std::map<std::string, int> counts;
  for (UnitState state : {UnitState::Pending, UnitState::Running, UnitState::Done,
                          UnitState::Failed, UnitState::Lost})
    counts[unit_state_name(state)] = 0;
  Statement q = db_.prepare(
      "SELECT u.state, COUNT(*) FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "WHERE cu.campaign_id = ? GROUP BY u.state");
  q.bind(1, campaign_id);
  while (q.step()) counts[q.column_text(0)] = int(q.column_int64(1));
  return counts;
}

}  // namespace ckv
