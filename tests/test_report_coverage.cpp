// A report never averages over fewer samples silently: when some units failed (or are
// not done), each mean says how many of its task's samples it covers, in every format.
#include <catch2/catch.hpp>

#include "db/database.hpp"
#include "db/queries.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"
#include "report/report_table.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::TempDir;

namespace {

// Two configurations over qasper (3 samples) and trec (2 samples); configuration A has one qasper
// unit failed, B everything done.
std::string build(const TempDir& dir) {
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  const int64_t campaign = store.upsert_campaign("cov", "cov.toml", "");
  const int64_t a = store.upsert_configuration(std::string(64, 'a'), "snapkv", R"({"method":"snapkv","params":{"budget":96}})");
  const int64_t b = store.upsert_configuration(std::string(64, 'b'), "snapkv", R"({"method":"snapkv","params":{"budget":128}})");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  std::vector<std::string> tasks;
  for (const auto& [task, n] : {std::pair{"qasper", 3}, std::pair{"trec", 2}})
    for (int i = 0; i < n; ++i) {
      const int64_t sample = store.upsert_sample({task, std::to_string(i), "/x", 100, 3});
      pairs.emplace_back(a, sample);
      pairs.emplace_back(b, sample);
      tasks.push_back(task);
      tasks.push_back(task);
    }
  const auto units = store.ensure_units(campaign, pairs);
  for (size_t i = 0; i < units.size(); ++i) {
    store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
    if (i == 2)  // configuration A, qasper sample 1
      store.finish_failed(units[i].unit_id, 2.0, "qasper/1: broken");
    else
      store.finish_done(units[i].unit_id, 2.0, {{"attn_recall", units[i].configuration_id == a ? 0.5 : 0.75}});
  }
  store.flush();
  return path;
}

}  // namespace

TEST_CASE("means over fewer samples than the task has say so, in every format", "[report]") {
  TempDir dir;
  const std::string path = build(dir);
  Database db = Database::open(path, Database::Mode::ReadOnly);
  const CampaignReport report = campaign_report(db, "cov", "attn_recall");
  CHECK(report.task_samples.at("qasper") == 3);
  CHECK(report.task_samples.at("trec") == 2);
  const ReportRow& a = report.rows.at(0);
  CHECK(a.tasks.at("qasper").count == 2);
  CHECK(a.tasks.at("qasper").samples == 3);
  CHECK(a.tasks.at("qasper").done == 2);
  CHECK(report.rows.at(1).tasks.at("qasper").count == 3);

  ReportOptions options;
  const std::string markdown = render_report(report, options);
  CHECK_THAT(markdown, Contains("0.5000 (2/3)"));  // A on qasper
  CHECK_THAT(markdown, Contains("(k/n): the mean covers k of the task's n samples"));
  CHECK_THAT(markdown, Contains("ckv-sweep status DB --failures cov"));
  CHECK_THAT(markdown, !Contains("0.7500 ("));  // B is complete: no mark

  options.format = "csv";
  const std::string csv = render_report(report, options);
  CHECK_THAT(csv, Contains("n:qasper,n:trec,n:tasks,numerics\n"));
  CHECK_THAT(csv, Contains(",2,2,2,1\n"));  // A: 2 of qasper, 2 of trec, 2 tasks; numerics 1 (no key)
  CHECK_THAT(csv, Contains(",3,2,2,1\n"));  // B

  options.format = "json";
  const json parsed = json::parse(render_report(report, options));
  CHECK(parsed["task_samples"]["qasper"] == 3);
  CHECK(parsed["rows"][0]["samples"]["qasper"] == 2);
  CHECK(parsed["rows"][1]["samples"]["qasper"] == 3);

  options.format = "latex";
  const std::string latex = render_report(report, options);
  CHECK_THAT(latex, Contains("0.5000 (2/3)") && Contains("% (k/n): the mean covers"));
}

TEST_CASE("a complete campaign carries no coverage marks", "[report]") {
  TempDir dir;
  const std::string path = build(dir);
  {
    Database db = Database::open(path, Database::Mode::Writer);
    ResultStore store(db, 3600.0);
    // Rerun the failed unit to done.
    Statement failed = db.prepare("SELECT id FROM units WHERE state = 'failed'");
    REQUIRE(failed.step());
    const int64_t unit = failed.column_int64(0);
    store.begin_attempt(unit, 1, "h", 1, 3.0);
    store.finish_done(unit, 4.0, {{"attn_recall", 0.5}});
  }
  Database db = Database::open(path, Database::Mode::ReadOnly);
  const std::string markdown = render_report(campaign_report(db, "cov", "attn_recall"), ReportOptions{});
  CHECK_THAT(markdown, !Contains("(k/n)") && !Contains("/3)"));
}
