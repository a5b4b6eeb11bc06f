// A report names the numerics version of the rows it shows (kernels/numerics.hpp, docs/database.md
// "Numerics versions"): results of different numerics are different configurations, never
// averaged together, and a campaign still showing an earlier numerics, or mixing several, says so
// in every format.
#include <catch2/catch.hpp>

#include "db/database.hpp"
#include "db/queries.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"
#include "kernels/numerics.hpp"
#include "report/report_table.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::TempDir;

namespace {

// Campaign `name` with one snapkv configuration per (budget, numerics) given, on two qasper samples,
// every unit done with value `budget / 1000`. numerics 1 is stored as an earlier build did: no key.
void add_campaign(ResultStore& store, const std::string& name, const std::vector<std::pair<int, int>>& points) {
  const int64_t campaign = store.upsert_campaign(name, name + ".toml", "");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  std::map<int64_t, double> value;
  for (const auto& [budget, numerics] : points) {
    const std::string eval =
        numerics == 1 ? R"({"layers":"all","topk":32})" : R"({"layers":"all","numerics":)" + std::to_string(numerics) + R"(,"topk":32})";
    const std::string canonical = R"({"eval":)" + eval + R"(,"method":"snapkv","params":{"budget":)" + std::to_string(budget) + "}}";
    const int64_t configuration = store.upsert_configuration(sha256_hex(canonical), "snapkv", canonical);
    value[configuration] = budget / 1000.0;
    for (int i = 0; i < 2; ++i)
      pairs.emplace_back(configuration, store.upsert_sample({"qasper", std::to_string(i), "/x", 100, 3}));
  }
  for (const auto& unit : store.ensure_units(campaign, pairs)) {
    store.begin_attempt(unit.unit_id, 1, "h", 1, 1.0);
    store.finish_done(unit.unit_id, 2.0, {{"attn_recall", value[unit.configuration_id]}});
  }
  store.flush();
}

std::string build(const TempDir& dir) {
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  add_campaign(store, "old", {{96, 1}, {128, 1}});
  add_campaign(store, "new", {{96, kNumericsVersion}, {128, kNumericsVersion}});
  // The same point under both numerics: two rows, never one average.
  add_campaign(store, "mixed", {{96, 1}, {96, kNumericsVersion}, {128, kNumericsVersion}});
  return path;
}

}  // namespace

TEST_CASE("a report names the numerics of its rows and says when they are not this build's", "[report]") {
  TempDir dir;
  const std::string path = build(dir);
  Database db = Database::open(path, Database::Mode::ReadOnly);
  ReportOptions options;

  const CampaignReport current = campaign_report(db, "new", "attn_recall");
  CHECK(current.numerics == std::vector<int>{kNumericsVersion});
  const std::string current_md = render_report(current, options);
  const std::string now = std::to_string(kNumericsVersion);
  CHECK_THAT(current_md, Contains("cat avg = mean of category means; numerics " + now + ")"));
  CHECK_THAT(current_md, !Contains("eval.numerics") && !Contains("this build computes"));

  const CampaignReport old = campaign_report(db, "old", "attn_recall");
  CHECK(old.numerics == std::vector<int>{1});
  for (const auto& row : old.rows) CHECK(row.configuration.numerics == 1);
  const std::string old_md = render_report(old, options);
  CHECK_THAT(old_md, Contains("cat avg = mean of category means; numerics 1)"));
  CHECK_THAT(old_md, Contains("Computed under numerics 1 (the kernels up to 0.1: ") &&
                         Contains("this build computes numerics " + now + ": rerunning the spec computes its units anew"));

  options.format = "json";
  const json old_json = json::parse(render_report(old, options));
  CHECK(old_json["numerics"] == json::array({1}));
  CHECK(old_json["rows"][0]["numerics"] == 1);
  options.format = "csv";
  const std::string old_csv = render_report(old, options);
  CHECK_THAT(old_csv, Contains(",n:tasks,numerics\n") && Contains(",2,1,1\n"));
  options.format = "latex";
  CHECK_THAT(render_report(old, options), Contains("% numerics 1\n") && Contains("% Computed under numerics 1"));

  const CampaignReport mixed = campaign_report(db, "mixed", "attn_recall");
  CHECK(mixed.numerics == std::vector<int>{1, kNumericsVersion});
  REQUIRE(mixed.rows.size() == 3);
  options.format = "markdown";
  const std::string mixed_md = render_report(mixed, options);
  CHECK_THAT(mixed_md, Contains("; numerics 1 and " + now + ")"));
  CHECK_THAT(mixed_md, Contains("| eval.numerics |"));
  CHECK_THAT(mixed_md, Contains("This campaign's rows were computed under numerics 1 and " + now));
  // Each budget-96 row keeps its own mean (0.096 under each numerics), never one merged row.
  const ReportColumns columns = varying_columns(mixed);
  CHECK(std::find(columns.params.begin(), columns.params.end(), "eval.numerics") != columns.params.end());
  options.format = "json";
  const json mixed_json = json::parse(render_report(mixed, options));
  CHECK(mixed_json["numerics"] == json::array({1, kNumericsVersion}));
  REQUIRE(mixed_json["rows"].size() == 3);
  int numerics_1 = 0, numerics_now = 0;
  for (const auto& row : mixed_json["rows"]) {
    numerics_1 += row["numerics"] == 1;
    numerics_now += row["numerics"] == kNumericsVersion;
    CHECK(row["samples"]["qasper"] == 2);  // each row averages its own two samples only
  }
  CHECK(numerics_1 == 1);
  CHECK(numerics_now == 2);
}
