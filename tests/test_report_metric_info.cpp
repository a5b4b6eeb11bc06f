// The metric registry (report/metric_info.hpp) against the producers themselves: every metric the
// worker stores for a real unit and every end-to-end score name is registered (and nothing else
// is), the full-cache values are what the worker computes when nothing is evicted, stored values
// fall in the registered ranges, the end-to-end range is reached at both ends by LongBench's own
// scoring, and docs/analysis.md holds the generated table.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "cache/cache_index.hpp"
#include "cache/synthetic.hpp"
#include "common/tasks.hpp"
#include "configuration/configuration.hpp"
#include "e2e/longbench_scoring.hpp"
#include "report/metric_info.hpp"
#include "support/temp_dir.hpp"
#include "worker/evaluator.hpp"

using namespace ckv;

namespace {

// Every metric a real unit stores: the worker evaluates two configurations on a synthetic
// sample with evidence spans: one whose budget exceeds the prompt (the full cache), one that
// evicts.
struct WorkerUnits {
  ckv_test::MkdtempDir dir{"ckv-metric-info"};
  UnitResult full, evicting;
  int n = 0;
  WorkerUnits() {
    SynthOptions options;
    options.out_dir = dir.path.string();
    options.tasks = {"synth-needle"};
    options.samples_per_task = 1;
    options.tokens = 256;
    options.layers = {0, 1};
    REQUIRE(generate_synthetic_cache(options) == 1);
    const IndexEntry entry = read_cache_index(options.out_dir).at(0);
    n = entry.n_tokens;
    Batch batch;
    batch.batch_id = 1;
    batch.sample_path = (dir.path / entry.path).string();
    batch.sample_label = entry.task + "/" + entry.id;
    batch.units = {UnitTask{1, Configuration::make("snapkv", {{"budget", 4096}}).document},
                   UnitTask{2, Configuration::make("snapkv", {{"budget", 96}}).document}};
    const BatchResult result = evaluate_batch(batch, EvaluatorOptions{});
    REQUIRE(result.units.size() == 2);
    REQUIRE(result.units[0].ok);
    REQUIRE(result.units[1].ok);
    full = result.units[0];
    evicting = result.units[1];
  }
};

std::set<std::string> e2e_metric_names() {
  std::set<std::string> out;
  for (int i = 0; i <= int(e2e::Metric::CodeSim); ++i) out.insert(e2e::metric_name(e2e::Metric(i)));
  // And every metric a LongBench task is scored with.
  for (const TaskInfo& task : known_tasks()) {
    if (auto metric = e2e::task_metric(task.name)) out.insert(e2e::metric_name(*metric));
    if (!task.e2e_metric.empty()) out.insert(task.e2e_metric);
  }
  return out;
}

}  // namespace

TEST_CASE("every metric the worker stores is registered, with its full-cache value and range", "[report]") {
  WorkerUnits units;
  std::set<std::string> produced;
  for (const UnitResult* unit : {&units.full, &units.evicting})
    for (const auto& [name, value] : unit->metrics) {
      produced.insert(name);
      const MetricInfo* info = find_metric(name);
      INFO(name);
      REQUIRE(info != nullptr);
      REQUIRE(value.has_value());  // the synthetic needle sample has evidence and answer tokens
      CHECK(*value >= info->lo);
      CHECK(*value <= info->hi);
    }
  // The full cache: every metric with a registered full-cache value takes it.
  for (const auto& [name, value] : units.full.metrics) {
    const MetricInfo* info = find_metric(name);
    INFO(name << " = " << *value);
    if (info->full_cache) CHECK(*value == Approx(*info->full_cache).margin(1e-12));
  }
  CHECK(*units.full.metrics.at("kept") == double(units.n));  // no constant full-cache value: n
  // The evicting configuration is worse than the full cache by each metric's direction (or
  // equal), and strictly worse for attention recall and output error.
  for (const auto& [name, value] : units.evicting.metrics) {
    const MetricInfo* info = find_metric(name);
    INFO(name);
    if (info->full_cache) CHECK_FALSE(better(*info, *value, *info->full_cache));
  }
  CHECK(better(*find_metric("attn_recall"), 1.0, *units.evicting.metrics.at("attn_recall")));
  CHECK(better(*find_metric("output_error"), 0.0, *units.evicting.metrics.at("output_error")));

  // The registry holds exactly the worker's metrics and the end-to-end scores.
  std::set<std::string> expected = produced;
  const std::set<std::string> e2e_names = e2e_metric_names();
  expected.insert(e2e_names.begin(), e2e_names.end());
  std::set<std::string> registered;
  for (const MetricInfo& m : all_metrics()) registered.insert(std::string(m.name));
  CHECK(registered == expected);
}

TEST_CASE("end-to-end scores: registered, higher is better, range reached at both ends", "[report]") {
  for (const auto& name : e2e_metric_names()) {
    const MetricInfo* info = find_metric(name);
    INFO(name);
    REQUIRE(info != nullptr);
    CHECK(info->direction == Direction::higher_better);
    CHECK_FALSE(info->full_cache.has_value());
    // LongBench's task score is round(100 · mean, 2) of sample scores: a perfect prediction gives
    // the top of the range, a wrong one the bottom.
    const auto metric = *e2e::metric_from_name(name);
    std::string gold = "Paragraph 7", wrong = "Paragraph 3";
    std::vector<std::string> classes;
    if (metric == e2e::Metric::Count) gold = "7";
    if (metric == e2e::Metric::Classification) classes = {"Paragraph 7", "Paragraph 3"};
    if (metric == e2e::Metric::CodeSim) gold = "xyz";
    if (metric == e2e::Metric::QaF1 || metric == e2e::Metric::Rouge || metric == e2e::Metric::CodeSim) wrong = "abc";
    const double top = e2e::task_score({e2e::metric_score(metric, gold, gold, classes)});
    const double bottom = e2e::task_score({e2e::metric_score(metric, wrong, gold, classes)});
    CHECK(top == info->hi);
    CHECK(bottom == info->lo);
  }
}

TEST_CASE("directions and better()", "[report]") {
  const MetricInfo& recall = *find_metric("attn_recall");
  const MetricInfo& error = *find_metric("output_error");
  CHECK(recall.direction == Direction::higher_better);
  CHECK(error.direction == Direction::lower_better);
  CHECK(better(recall, 0.9, 0.8));
  CHECK_FALSE(better(recall, 0.8, 0.9));
  CHECK_FALSE(better(recall, 0.8, 0.8));
  CHECK(better(error, 0.1, 0.2));
  CHECK_FALSE(better(error, 0.2, 0.1));
  CHECK(find_metric("no_such_metric") == nullptr);
  CHECK(std::isinf(error.hi));
  CHECK(range_text(error) == "[0, ∞)");
  CHECK(range_text(recall) == "[0, 1]");
  CHECK(direction_words(Direction::lower_better) == "lower is better");
}

TEST_CASE("docs/analysis.md holds the generated metric table verbatim", "[report]") {
  std::ifstream in(std::string(CKV_SOURCE_DIR) + "/docs/analysis.md");
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  const std::string begin = "<!-- metrics:begin -->\n", end = "<!-- metrics:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  REQUIRE(b < e);
  INFO("regenerate the section with `ckv-sweep metrics --markdown`");
  CHECK(doc.substr(b + begin.size(), e - b - begin.size()) == metrics_markdown());
}
