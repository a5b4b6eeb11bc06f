// Proxy rankings against end-to-end rankings (docs/spec/MISSION.md R11; docs/e2e.md): for a
// campaign, the configurations that have imported LongBench scores, ranked by their end-to-end
// mean and by a proxy metric's mean over the same tasks — the proxy in its own direction
// (report/metric_info.hpp: rank 1 is the lowest output_error, the highest attn_recall) — with
// Spearman's ρ, Kendall's τ-b and the pairwise agreement of the two orders, per task and over the
// task means, each correlation with a bootstrap CI over samples (docs/analysis.md).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"
#include "report/configuration_labels.hpp"
#include "report/metric_info.hpp"
#include "report/stats.hpp"

namespace ckv::e2e {

// What the comparison is computed from (compare_rankings reads it from the database).
struct RankInputConfiguration {
  ConfigurationRef configuration;
  std::map<std::string, double> e2e_task;    // task -> LongBench task score (0-100)
  std::map<std::string, double> proxy_task;  // task -> proxy mean over the task's samples
  // Per sample, for the bootstrap: task -> sample key -> score in [0, 1] / proxy value.
  std::map<std::string, std::map<std::string, double>> e2e_samples, proxy_samples;
};

struct RankOptions {
  double level = 0.95;
  int resamples = stats::kDefaultResamples;
  std::uint64_t seed = stats::kDefaultSeed;
};

struct RankRow {
  std::string configuration, method, label;  // label: method and the parameters that vary
  double e2e_mean = 0;                       // mean of the LongBench task scores (0-100)
  std::optional<double> proxy_mean;          // mean of the proxy task means, same tasks
  double e2e_rank = 0;                       // 1 = best; ties share the mean rank
  std::optional<double> proxy_rank;          // 1 = best by the proxy's direction
};

struct Correlation {
  std::optional<double> value;
  std::optional<stats::Interval> ci;  // none without samples to resample or when undefined too often
};

struct Agreement {
  std::string task;  // "overall": over the task means
  int configurations = 0;
  int e2e_samples = 0, proxy_samples = 0;  // samples resampled (every configuration has them)
  Correlation spearman, kendall;
  std::optional<double> pairwise;  // share of configuration pairs both orders agree on
};

struct RankComparison {
  std::string campaign, proxy_metric;
  Direction proxy_direction = Direction::higher_better;
  std::vector<std::string> tasks;  // scored end to end for every configuration listed
  std::vector<RankRow> rows;       // by end-to-end rank
  std::vector<Agreement> per_task;
  Agreement overall;
  std::optional<double> spearman;  // overall.spearman.value, for callers that show only that
  RankOptions options;
  std::vector<std::string> notes;
};

// Throws ckv::Error when the campaign has no imported end-to-end scores or the proxy metric is
// not in the registry.
RankComparison compare_rankings(Database& db, const std::string& campaign, const std::string& proxy_metric,
                                const RankOptions& options = {});
// The computation itself, on data in memory.
RankComparison rank_comparison(const std::string& campaign, const std::string& proxy_metric,
                               const std::vector<RankInputConfiguration>& configurations,
                               const RankOptions& options = {});
std::string render_rank_comparison(const RankComparison& comparison);  // markdown
// The same as one JSON document: campaign, proxy metric and direction, tasks, rows (label,
// configuration hash, method, means and ranks), per_task and overall agreement (Spearman and
// Kendall with their CIs as [lo, hi] or null, pairwise), the bootstrap settings and notes.
std::string rank_comparison_json(const RankComparison& comparison);

// Ranks with ties averaged, 1 = the best value by `direction`.
std::vector<double> ranks_best_first(const std::vector<double>& values, Direction direction);

}  // namespace ckv::e2e
