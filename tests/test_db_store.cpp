// ResultStore: the unit state machine, the views' arithmetic against hand-computed values,
// batching, a failing commit that keeps its buffer, and a SIGKILLed writer.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;

namespace {

using Metrics = std::map<std::string, std::optional<double>>;

struct Score {
  std::optional<double> mean;
  int64_t count;
};

// task_scores row for (campaign, configuration hash, task, metric); count -1 when absent.
Score task_score(Database& db, const std::string& campaign, const std::string& hash,
                 const std::string& task, const std::string& metric) {
  Statement q = db.prepare(
      "SELECT mean, count FROM task_scores WHERE campaign = ? AND configuration = ? AND task = ? "
      "AND metric = ?");
  q.bind(1, campaign).bind(2, hash).bind(3, task).bind(4, metric);
  if (!q.step()) return {std::nullopt, -1};
  Score s{q.column_optional_double(0), q.column_int64(1)};
  CHECK_FALSE(q.step());  // one row per key
  return s;
}

struct Summary {
  std::optional<double> task_mean, category_mean;
  int64_t tasks = -1, categories = -1;
};

Summary summary(Database& db, const std::string& campaign, const std::string& hash,
                const std::string& metric) {
  Statement q = db.prepare(
      "SELECT task_mean, category_mean, tasks, categories FROM campaign_summary "
      "WHERE campaign = ? AND configuration = ? AND metric = ?");
  q.bind(1, campaign).bind(2, hash).bind(3, metric);
  if (!q.step()) return {};
  return {q.column_optional_double(0), q.column_optional_double(1), q.column_int64(2),
          q.column_int64(3)};
}

std::map<std::string, int64_t> progress(Database& db, const std::string& campaign) {
  Statement q = db.prepare(
      "SELECT total, pending, running, done, failed, lost FROM campaign_progress "
      "WHERE campaign = ?");
  q.bind(1, campaign);
  REQUIRE(q.step());
  return {{"total", q.column_int64(0)}, {"pending", q.column_int64(1)}, {"running", q.column_int64(2)}, {"done", q.column_int64(3)}, {"failed", q.column_int64(4)}, {"lost", q.column_int64(5)}};
}

const std::string kHashA(64, 'a'), kHashB(64, 'b');

}  // namespace

TEST_CASE("unit states, views and cross-task means match hand-computed values", "[db]") {
  TempDir dir;
  Database db = Database::open(dir.file("ckv.sqlite"), Database::Mode::Writer);
  ResultStore store(db, 3600.0);

  int64_t campaign = store.upsert_campaign("demo", "sweeps/demo.toml", "name = 'demo'");
  CHECK(store.upsert_campaign("demo", "sweeps/demo.toml", "name = 'demo' # v2") == campaign);
  CHECK(scalar_text(db, "SELECT spec_text FROM campaigns") == "name = 'demo' # v2");
  int64_t a = store.upsert_configuration(kHashA, "snapkv", R"({"method":"snapkv"})");
  int64_t b = store.upsert_configuration(kHashB, "h2o", R"({"method":"h2o"})");
  CHECK(store.upsert_configuration(kHashA, "snapkv", R"({"method":"snapkv"})") == a);
  CHECK_THROWS_WITH(store.upsert_configuration(kHashA, "snapkv", R"({"method":"other"})"),
                    Contains("different canonical JSON"));

  // Two tasks of one category (single-doc QA) and one of another (multi-doc QA).
  std::map<std::string, int64_t> sample;
  for (const char* task : {"narrativeqa", "qasper", "hotpotqa"})
    for (const char* key : {"0", "1"})
      sample[std::string(task) + key] =
          store.upsert_sample({task, key, fmt::format("/cache/{}/{}.safetensors", task, key), 4000, 12});
  CHECK(store.upsert_sample({"qasper", "1", "/moved/qasper/1.safetensors", 4000, 12}) ==
        sample["qasper1"]);
  CHECK(scalar_text(db, "SELECT path FROM samples WHERE task = 'qasper' AND sample_key = '1'") ==
        "/moved/qasper/1.safetensors");

  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t config : {a, b})
    for (const char* name : {"narrativeqa0", "narrativeqa1", "qasper0", "qasper1", "hotpotqa0", "hotpotqa1"})
      pairs.emplace_back(config, sample[name]);
  std::vector<UnitRow> units = store.ensure_units(campaign, pairs);
  REQUIRE(units.size() == 12);
  for (size_t i = 0; i < units.size(); ++i) {
    CHECK(units[i].configuration_id == pairs[i].first);
    CHECK(units[i].sample_id == pairs[i].second);
    CHECK(units[i].state == UnitState::Pending);
    CHECK(units[i].attempts == 0);
  }
  // Idempotent: the same units come back.
  std::vector<UnitRow> again = store.ensure_units(campaign, pairs);
  for (size_t i = 0; i < units.size(); ++i) CHECK(again[i].unit_id == units[i].unit_id);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM units") == 12);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaign_units") == 12);
  // A narrower spec: the campaign keeps only the units it names now; the others stay in units.
  std::vector<std::pair<int64_t, int64_t>> narrower(pairs.begin(), pairs.begin() + 6);
  store.ensure_units(campaign, narrower);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaign_units") == 6);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM units") == 12);
  again = store.ensure_units(campaign, pairs);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaign_units") == 12);
  for (size_t i = 0; i < units.size(); ++i) CHECK(again[i].unit_id == units[i].unit_id);

  auto unit = [&](int64_t config, const std::string& name) {
    for (const UnitRow& row : units)
      if (row.configuration_id == config && row.sample_id == sample[name]) return row.unit_id;
    FAIL("no unit");
    return int64_t(0);
  };
  auto done = [&](int64_t config, const std::string& name, const Metrics& metrics) {
    store.begin_attempt(unit(config, name), 1, "node7", 4242, 100.0);
    store.finish_done(unit(config, name), 101.0, metrics);
  };
  // Configuration A: every unit done; qasper1's attn_recall could not be computed (NULL).
  done(a, "narrativeqa0", {{"attn_recall", 0.5}, {"kept", 10.0}, {"evidence_recall", 1.0}});
  done(a, "narrativeqa1", {{"attn_recall", 0.7}, {"kept", 20.0}, {"evidence_recall", 0.5}});
  done(a, "qasper0", {{"attn_recall", 0.9}, {"kept", 30.0}, {"evidence_recall", std::nullopt}});
  done(a, "qasper1", {{"attn_recall", std::nullopt}, {"kept", 40.0}, {"evidence_recall", std::nullopt}});
  done(a, "hotpotqa0", {{"attn_recall", 0.2}, {"kept", 50.0}});
  done(a, "hotpotqa1", {{"attn_recall", 0.4}, {"kept", 60.0}});
  // Configuration B: a failure, a lost attempt then a running retry, and a pending unit.
  done(b, "narrativeqa0", {{"attn_recall", 1.0}, {"kept", 5.0}});
  store.begin_attempt(unit(b, "narrativeqa1"), 2, "node8", 99, 100.0);
  store.finish_failed(unit(b, "narrativeqa1"), 102.0, "sample is shorter than the budget");
  done(b, "qasper0", {{"attn_recall", 0.0}, {"kept", 7.0}});
  done(b, "qasper1", {{"attn_recall", 0.5}, {"kept", 9.0}});
  store.begin_attempt(unit(b, "hotpotqa0"), 3, "node9", 7, 100.0);
  store.finish_lost(unit(b, "hotpotqa0"), 160.0, "timed out after 60 s");
  store.begin_attempt(unit(b, "hotpotqa0"), 1, "node7", 4242, 170.0);
  CHECK_THROWS_WITH(store.begin_attempt(unit(b, "hotpotqa0"), 1, "node7", 4242, 171.0),
                    Contains("already has an attempt in progress"));
  CHECK_THROWS_WITH(store.finish_done(unit(b, "hotpotqa1"), 171.0, {}),
                    Contains("no attempt in progress"));
  store.flush();
  CHECK(store.pending_writes() == 0);

  auto counts = progress(db, "demo");
  CHECK(counts["total"] == 12);
  CHECK(counts["pending"] == 1);
  CHECK(counts["running"] == 1);
  CHECK(counts["done"] == 9);
  CHECK(counts["failed"] == 1);
  CHECK(counts["lost"] == 0);
  std::map<std::string, int> states = store.state_counts(campaign);
  CHECK(states == std::map<std::string, int>{
                      {"pending", 1}, {"running", 1}, {"done", 9}, {"failed", 1}, {"lost", 0}});

  // Per task: NULL values neither count nor pull the mean towards 0.
  Score s = task_score(db, "demo", kHashA, "narrativeqa", "attn_recall");
  CHECK(s.mean == Approx(0.6));
  CHECK(s.count == 2);
  s = task_score(db, "demo", kHashA, "qasper", "attn_recall");
  CHECK(s.mean == Approx(0.9));
  CHECK(s.count == 1);
  s = task_score(db, "demo", kHashA, "hotpotqa", "attn_recall");
  CHECK(s.mean == Approx(0.3));
  CHECK(s.count == 2);
  // B: only done units count (narrativeqa1 failed, hotpotqa running/pending).
  s = task_score(db, "demo", kHashB, "narrativeqa", "attn_recall");
  CHECK(s.mean == Approx(1.0));
  CHECK(s.count == 1);
  s = task_score(db, "demo", kHashB, "qasper", "attn_recall");
  CHECK(s.mean == Approx(0.25));
  CHECK(s.count == 2);
  CHECK(task_score(db, "demo", kHashB, "hotpotqa", "attn_recall").count == -1);
  // All values NULL: the row exists with mean NULL and count 0.
  s = task_score(db, "demo", kHashA, "qasper", "evidence_recall");
  CHECK_FALSE(s.mean.has_value());
  CHECK(s.count == 0);
  CHECK(scalar_text(db, "SELECT category FROM task_scores WHERE task = 'hotpotqa' LIMIT 1") ==
        "multi-doc QA");

  // A: task mean (0.6 + 0.9 + 0.3) / 3 = 0.6; categories: single-doc (0.6 + 0.9) / 2 = 0.75,
  // multi-doc 0.3, mean 0.525.
  Summary sum = summary(db, "demo", kHashA, "attn_recall");
  CHECK(sum.task_mean == Approx(0.6));
  CHECK(sum.category_mean == Approx(0.525));
  CHECK(sum.tasks == 3);
  CHECK(sum.categories == 2);
  // kept: tasks 15, 35, 55 -> 35; categories (15 + 35) / 2 = 25 and 55 -> 40.
  sum = summary(db, "demo", kHashA, "kept");
  CHECK(sum.task_mean == Approx(35.0));
  CHECK(sum.category_mean == Approx(40.0));
  // B: tasks 1.0 and 0.25 -> 0.625, both single-doc -> 0.625.
  sum = summary(db, "demo", kHashB, "attn_recall");
  CHECK(sum.task_mean == Approx(0.625));
  CHECK(sum.category_mean == Approx(0.625));
  CHECK(sum.tasks == 2);
  CHECK(sum.categories == 1);
  // evidence_recall: qasper has no value, so only narrativeqa (0.75) counts.
  sum = summary(db, "demo", kHashA, "evidence_recall");
  CHECK(sum.task_mean == Approx(0.75));
  CHECK(sum.tasks == 1);

  CHECK(scalar_int(db, "SELECT COUNT(*) FROM unit_results WHERE campaign = 'demo'") ==
        6 * 2 + 4 + 3 * 2);  // A: 6 units x 2 metrics + 4 evidence rows (2 NULL); B: 3 x 2
  CHECK(scalar_text(db, "SELECT last_error FROM unit_failures WHERE state = 'failed'") ==
        "sample is shorter than the budget");

  // Attempt bookkeeping: B/hotpotqa0 was tried twice, the first attempt lost.
  int64_t retried = unit(b, "hotpotqa0");
  CHECK(scalar_int(db, fmt::format("SELECT attempts FROM units WHERE id = {}", retried)) == 2);
  CHECK(scalar_text(db, fmt::format("SELECT group_concat(outcome || ':' || error || ':' || rank || "
                                    "':' || host || ':' || pid || ':' || started_at || ':' || "
                                    "ended_at) FROM attempts WHERE unit_id = {} AND ended_at IS NOT NULL",
                                    retried)) == "lost:timed out after 60 s:3:node9:7:100.0:160.0");
  CHECK(scalar_int(db, fmt::format("SELECT COUNT(*) FROM attempts WHERE unit_id = {} AND "
                                   "ended_at IS NULL AND outcome IS NULL",
                                   retried)) == 1);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts WHERE outcome = 'done' AND error IS NULL") == 9);

  SECTION("a second campaign reuses the done units it shares (R2)") {
    int64_t sample_new = store.upsert_sample({"narrativeqa", "2", "/cache/n2", 3000, 8});
    int64_t second = store.upsert_campaign("demo-wider", "sweeps/wider.toml", "");
    std::vector<UnitRow> rows = store.ensure_units(
        second, {{a, sample["narrativeqa0"]}, {a, sample["narrativeqa1"]}, {a, sample_new}, {b, sample["narrativeqa1"]}});
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].state == UnitState::Done);
    CHECK(rows[0].unit_id == unit(a, "narrativeqa0"));
    CHECK(rows[1].state == UnitState::Done);
    CHECK(rows[2].state == UnitState::Pending);
    CHECK(rows[3].state == UnitState::Failed);
    CHECK(rows[3].attempts == 1);
    auto wider = progress(db, "demo-wider");
    CHECK(wider["total"] == 4);
    CHECK(wider["done"] == 2);
    CHECK(wider["pending"] == 1);
    CHECK(wider["failed"] == 1);
    CHECK(task_score(db, "demo-wider", kHashA, "narrativeqa", "attn_recall").mean == Approx(0.6));
    CHECK(task_score(db, "demo-wider", kHashA, "qasper", "attn_recall").count == -1);
    CHECK(progress(db, "demo")["total"] == 12);  // the first campaign is unchanged
    CHECK(store.campaign_units(second).size() == 4);
  }

  SECTION("a failed unit run again and done replaces its error with results") {
    int64_t failed = unit(b, "narrativeqa1");
    store.begin_attempt(failed, 1, "node7", 4242, 200.0);
    store.finish_done(failed, 201.0, {{"attn_recall", 0.8}});
    store.flush();
    CHECK(scalar_text(db, fmt::format("SELECT state || ':' || attempts || ':' || "
                                      "coalesce(last_error, 'none') FROM units WHERE id = {}",
                                      failed)) == "done:2:none");
    CHECK(task_score(db, "demo", kHashB, "narrativeqa", "attn_recall").mean == Approx(0.9));
  }

  SECTION("recover_interrupted marks the campaign's running units lost") {
    CHECK(store.recover_interrupted(campaign) == 1);
    CHECK(scalar_text(db, fmt::format("SELECT state || ':' || last_error FROM units WHERE id = {}",
                                      retried)) == "lost:worker vanished (run interrupted)");
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts WHERE ended_at IS NULL") == 0);
    CHECK(scalar_int(db, fmt::format("SELECT COUNT(*) FROM attempts WHERE unit_id = {} AND "
                                     "outcome = 'lost' AND error = 'worker vanished (run "
                                     "interrupted)'",
                                     retried)) == 1);
    CHECK(store.recover_interrupted(campaign) == 0);
    CHECK(progress(db, "demo")["lost"] == 1);
  }
}

TEST_CASE("buffered writes are invisible to readers until flushed", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  int64_t campaign = store.upsert_campaign("c", "c.toml", "");
  int64_t config = store.upsert_configuration(kHashA, "h2o", "{}");
  int64_t sample = store.upsert_sample({"trec", "0", "/x", 100, 3});
  int64_t unit_id = store.ensure_units(campaign, {{config, sample}})[0].unit_id;

  Database reader = Database::open(path, Database::Mode::ReadOnly);
  store.begin_attempt(unit_id, 1, "host", 1, 10.0);
  store.finish_done(unit_id, 11.0, {{"kept", 64.0}});
  CHECK(store.pending_writes() == 2);
  store.maybe_flush();  // an hour has not passed
  CHECK(store.pending_writes() == 2);
  CHECK(scalar_int(reader, "SELECT COUNT(*) FROM attempts") == 0);
  CHECK(scalar_text(reader, "SELECT state FROM units") == "pending");
  CHECK(scalar_int(reader, "SELECT COUNT(*) FROM results") == 0);

  store.flush();
  CHECK(store.pending_writes() == 0);
  CHECK(scalar_int(reader, "SELECT COUNT(*) FROM attempts WHERE outcome = 'done'") == 1);
  CHECK(scalar_text(reader, "SELECT state FROM units") == "done");
  CHECK(scalar_int(reader, "SELECT value FROM results WHERE metric = 'kept'") == 64);

  SECTION("maybe_flush commits once the interval has passed") {
    ResultStore eager(db, 0.0);
    eager.begin_attempt(unit_id, 1, "host", 1, 12.0);
    eager.maybe_flush();
    CHECK(eager.pending_writes() == 0);
    CHECK(scalar_text(reader, "SELECT state FROM units") == "running");
    eager.finish_failed(unit_id, 13.0, "boom");
    // The destructor flushes what is left.
  }
  SECTION("the destructor flushes") {
    {
      ResultStore scoped(db, 3600.0);
      scoped.begin_attempt(unit_id, 1, "host", 1, 12.0);
      scoped.finish_failed(unit_id, 13.0, "boom");
    }
    CHECK(scalar_text(reader, "SELECT state || ':' || last_error FROM units") == "failed:boom");
  }
}

TEST_CASE("a commit that fails (disk full) keeps the buffer and loses nothing", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  int64_t campaign = store.upsert_campaign("c", "c.toml", "");
  int64_t config = store.upsert_configuration(kHashA, "h2o", "{}");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(3);
  for (int i = 0; i < 3; ++i)
    pairs.emplace_back(config, store.upsert_sample({"trec", std::to_string(i), "/x", 100, 3}));
  std::vector<UnitRow> units = store.ensure_units(campaign, pairs);
  store.begin_attempt(units[0].unit_id, 1, "host", 1, 10.0);
  store.finish_done(units[0].unit_id, 11.0, {{"kept", 1.0}});
  store.flush();

  // SQLite reports SQLITE_FULL when the file may not grow past max_page_count, exactly as
  // on a full disk; a 256 KiB error message needs pages the file may not have.
  int64_t pages = scalar_int(db, "PRAGMA page_count");
  db.exec(fmt::format("PRAGMA max_page_count = {}", pages));
  store.begin_attempt(units[1].unit_id, 1, "host", 1, 12.0);
  store.finish_failed(units[1].unit_id, 13.0, std::string(256 * 1024, 'x'));
  store.begin_attempt(units[2].unit_id, 1, "host", 1, 12.0);
  CHECK(store.pending_writes() == 3);
  CHECK_THROWS_WITH(store.flush(), Contains(path) && Contains("disk full") &&
                                       Contains("3 buffered writes were not committed"));
  CHECK(store.pending_writes() == 3);
  // Rolled back as a whole: nothing of the batch, everything from before.
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts") == 1);
  CHECK(scalar_text(db, "SELECT group_concat(state) FROM units ORDER BY id") == "done,pending,pending");
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM results") == 1);

  db.exec("PRAGMA max_page_count = 1073741823");
  store.flush();
  CHECK(store.pending_writes() == 0);
  CHECK(scalar_text(db, "SELECT group_concat(state) FROM units ORDER BY id") == "done,failed,running");
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts") == 3);
  CHECK(scalar_int(db, "SELECT length(last_error) FROM units WHERE state = 'failed'") == 256 * 1024);
  // The attempt begun in the failed batch can still be finished.
  store.finish_done(units[2].unit_id, 14.0, {{"kept", 2.0}});
  store.flush();
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts WHERE ended_at IS NULL") == 0);
}

TEST_CASE("a writer killed with SIGKILL loses only its uncommitted batch", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  std::vector<int64_t> unit_ids;
  int64_t campaign = 0;
  {
    Database db = Database::open(path, Database::Mode::Writer);
    ResultStore store(db);
    campaign = store.upsert_campaign("c", "c.toml", "");
    int64_t config = store.upsert_configuration(kHashA, "h2o", "{}");
    std::vector<std::pair<int64_t, int64_t>> pairs;
    pairs.reserve(5);
    for (int i = 0; i < 5; ++i)
      pairs.emplace_back(config, store.upsert_sample({"trec", std::to_string(i), "/x", 100, 3}));
    for (const UnitRow& row : store.ensure_units(campaign, pairs)) unit_ids.push_back(row.unit_id);
  }

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The scheduler: units 0..2 started and committed, unit 0 finished but not committed,
    // unit 3 started but not committed. Then the node kills it.
    try {
      Database db = Database::open(path, Database::Mode::Writer);
      ResultStore store(db, 3600.0);
      for (int i = 0; i < 3; ++i) store.begin_attempt(unit_ids[i], i + 1, "node", ::getpid(), 50.0);
      store.flush();
      store.finish_done(unit_ids[0], 60.0, {{"kept", 1.0}});
      store.begin_attempt(unit_ids[3], 4, "node", ::getpid(), 61.0);
      ::kill(::getpid(), SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  // The lock died with the process: the next run opens as writer at once.
  Database db = Database::open(path, Database::Mode::Writer);
  CHECK(scalar_text(db, "PRAGMA integrity_check") == "ok");
  CHECK(scalar_text(db, "SELECT group_concat(state) FROM units ORDER BY id") ==
        "running,running,running,pending,pending");
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM results") == 0);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts WHERE ended_at IS NULL") == 3);

  ResultStore store(db);
  CHECK(store.recover_interrupted(campaign) == 3);
  CHECK(scalar_text(db, "SELECT group_concat(state) FROM units ORDER BY id") ==
        "lost,lost,lost,pending,pending");
  CHECK(scalar_int(db,
                   "SELECT COUNT(*) FROM attempts WHERE outcome = 'lost' AND ended_at IS NOT "
                   "NULL AND error = 'worker vanished (run interrupted)'") == 3);
  std::vector<UnitRow> rows = store.campaign_units(campaign);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].state == UnitState::Lost);
  CHECK(rows[0].attempts == 1);  // the retry budget sees the lost attempt
  // Lost units are run again.
  store.begin_attempt(unit_ids[0], 1, "node", 1, 70.0);
  store.finish_done(unit_ids[0], 71.0, {{"kept", 1.0}});
  store.flush();
  CHECK(store.campaign_units(campaign)[0].state == UnitState::Done);
  CHECK(store.campaign_units(campaign)[0].attempts == 2);
}

TEST_CASE("unit state names round-trip", "[db]") {
  for (UnitState state : {UnitState::Pending, UnitState::Running, UnitState::Done,
                          UnitState::Failed, UnitState::Lost})
    CHECK(unit_state_from_name(unit_state_name(state)) == state);
  CHECK_THROWS_WITH(unit_state_from_name("finished"), Contains("unknown unit state 'finished'"));
}
