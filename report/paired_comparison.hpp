// `ckv-sweep compare`: configuration A against configuration B on one metric of one campaign,
// sample by sample (docs/analysis.md "compare"): per task and overall, the mean paired
// difference A − B over the samples both have, its paired-bootstrap CI, a sign-flip permutation
// test (Holm-corrected across tasks) and wins / ties / losses by the metric's direction.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "report/configuration_labels.hpp"
#include "report/metric_info.hpp"
#include "report/stats.hpp"

namespace ckv {

struct CompareOptions {
  double level = 0.95;
  int resamples = stats::kDefaultResamples;  // bootstrap resamples
  int permutations = 100000;                 // Monte Carlo sign patterns above 20 differences
  std::uint64_t seed = stats::kDefaultSeed;
};

struct PairedRow {
  std::string task;                                    // "overall" for the row over every task
  int64_t samples = 0;                                 // the task's samples in the campaign
  int64_t paired = 0;                                  // samples where A and B both have a (non-NULL) value
  double mean_a = 0, mean_b = 0, mean_difference = 0;  // overall: means of the task means
  stats::Interval ci{0, 0};
  double p = 0;                            // sign-flip test, two-sided
  bool exact = true;                       // p by exhaustive enumeration (else Monte Carlo)
  std::optional<double> p_holm;            // per task: Holm across the tasks; none for "overall"
  int64_t wins = 0, ties = 0, losses = 0;  // A better / equal / worse, by the metric's direction
};

struct PairedComparison {
  std::string campaign, metric;
  const MetricInfo* info = nullptr;
  ConfigurationRef a, b;
  std::string label_a, label_b;  // as the campaign's configurations are labelled
  int numerics = 0;              // the numerics version both were computed under
  CompareOptions options;
  std::vector<PairedRow> tasks;      // tasks with at least one pair, in campaign task order
  std::optional<PairedRow> overall;  // none when no task has a pair
  // What was left out and why: unpaired samples, other numerics versions of the same points,
  // tasks without pairs.
  std::vector<std::string> notes;
};

// Resolves A and B (labels or hash prefixes, match_configurations) among the campaign's
// configurations and compares them. Throws naming the candidates when a name is unknown or
// ambiguous, when the metric is not registered or not stored, and when A and B were computed
// under different numerics versions (their values are never paired).
PairedComparison compare_configurations(Database& db, const std::string& campaign, const std::string& a,
                                        const std::string& b, const std::string& metric,
                                        const CompareOptions& options = {});

// markdown | csv | json | latex; `precision` decimals for values (p-values: 4 significant digits).
std::string render_paired_comparison(const PairedComparison& comparison, const std::string& format, int precision);

}  // namespace ckv
