#include "report/metric_info.hpp"

#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace ckv {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// End-to-end scores are stored per task as LongBench prints them: round(100 · mean of the
// per-sample scores in [0, 1], 2) (docs/spec/METRICS.md "LongBench end-to-end scores").
constexpr std::array<MetricInfo, 13> kMetrics{{
    {"attn_recall", Direction::higher_better, 0, 1, "fraction",
     "share of the answer tokens' prompt attention mass that falls on kept tokens", 1.0},
    {"output_error", Direction::lower_better, 0, kInf, "relative L2",
     "‖o_S − o‖ / ‖o‖: relative error of the attention output with only the kept tokens", 0.0},
    {"topk_recall", Direction::higher_better, 0, 1, "fraction",
     "share of the top-k (topk) prompt keys by attention that are kept", 1.0},
    {"evidence_recall", Direction::higher_better, 0, 1, "fraction",
     "share of the evidence token positions that are kept (mean over layers and heads)", 1.0},
    {"evidence_recall_min", Direction::higher_better, 0, 1, "fraction",
     "evidence_recall of the worst layer and head", 1.0},
    {"kept", Direction::lower_better, 0, kInf, "tokens",
     "prompt tokens kept per head (a cost: min(budget, n) for most methods)", std::nullopt},
    {"score_ms", Direction::lower_better, 0, kInf, "ms",
     "worker time spent scoring one unit (depends on the machine)", std::nullopt},
    {"qa_f1", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: token F1 against the gold answers (QA tasks), 100 x mean", std::nullopt},
    {"rouge", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: ROUGE-L F (summarization tasks), 100 x mean", std::nullopt},
    {"classification", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: gold class found in the prediction (trec), 100 x mean", std::nullopt},
    {"retrieval", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: share of the predicted paragraph numbers that are right, 100 x mean", std::nullopt},
    {"count", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: share of the predicted numbers equal to the count, 100 x mean", std::nullopt},
    {"code_sim", Direction::higher_better, 0, 100, "LongBench points",
     "end to end: edit-similarity ratio of the first code line (code tasks), 100 x mean", std::nullopt},
}};

std::string bound_text(double v) {
  if (std::isinf(v)) return v > 0 ? "∞" : "-∞";
  return fmt::format("{:g}", v);
}

}  // namespace

std::span<const MetricInfo> all_metrics() { return {kMetrics.data(), kMetrics.size()}; }

const MetricInfo* find_metric(std::string_view name) {
  for (const MetricInfo& m : kMetrics)
    if (m.name == name) return &m;
  return nullptr;
}

bool better(const MetricInfo& metric, double a, double b) {
  return metric.direction == Direction::higher_better ? a > b : a < b;
}

std::string_view direction_words(Direction direction) {
  return direction == Direction::higher_better ? "higher is better" : "lower is better";
}

std::string range_text(const MetricInfo& m) {
  return fmt::format("{}{}, {}{}", std::isinf(m.lo) ? "(" : "[", bound_text(m.lo), bound_text(m.hi),
                     std::isinf(m.hi) ? ")" : "]");
}

std::string metrics_markdown() {
  std::string out =
      "| metric | direction | range | unit | full cache | meaning |\n"
      "|---|---|---|---|---|---|\n";
  for (const MetricInfo& m : kMetrics)
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", m.name, direction_words(m.direction),
                       range_text(m), m.unit, m.full_cache ? fmt::format("{:g}", *m.full_cache) : "—",
                       m.meaning);
  return out;
}

}  // namespace ckv
