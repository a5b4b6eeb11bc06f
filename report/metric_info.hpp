// The metric registry: every metric a campaign stores (the worker's proxy metrics,
// docs/spec/METRICS.md) and every end-to-end LongBench score, with the direction in which it
// is better, its range, unit, one line of meaning and its value under the full cache. The
// report, the plots, `compare`, `compare-e2e` and the docs (`ckv-sweep metrics --markdown`,
// docs/analysis.md) read it; tests/test_report_metric_info.cpp checks it against the producers.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ckv {

enum class Direction { higher_better,
                       lower_better };

struct MetricInfo {
  std::string_view name;
  Direction direction;
  double lo, hi;  // the range of a stored value; ±infinity where open
  std::string_view unit;
  std::string_view meaning;
  // The metric's value under the full cache (nothing evicted), e.g. 0 for output_error and 1
  // for attn_recall; nullopt where it is not a constant (kept, score_ms, end-to-end scores).
  std::optional<double> full_cache;
};

// Every registered metric: the proxy metrics in docs/spec/METRICS.md order, then the
// end-to-end scores (e2e/longbench_scoring.hpp's Metric order).
std::span<const MetricInfo> all_metrics();
// nullptr for a name the registry does not know.
const MetricInfo* find_metric(std::string_view name);
// Whether value a is strictly better than value b by the metric's direction.
bool better(const MetricInfo& metric, double a, double b);
// "higher is better" / "lower is better".
std::string_view direction_words(Direction direction);
// The registry as a markdown table (docs/analysis.md holds it verbatim between the
// `metrics:begin` and `metrics:end` markers; `ckv-sweep metrics --markdown` prints it).
std::string metrics_markdown();
// "[0, 1]", "[0, ∞)": a range in words for tables.
std::string range_text(const MetricInfo& metric);

}  // namespace ckv
