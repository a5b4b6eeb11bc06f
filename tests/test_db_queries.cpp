// db/queries: status (progress, rate, ETA, live writer), report tables and their errors, and
// the unit lookup `plan` uses.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "db/queries.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::TempDir;

namespace {

const std::string kHashA(64, 'a'), kHashB(64, 'b');

struct Fixture {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  std::map<std::string, int64_t> unit;  // "A:narrativeqa0" -> unit id
  int64_t campaign = 0, a = 0, b = 0;

  // Two configurations over narrativeqa, qasper (single-doc QA), hotpotqa (multi-doc QA) and
  // an unknown task, two samples each.
  void build(ResultStore& store) {
    campaign = store.upsert_campaign("demo", "sweeps/demo.toml", "");
    store.upsert_campaign("empty", "sweeps/empty.toml", "");
    a = store.upsert_configuration(kHashA, "snapkv", R"({"a":1})");
    b = store.upsert_configuration(kHashB, "h2o", R"({"b":1})");
    std::vector<std::pair<int64_t, int64_t>> pairs;
    std::vector<std::string> names;
    for (const char* task : {"hotpotqa", "zzz-custom", "qasper", "narrativeqa"})
      for (const char* key : {"0", "1"}) {
        int64_t sample = store.upsert_sample({task, key, "/x", 100, 3});
        for (auto [label, config] : {std::pair{"A", a}, std::pair{"B", b}}) {
          pairs.emplace_back(config, sample);
          names.push_back(fmt::format("{}:{}{}", label, task, key));
        }
      }
    std::vector<UnitRow> rows = store.ensure_units(campaign, pairs);
    for (size_t i = 0; i < rows.size(); ++i) unit[names[i]] = rows[i].unit_id;
  }
};

// One attempt of `unit` (rank 1 on host "h", pid 1) from `start` to `end`, ending done without
// metrics, or failed or lost with `error`.
void attempt(ResultStore& store, int64_t unit, double start, double end, UnitState outcome,
             const std::string& error = "") {
  store.begin_attempt(unit, 1, "h", 1, start);
  if (outcome == UnitState::Done) store.finish_done(unit, end, {});
  if (outcome == UnitState::Failed) store.finish_failed(unit, end, error);
  if (outcome == UnitState::Lost) store.finish_lost(unit, end, error);
}

}  // namespace

TEST_CASE("report: per-task means and summaries per configuration", "[db]") {
  Fixture f;
  Database db = Database::open(f.path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  f.build(store);
  auto done = [&](const std::string& name, std::optional<double> value) {
    store.begin_attempt(f.unit.at(name), 1, "h", 1, 1.0);
    store.finish_done(f.unit.at(name), 2.0, {{"attn_recall", value}, {"kept", 8.0}});
  };
  done("A:narrativeqa0", 0.5);
  done("A:narrativeqa1", 0.7);
  done("A:qasper0", 0.9);
  done("A:qasper1", std::nullopt);
  done("A:hotpotqa0", 0.2);
  done("A:hotpotqa1", 0.4);
  done("A:zzz-custom0", 0.1);  // a task this build does not know: category 'other'
  done("B:narrativeqa0", 1.0);
  store.flush();

  Database reader = Database::open(f.path, Database::Mode::ReadOnly);
  CampaignReport report = campaign_report(reader, "demo", "attn_recall");
  CHECK(report.campaign == "demo");
  CHECK(report.metric == "attn_recall");
  // Known tasks in the common/tasks.hpp order, unknown ones after.
  CHECK(report.tasks == std::vector<std::string>{"narrativeqa", "qasper", "hotpotqa", "zzz-custom"});
  REQUIRE(report.rows.size() == 2);
  const ReportRow& row_a = report.rows[0];
  CHECK(row_a.configuration.id == f.a);
  CHECK(row_a.configuration.hash == kHashA);
  CHECK(row_a.configuration.method == "snapkv");
  CHECK(row_a.configuration.canonical_json == R"({"a":1})");
  CHECK(row_a.total_units == 8);
  CHECK(row_a.done_units == 7);
  REQUIRE(row_a.tasks.size() == 4);
  CHECK(row_a.tasks.at("narrativeqa").mean == Approx(0.6));
  CHECK(row_a.tasks.at("narrativeqa").count == 2);
  CHECK(row_a.tasks.at("qasper").mean == Approx(0.9));
  CHECK(row_a.tasks.at("qasper").count == 1);
  CHECK(row_a.tasks.at("hotpotqa").mean == Approx(0.3));
  CHECK(row_a.tasks.at("zzz-custom").mean == Approx(0.1));
  // Tasks 0.6, 0.9, 0.3, 0.1: mean 0.475. Categories: single-doc (0.6 + 0.9) / 2 = 0.75,
  // multi-doc 0.3, other 0.1: mean 1.15 / 3.
  CHECK(row_a.task_mean == Approx(0.475));
  CHECK(row_a.category_mean == Approx(1.15 / 3));
  CHECK(row_a.tasks_counted == 4);
  CHECK(row_a.categories_counted == 3);
  const ReportRow& row_b = report.rows[1];
  CHECK(row_b.done_units == 1);
  REQUIRE(row_b.tasks.size() == 1);
  CHECK(row_b.task_mean == Approx(1.0));
  CHECK(row_b.category_mean == Approx(1.0));

  // The report computes the cross-task means itself (speed); they must equal the view's.
  for (const ReportRow& row : report.rows) {
    Statement view = reader.prepare(
        "SELECT task_mean, category_mean, tasks, categories FROM campaign_summary "
        "WHERE campaign = 'demo' AND metric = 'attn_recall' AND configuration = ?");
    view.bind(1, row.configuration.hash);
    REQUIRE(view.step());
    CHECK(view.column_double(0) == Approx(*row.task_mean));
    CHECK(view.column_double(1) == Approx(*row.category_mean));
    CHECK(view.column_int64(2) == row.tasks_counted);
    CHECK(view.column_int64(3) == row.categories_counted);
  }

  CHECK(metric_names(reader, "demo") == std::vector<std::string>{"attn_recall", "kept"});
  CHECK(campaign_names(reader) == std::vector<std::string>{"demo", "empty"});

  CHECK_THROWS_WITH(campaign_report(reader, "dmeo", "attn_recall"),
                    Contains(f.path) && Contains("no campaign 'dmeo'") &&
                        Contains("campaigns in this database: demo, empty"));
  CHECK_THROWS_WITH(campaign_report(reader, "demo", "recall"),
                    Contains(f.path) && Contains("no results for metric 'recall'") &&
                        Contains("metrics: attn_recall, kept"));
  CHECK_THROWS_WITH(campaign_report(reader, "empty", "attn_recall"),
                    Contains("campaign 'empty' has no results yet"));
}

TEST_CASE("status: progress counts, recent rate and ETA", "[db]") {
  Fixture f;
  Database db = Database::open(f.path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  f.build(store);  // 16 units in "demo"
  // Timeline (unix seconds), now = 10000:
  attempt(store, f.unit["A:hotpotqa0"], 9000, 9100, UnitState::Done);  // ended before any window
  attempt(store, f.unit["A:hotpotqa1"], 9500, 9600, UnitState::Done);
  attempt(store, f.unit["A:qasper0"], 9550, 9700, UnitState::Failed, "bad sample");
  attempt(store, f.unit["A:qasper1"], 9700, 9800, UnitState::Done);
  attempt(store, f.unit["B:qasper1"], 9600, 9650, UnitState::Lost, "timed out");  // not a finish: requeued
  store.begin_attempt(f.unit["B:qasper0"], 1, "h", 1, 9900);                      // running
  store.flush();

  Database reader = Database::open(f.path, Database::Mode::ReadOnly);
  std::vector<CampaignStatus> all = campaign_status(reader, 10000.0, 600.0);
  REQUIRE(all.size() == 2);
  const CampaignStatus& s = all[0];
  CHECK(s.name == "demo");
  CHECK(s.spec_path == "sweeps/demo.toml");
  CHECK(s.total == 16);
  CHECK(s.done == 3);
  CHECK(s.failed == 1);
  CHECK(s.lost == 1);
  CHECK(s.running == 1);
  CHECK(s.pending == 10);
  // Window [9400, 10000]: three finishes (9600, 9700, 9800); the earliest of them started at
  // 9500, so the span is 500 s: rate 3 / 500. Remaining 10 + 1 + 1 = 12 units: 2000 s.
  CHECK(s.finished_in_window == 3);
  CHECK(s.rate == Approx(3.0 / 500.0));
  REQUIRE(s.eta_seconds.has_value());
  CHECK(*s.eta_seconds == Approx(2000.0));
  REQUIRE(s.last_activity.has_value());
  CHECK(*s.last_activity == Approx(9800.0));
  // The other campaign has no units: nothing to do.
  CHECK(all[1].name == "empty");
  CHECK(all[1].total == 0);
  CHECK(all[1].rate == 0.0);
  CHECK(all[1].eta_seconds == 0.0);
  CHECK_FALSE(all[1].last_activity.has_value());

  // A window in which nothing finished: idle, no ETA.
  CampaignStatus idle = campaign_status(reader, 10000.0, 100.0)[0];
  CHECK(idle.finished_in_window == 0);
  CHECK(idle.rate == 0.0);
  CHECK_FALSE(idle.eta_seconds.has_value());

  std::vector<UnitFailure> failures = campaign_failures(reader, "demo");
  REQUIRE(failures.size() == 2);
  CHECK(failures[0].state == UnitState::Failed);  // 9700 after 9650
  CHECK(failures[0].last_error == "bad sample");
  CHECK(failures[0].task == "qasper");
  CHECK(failures[0].sample_key == "0");
  CHECK(failures[1].state == UnitState::Lost);
  CHECK(failures[1].last_error == "timed out");
  CHECK(failures[1].attempts == 1);
  CHECK_THROWS_WITH(campaign_failures(reader, "nope"), Contains("no campaign 'nope'"));
}

TEST_CASE("status: a run that has ended keeps its rate", "[db]") {
  Fixture f;
  Database db = Database::open(f.path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  f.build(store);
  // A run from 9500 to 9800 that finished three units and lost one; nothing runs afterwards.
  attempt(store, f.unit["A:hotpotqa1"], 9500, 9600, UnitState::Done);
  attempt(store, f.unit["A:qasper0"], 9550, 9700, UnitState::Failed, "bad sample");
  attempt(store, f.unit["A:qasper1"], 9700, 9750, UnitState::Done);
  attempt(store, f.unit["B:qasper1"], 9760, 9800, UnitState::Lost, "drained");
  store.flush();

  Database reader = Database::open(f.path, Database::Mode::ReadOnly);
  // Three finishes over the run's 300 active seconds (9500 to its last activity, 9800),
  // whenever status is asked: at the end, a minute later, a day later.
  for (double now : {9800.0, 9860.0, 10400.0, 96200.0}) {
    const CampaignStatus s = campaign_status(reader, now, 600.0)[0];
    INFO("now = " << now);
    CHECK(s.running == 0);
    CHECK(s.finished_in_window == 3);
    CHECK(s.rate == Approx(3.0 / 300.0));
    REQUIRE(s.last_activity.has_value());
    CHECK(*s.last_activity == Approx(9800.0));
  }
  // A window shorter than the run: the finishes in its last 120 s (9750 and 9700), over 120 s.
  const CampaignStatus tail = campaign_status(reader, 20000.0, 120.0)[0];
  CHECK(tail.finished_in_window == 2);
  CHECK(tail.rate == Approx(2.0 / 120.0));
}

TEST_CASE("active_writer tells a live run from a dead one", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  CHECK_FALSE(active_writer(path).has_value());
  {
    Database db = Database::open(path, Database::Mode::Writer);
    std::optional<std::string> holder = active_writer(path);
    REQUIRE(holder.has_value());
    CHECK_THAT(*holder, Contains(fmt::format("pid {} on host", ::getpid())));
    // The check itself never makes a writer fail: it opens right after.
  }
  CHECK_FALSE(active_writer(path).has_value());
  Database again = Database::open(path, Database::Mode::Writer);
  CHECK(active_writer(path).has_value());
}

TEST_CASE("unit_states answers what a plan would run", "[db]") {
  Fixture f;
  Database db = Database::open(f.path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  f.build(store);
  attempt(store, f.unit["A:qasper0"], 1.0, 2.0, UnitState::Done);
  attempt(store, f.unit["B:qasper0"], 1.0, 2.0, UnitState::Failed, "x");
  store.flush();
  Database reader = Database::open(f.path, Database::Mode::ReadOnly);
  std::vector<std::optional<UnitState>> states =
      unit_states(reader, {{kHashA, "qasper", "0"},
                           {kHashB, "qasper", "0"},
                           {kHashA, "qasper", "1"},
                           {kHashA, "qasper", "7"},                  // sample never stored
                           {std::string(64, 'f'), "qasper", "0"}});  // new configuration
  REQUIRE(states.size() == 5);
  CHECK(states[0] == UnitState::Done);
  CHECK(states[1] == UnitState::Failed);
  CHECK(states[2] == UnitState::Pending);
  CHECK_FALSE(states[3].has_value());
  CHECK_FALSE(states[4].has_value());
}

TEST_CASE("unit_states tells samples of equal task and key apart by fingerprint", "[db]") {
  TempDir dir;
  const std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  const int64_t campaign = store.upsert_campaign("c", "c.toml", "");
  const int64_t config = store.upsert_configuration(kHashA, "snapkv", "{}");
  SampleRow old_capture{"qasper", "0", "/x", 100, 3};
  old_capture.fingerprint = std::string(64, '1');
  const int64_t sample = store.upsert_sample(old_capture);
  const int64_t unit = store.ensure_units(campaign, {{config, sample}})[0].unit_id;
  attempt(store, unit, 1.0, 2.0, UnitState::Done);
  store.flush();
  // A recaptured file (same task and key, other content) has not been run: `plan` must not
  // count the old capture's done unit for it.
  const auto states = unit_states(db, {{kHashA, "qasper", "0", std::string(64, '1')},
                                       {kHashA, "qasper", "0", std::string(64, '2')}});
  REQUIRE(states.size() == 2);
  CHECK(states[0] == UnitState::Done);
  CHECK_FALSE(states[1].has_value());
}
