// LongBench end-to-end scoring against LongBench itself: tests/data/e2e/cases.json holds tricky
// inputs and the values THUDM/LongBench metrics.py / eval.py give them under CPython with rouge
// 1.0.1 and fuzzywuzzy 0.18 (written by tests/data/e2e/make_expected.py; no Python needed here).
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "common/canonical_json.hpp"
#include "e2e/longbench_scoring.hpp"
#include "e2e/python_text.hpp"

using namespace ckv;
using namespace ckv::e2e;

namespace {

const json& cases() {
  static const json data = [] {
    std::ifstream in(std::string(CKV_TEST_DATA_DIR) + "/e2e/cases.json");
    REQUIRE(in);
    return json::parse(in);
  }();
  return data;
}

std::vector<std::string> strings(const json& value) {
  return value.is_null() ? std::vector<std::string>{} : value.get<std::vector<std::string>>();
}

std::string label(const json& c) {
  return c.value("note", std::string()) + " | " + c.dump().substr(0, 300);
}

}  // namespace

TEST_CASE("each metric gives LongBench's value on every pair of cases.json", "[e2e]") {
  const json& pairs = cases().at("pairs");
  REQUIRE(pairs.size() >= 60);
  std::set<std::string> metrics_seen;
  for (const json& c : pairs) {
    INFO(label(c));
    auto metric = metric_from_name(c.at("metric").get<std::string>());
    REQUIRE(metric);
    metrics_seen.insert(metric_name(*metric));
    const double got = metric_score(*metric, c.at("prediction"), c.at("ground_truth"),
                                    strings(c.value("all_classes", json())));
    // Same operations in the same order as the Python: equal to the last bit.
    CHECK(got == c.at("expected").get<double>());
    if (c.contains("expected_levenshtein"))
      CHECK(metric_score(*metric, c.at("prediction"), c.at("ground_truth"), {},
                         FuzzBackend::Levenshtein) == c.at("expected_levenshtein").get<double>());
  }
  CHECK(metrics_seen.size() == 6);
}

TEST_CASE("per-sample scores follow eval.py: first-line rule and max over gold answers", "[e2e]") {
  for (const json& c : cases().at("samples")) {
    INFO(label(c));
    const std::string task = c.at("task");
    auto metric = task_metric(task);
    REQUIRE(metric);
    double s = sample_score(task, *metric, c.at("prediction"), strings(c.at("answers")),
                            strings(c.at("all_classes")));
    CHECK(task_score({s}) == c.at("expected").get<double>());
  }
}

TEST_CASE("per-task scores are round(100 * mean, 2) as eval.py computes them", "[e2e]") {
  for (const json& c : cases().at("tasks")) {
    INFO(label(c));
    const std::string task = c.at("task");
    auto metric = task_metric(task);
    REQUIRE(metric);
    std::vector<double> scores;
    for (size_t i = 0; i < c.at("predictions").size(); ++i)
      scores.push_back(sample_score(task, *metric, c.at("predictions")[i],
                                    strings(c.at("answers")[i]), strings(c.at("all_classes"))));
    CHECK(task_score(scores) == c.at("expected").get<double>());
  }
  CHECK_THROWS_WITH(task_score({}), Catch::Contains("no predictions"));
}

TEST_CASE("python_round matches Python's round(x, 2)", "[e2e]") {
  for (const json& c : cases().at("rounding")) {
    INFO(c.dump());
    CHECK(python_round(c.at("x").get<double>(), 2) == c.at("expected").get<double>());
  }
}

TEST_CASE("task metrics, first-line tasks and bad gold answers", "[e2e]") {
  CHECK(task_metric("narrativeqa") == Metric::QaF1);
  CHECK(task_metric("samsum") == Metric::Rouge);
  CHECK(task_metric("trec") == Metric::Classification);
  CHECK(task_metric("passage_retrieval_en") == Metric::Retrieval);
  CHECK(task_metric("passage_count") == Metric::Count);
  CHECK(task_metric("repobench-p") == Metric::CodeSim);
  CHECK_FALSE(task_metric("synth-needle"));
  CHECK_FALSE(task_metric("no-such-task"));
  CHECK(first_line_only("trec"));
  CHECK_FALSE(first_line_only("hotpotqa"));
  CHECK(first_line("\n\nfirst\nsecond") == "first");
  CHECK(first_line("\n\n").empty());
  CHECK_THROWS_WITH(retrieval_score("3", "the third one"), Catch::Contains("no 'Paragraph N'"));
}

TEST_CASE("Python text helpers: UTF-8, lower, split", "[e2e]") {
  CHECK(to_utf8(to_code_points("añ€😀")) == "añ€😀");
  CHECK(to_code_points("a\xff") == U"a\uFFFD");
  CHECK(to_utf8(python_lower(to_code_points("ΣΑΣ ΣΑΣ"))) == "σας σας");
  CHECK(python_split(U"  a \u3000b\t") == std::vector<std::u32string>{U"a", U"b"});
  CHECK(python_split(U"a..b", U'.') == std::vector<std::u32string>{U"a", U"", U"b"});
  CHECK(find_decimal_runs(U"x12y٣4") == std::vector<std::u32string>{U"12", U"٣4"});
}
