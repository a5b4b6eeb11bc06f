// The report's table model and renderers on a campaign small enough to check by hand: fixed
// parameters in the caption, kept beside the budget with its marks, the best value per column in
// bold by the metric's direction, spreads over samples and across seeds (replicates), numbers
// that stay numbers in JSON, and --scale values that mean nothing refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "db/database.hpp"
#include "db/queries.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"
#include "report/report_table.hpp"
#include "report/stats.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::TempDir;

namespace {

// qasper: samples of n = 100, 200, 300 tokens; trec: 150, 250. Budget 128 everywhere, so the
// first qasper sample (n = 100) is shorter than the budget.
//   A snapkv:           attn_recall qasper .9 .7 .5, trec .6 .8     kept 100 128 128 | 128 128
//   B pyramidkv:        attn_recall qasper .8 .8 .8, trec .9 .9     kept 100 140 128 | 128 128  (140 > 128: over budget)
//   C circuitkv_walk, graph = full, seeds 1, 2, 3: seed s gives qasper .5 + .1 s, trec .6 + .1 s on every sample
//                                                                   kept 100 128 128 | 128 128
struct Campaign {
  std::string path;
};

Campaign build(const TempDir& dir) {
  Campaign c;
  c.path = dir.file("tables.sqlite");
  Database db = Database::open(c.path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  const int64_t campaign = store.upsert_campaign("t", "t.toml", "");
  struct Config {
    std::string hash, method, json;
    std::vector<double> recall, kept;
  };
  std::vector<Config> configs = {
      {std::string(64, 'a'), "snapkv", R"({"method":"snapkv","params":{"budget":128,"window":32}})", {.9, .7, .5, .6, .8}, {100, 128, 128, 128, 128}},
      {std::string(64, 'b'), "pyramidkv", R"({"method":"pyramidkv","params":{"budget":128,"budget_mode":"pyramid","window":32}})", {.8, .8, .8, .9, .9}, {100, 140, 128, 128, 128}},
  };
  for (int s = 1; s <= 3; ++s)
    configs.push_back({std::string(63, 'c') + char('0' + s), "circuitkv_walk", fmt::format(R"({{"method":"circuitkv_walk","params":{{"budget":128,"graph":"full","seed":{},"window":32}}}})", s), {.5 + .1 * s, .5 + .1 * s, .5 + .1 * s, .6 + .1 * s, .6 + .1 * s}, {100, 128, 128, 128, 128}});
  std::vector<int64_t> samples;
  const std::vector<std::pair<std::string, int>> sample_defs = {
      {"qasper", 100}, {"qasper", 200}, {"qasper", 300}, {"trec", 150}, {"trec", 250}};
  for (size_t i = 0; i < sample_defs.size(); ++i)
    samples.push_back(store.upsert_sample({sample_defs[i].first, std::to_string(i), "/x", sample_defs[i].second, 3}));
  std::vector<std::pair<int64_t, int64_t>> pairs;
  std::vector<int64_t> configuration_ids;
  for (const auto& config : configs) {
    const int64_t id = store.upsert_configuration(config.hash, config.method, config.json);
    configuration_ids.push_back(id);
    for (int64_t s : samples) pairs.emplace_back(id, s);
  }
  const auto units = store.ensure_units(campaign, pairs);
  for (size_t i = 0; i < units.size(); ++i) {
    const Config& config = configs[i / samples.size()];
    const size_t s = i % samples.size();
    store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
    store.finish_done(units[i].unit_id, 2.0, {{"attn_recall", config.recall[s]}, {"kept", config.kept[s]}});
  }
  store.flush();
  return c;
}

const ReportCell& cell(const ReportTable& table, size_t row, const std::string& column) {
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (table.columns[c].name == column) return table.rows.at(row).cells.at(c);
  throw std::logic_error("no column " + column);
}

}  // namespace

TEST_CASE("the table model: fixed parameters, kept and its marks, best per column, seeds averaged", "[report]") {
  TempDir dir;
  const Campaign c = build(dir);
  Database db = Database::open(c.path, Database::Mode::ReadOnly);
  const ReportInput input = load_report_input(db, "t", "attn_recall");
  REQUIRE(input.values.size() == 25);
  REQUIRE(input.kept.size() == 25);
  const ReportTable table = build_report_table(input, ReportOptions{});

  // Nothing but the seed varies, and the seed is averaged: the method is the only label column.
  REQUIRE(table.columns.size() == 6);
  CHECK(table.columns[0].name == "method");
  CHECK(table.columns[1].name == "kept");
  CHECK(table.columns[2].name == "qasper");
  CHECK(table.columns[3].name == "trec");
  CHECK(table.replicate_axes == std::vector<std::string>{"seed"});
  CHECK(table.max_replicates == 3);
  REQUIRE(table.rows.size() == 3);
  CHECK(table.rows[2].configurations.size() == 3);

  // Fixed: budget and window in every method; each method's own.
  CHECK(table.fixed_text() ==
        "all methods: budget = 128, window = 32; pyramidkv: budget_mode = pyramid; circuitkv_walk: graph = full");

  // Means by hand: A qasper (.9+.7+.5)/3 = .7, trec .7, avg .7; B .8, .9, .85; C (seeds) .7, .8, .75.
  CHECK(*cell(table, 0, "qasper").value == Approx(0.7));
  CHECK(*cell(table, 0, "avg").value == Approx(0.7));
  CHECK(*cell(table, 1, "avg").value == Approx(0.85));
  CHECK(*cell(table, 2, "qasper").value == Approx(0.7));
  CHECK(*cell(table, 2, "trec").value == Approx(0.8));
  CHECK(*cell(table, 2, "avg").value == Approx(0.75));
  // Across seeds: qasper .6 .7 .8 -> std .1; the avg .65 .75 .85 -> .1. A single configuration has none.
  CHECK(*cell(table, 2, "qasper").replicate_std == Approx(0.1));
  CHECK(*cell(table, 2, "avg").replicate_std == Approx(0.1));
  CHECK(cell(table, 2, "avg").replicates == 3);
  CHECK(!cell(table, 0, "qasper").replicate_std);
  // No spread over samples unless asked.
  CHECK(!cell(table, 0, "qasper").sample_std);
  CHECK(!cell(table, 0, "qasper").ci);

  // kept: A (100 + 4·128)/5 = 122.4 with one sample shorter than the budget; B (100 + 140 + 3·128)/5 = 124.8,
  // over the budget on one sample (n = 200 > 128, kept 140) and one short.
  CHECK(*cell(table, 0, "kept").value == Approx(122.4));
  CHECK(cell(table, 0, "kept").marks == std::vector<std::string>{"‡"});
  CHECK(cell(table, 0, "kept").mark_note == "1/5");
  CHECK(*cell(table, 1, "kept").value == Approx(124.8));
  CHECK(cell(table, 1, "kept").marks == std::vector<std::string>{"†", "‡"});
  CHECK(table.rows[1].over_budget_samples == 1);
  CHECK(table.rows[1].short_samples == 1);
  CHECK(table.rows[1].budget_samples == 5);
  REQUIRE(table.footnotes.size() == 2);

  // Best per column (attn_recall: higher is better): B everywhere; C ties A on qasper, neither is best.
  CHECK(table.has_direction);
  CHECK(cell(table, 1, "qasper").best);
  CHECK(cell(table, 1, "trec").best);
  CHECK(cell(table, 1, "avg").best);
  CHECK(!cell(table, 0, "qasper").best);
  CHECK(!cell(table, 2, "qasper").best);
  CHECK(!cell(table, 1, "kept").best);

  // Best as shown: at 0 decimals .7, .8 and .7 all print 1, and all three are bold.
  ReportOptions coarse;
  coarse.precision = 0;
  const ReportTable rounded = build_report_table(input, coarse);
  for (size_t r = 0; r < 3; ++r) CHECK(cell(rounded, r, "qasper").best);

  const std::string markdown = render_table(table, "markdown", 4);
  // Every number checked by hand above; the layout pinned.
  CHECK(markdown.substr(0, markdown.find("\n†")) ==
        "**t** — attn_recall (mean over samples; ± = std over 3 seeds, each row the mean of its replicates; higher is "
        "better, bold = best per column; avg = mean of task means, cat avg = mean of category means; numerics 1)\n"
        "\n"
        "| method         |         kept |          qasper |            trec |             avg |         cat avg |\n"
        "|----------------|-------------:|----------------:|----------------:|----------------:|----------------:|\n"
        "| snapkv         |   122.4 ‡1/5 |          0.7000 |          0.7000 |          0.7000 |          0.7000 |\n"
        "| pyramidkv      | 124.8 † ‡1/5 |      **0.8000** |      **0.9000** |      **0.8500** |      **0.8500** |\n"
        "| circuitkv_walk |   122.4 ‡1/5 | 0.7000 ± 0.1000 | 0.8000 ± 0.1000 | 0.7500 ± 0.1000 | 0.7500 ± 0.1000 |\n"
        "\n"
        "Fixed: all methods: budget = 128, window = 32; pyramidkv: budget_mode = pyramid; circuitkv_walk: graph = full.\n");
  CHECK_THAT(markdown, Contains("\n† the configuration keeps more than its budget") &&
                           Contains("\n‡ k/N: k of the row's N samples are no longer than the budget"));
}

TEST_CASE("spreads over samples: std by hand, the bootstrap CI of the stats module", "[report]") {
  TempDir dir;
  const Campaign c = build(dir);
  Database db = Database::open(c.path, Database::Mode::ReadOnly);
  const ReportInput input = load_report_input(db, "t", "attn_recall");
  ReportOptions options;
  options.sd = true;
  options.ci = true;
  options.scale = 100;
  const ReportTable table = build_report_table(input, options);
  // A: qasper .9 .7 .5 -> std .2 (x100 = 20); trec .6 .8 -> std √.02 = .141421.
  CHECK(*cell(table, 0, "qasper").sample_std == Approx(20.0));
  CHECK(*cell(table, 0, "trec").sample_std == Approx(100 * std::sqrt(0.02)));
  CHECK(*cell(table, 0, "qasper").value == Approx(70.0));
  // avg: all five samples pooled, mean .7: squares .04 0 .04 .01 .01 -> std √(.1/4) = .158114.
  CHECK(*cell(table, 0, "avg").sample_std == Approx(100 * std::sqrt(0.1 / 4)));
  // C: every sample's seed mean is .7 (qasper): no spread over samples, a zero-width CI.
  CHECK(*cell(table, 2, "qasper").sample_std == Approx(0.0).margin(1e-12));
  CHECK(cell(table, 2, "qasper").ci->lo == Approx(70.0));
  CHECK(cell(table, 2, "qasper").ci->hi == Approx(70.0));
  // The CI is the stats module's bootstrap on the row's values (scaled), stratified by task for avg.
  const std::vector<double> qasper{.9, .7, .5};
  const stats::Interval q = stats::bootstrap_mean_ci(qasper, {}, 0.95);
  CHECK(cell(table, 0, "qasper").ci->lo == Approx(100 * q.lo));
  CHECK(cell(table, 0, "qasper").ci->hi == Approx(100 * q.hi));
  const std::vector<double> all{.9, .7, .5, .6, .8};
  const std::vector<int> strata{0, 0, 0, 1, 1};
  const stats::Interval a = stats::bootstrap_mean_ci(all, strata, 0.95);
  CHECK(cell(table, 0, "avg").ci->lo == Approx(100 * a.lo));
  CHECK(cell(table, 0, "avg").ci->hi == Approx(100 * a.hi));
  CHECK(cell(table, 0, "avg").ci->lo <= 70.0);
  CHECK(cell(table, 0, "avg").ci->hi >= 70.0);
  // cat avg has the spread across seeds only.
  CHECK(!cell(table, 0, "cat avg").ci);

  const std::string markdown = render_table(table, "markdown", 2);
  CHECK_THAT(markdown, Contains("sd = std over samples"));
  CHECK_THAT(markdown, Contains("[lo, hi] = 95 % percentile-bootstrap CI over samples"));
  CHECK_THAT(markdown, Contains("| 70.00 ± 10.00 (sd 0.00) [70.00, 70.00] |"));  // C qasper
  const std::string csv = render_table(table, "csv", 4);
  CHECK_THAT(csv, Contains("sd:qasper,ci_lo:qasper,ci_hi:qasper,sd_replicates:qasper"));
  CHECK_THAT(csv, Contains(",replicates,over_budget_samples,short_samples,n:qasper,n:trec,n:tasks,numerics\n"));
  const json parsed = json::parse(render_table(table, "json", 4));
  CHECK(parsed["rows"][0]["spread"]["qasper"]["sd"].get<double>() == Approx(20.0));
  CHECK(parsed["rows"][2]["spread"]["avg"]["sd_replicates"].get<double>() == Approx(10.0));
  CHECK(parsed["rows"][2]["configurations"].size() == 3);
  CHECK(parsed["rows"][2]["replicates"][1]["seed"] == 2);
  CHECK(parsed["replicate_axes"] == json::array({"seed"}));
  const std::string latex = render_table(table, "latex", 2);
  CHECK_THAT(latex, Contains("\\textbf{85.00}") && Contains("\\toprule") && Contains("$^\\dagger$") &&
                        Contains("$\\pm$"));
}

TEST_CASE("--no-replicates: one row per seed, the seed a column; JSON keeps numbers as numbers", "[report]") {
  TempDir dir;
  const Campaign c = build(dir);
  Database db = Database::open(c.path, Database::Mode::ReadOnly);
  ReportOptions options;
  options.replicate_axes.clear();
  options.format = "json";
  const ReportInput input = load_report_input(db, "t", "attn_recall");
  const ReportTable table = build_report_table(input, options);
  REQUIRE(table.rows.size() == 5);
  CHECK(table.columns[1].name == "seed");
  CHECK(table.max_replicates == 1);
  const json parsed = json::parse(render_report(input, options));
  CHECK(parsed["rows"][2]["seed"] == 1);  // a number, not "1"
  CHECK(parsed["rows"][2]["seed"].is_number_integer());
  CHECK(parsed["rows"][0]["seed"].is_null());  // snapkv has no seed
  CHECK(parsed["fixed"]["all"] == json::array({"budget = 128", "window = 32"}));
}

TEST_CASE("a varying budget is a number in JSON and a leading column", "[report]") {
  TempDir dir;
  const std::string path = dir.file("budget.sqlite");
  {
    Database db = Database::open(path, Database::Mode::Writer);
    ResultStore store(db, 3600.0);
    const int64_t campaign = store.upsert_campaign("b", "b.toml", "");
    const int64_t a = store.upsert_configuration(std::string(64, 'a'), "snapkv", R"({"method":"snapkv","params":{"budget":96,"selection":"shared"}})");
    const int64_t b = store.upsert_configuration(std::string(64, 'b'), "snapkv", R"({"method":"snapkv","params":{"budget":512,"selection":"shared"}})");
    const int64_t s = store.upsert_sample({"trec", "0", "/x", 300, 3});
    const auto units = store.ensure_units(campaign, {{a, s}, {b, s}});
    for (size_t i = 0; i < units.size(); ++i) {
      store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
      // output_error: lower is better, so the smaller error (b) is the bold one.
      store.finish_done(units[i].unit_id, 2.0, {{"output_error", i == 0 ? 0.25 : 0.125}, {"kept", i == 0 ? 96.0 : 300.0}});
    }
    store.flush();
  }
  Database db = Database::open(path, Database::Mode::ReadOnly);
  ReportOptions options;
  const ReportTable table = build_report_table(load_report_input(db, "b", "output_error"), options);
  CHECK(table.columns[1].name == "budget");
  CHECK(table.fixed_text() == "snapkv: selection = shared");
  CHECK(cell(table, 1, "trec").best);
  CHECK(!cell(table, 0, "trec").best);
  CHECK(cell(table, 1, "kept").marks == std::vector<std::string>{"‡"});  // n = 300 <= 512
  const json parsed = json::parse(render_table(table, "json", 4));
  CHECK(parsed["rows"][0]["budget"] == 96);
  CHECK(parsed["rows"][0]["budget"].is_number_integer());
  CHECK(parsed["rows"][1]["best"] == json::array({"trec", "avg", "cat avg"}));
  CHECK(parsed["direction"] == "lower is better");
  const std::string markdown = render_table(table, "markdown", 3);
  CHECK_THAT(markdown, Contains("| snapkv | 512    |") && Contains("**0.125**") && Contains("lower is better"));
  CHECK_THAT(markdown, Contains("Fixed: snapkv: selection = shared."));
}

TEST_CASE("the full cache is the reference, not ranked: bold goes to the best method with a budget", "[report]") {
  TempDir dir;
  const std::string path = dir.file("full.sqlite");
  {
    Database db = Database::open(path, Database::Mode::Writer);
    ResultStore store(db, 3600.0);
    const int64_t campaign = store.upsert_campaign("f", "f.toml", "");
    const int64_t a = store.upsert_configuration(std::string(64, 'a'), "snapkv", R"({"method":"snapkv","params":{"budget":96}})");
    const int64_t b = store.upsert_configuration(std::string(64, 'b'), "snapkv", R"({"method":"snapkv","params":{"budget":128}})");
    const int64_t f = store.upsert_configuration(std::string(64, 'f'), "full", R"({"method":"full","params":{}})");
    const int64_t s = store.upsert_sample({"trec", "0", "/x", 300, 3});
    const auto units = store.ensure_units(campaign, {{a, s}, {b, s}, {f, s}});
    const double recall[] = {0.5, 0.75, 1.0};
    for (size_t i = 0; i < units.size(); ++i) {
      store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
      store.finish_done(units[i].unit_id, 2.0, {{"attn_recall", recall[i]}});
    }
    store.flush();
  }
  Database db = Database::open(path, Database::Mode::ReadOnly);
  const ReportTable table = build_report_table(load_report_input(db, "f", "attn_recall"), ReportOptions{});
  REQUIRE(table.rows.size() == 3);
  CHECK(table.rows[2].cells[0].text == "full");
  CHECK(!cell(table, 2, "trec").best);  // 1.0, but the reference
  CHECK(cell(table, 1, "trec").best);   // budget 128: 0.75
  CHECK(!cell(table, 0, "trec").best);
  CHECK_THAT(table.caption(), Contains("bold = best per column (full cache aside)"));
}

TEST_CASE("--scale must be finite and positive", "[report]") {
  CHECK(scale_error(1.0).empty());
  CHECK(scale_error(100.0).empty());
  CHECK_THAT(scale_error(std::nan("")), Contains("--scale must be a finite number > 0 (got nan)"));
  CHECK_THAT(scale_error(INFINITY), Contains("(got inf)"));
  CHECK_THAT(scale_error(0.0), Contains("(got 0)"));
  CHECK_THAT(scale_error(-100.0), Contains("(got -100)"));
  ReportInput input;
  ReportOptions options;
  options.scale = std::nan("");
  CHECK_THROWS_WITH(build_report_table(input, options), Contains("--scale must be a finite number > 0"));
}
