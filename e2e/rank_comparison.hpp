// Proxy rankings against end-to-end rankings (docs/spec/MISSION.md R11): for a campaign, the configurations that have
// imported LongBench scores, ranked by their end-to-end mean and by a proxy metric's mean over
// the same tasks, with Spearman's rank correlation between the two.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace ckv::e2e {

struct RankRow {
  std::string configuration, method, canonical_json;
  double e2e_mean = 0;                // mean of the LongBench task scores (0-100)
  std::optional<double> proxy_mean;   // mean of the proxy task means, same tasks
  double e2e_rank = 0;                // 1 = best; ties share the mean rank
  std::optional<double> proxy_rank;
};

struct RankComparison {
  std::string campaign, proxy_metric;
  std::vector<std::string> tasks;  // scored end to end for every configuration listed
  std::vector<RankRow> rows;       // by end-to-end rank
  std::optional<double> spearman;  // over rows with both; none with fewer than 2
};

// Throws ckv::Error when the campaign has no imported end-to-end scores.
RankComparison compare_rankings(Database& db, const std::string& campaign, const std::string& proxy_metric);
std::string render_rank_comparison(const RankComparison& comparison);  // markdown

// Ranks with ties averaged, 1 = largest value; and Spearman's rho as the Pearson correlation of
// the ranks (none when fewer than 2 values or a constant ranking).
std::vector<double> descending_ranks(const std::vector<double>& values);
std::optional<double> spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace ckv::e2e
