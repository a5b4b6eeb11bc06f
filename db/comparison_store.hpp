// The SQL behind `compare` and `compare-e2e`'s bootstrap: a campaign's configurations and the
// per-sample values of one metric (docs/analysis.md). Read-only.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace ckv {

struct CampaignConfiguration {
  int64_t id = 0;
  std::string hash, method, canonical_json;
};

// The configurations with at least one unit in the campaign, by configuration id. Throws
// naming the campaigns when the campaign does not exist.
std::vector<CampaignConfiguration> campaign_configurations(Database& db, const std::string& campaign);

struct SampleMetricValue {
  int64_t sample_id = 0;  // samples.id: the same sample (task, key, fingerprint) for every configuration
  std::string task, sample_key;
  std::optional<double> value;  // NULL: the metric could not be computed
};

// The metric's value of every done unit of one configuration in the campaign, by sample id.
std::vector<SampleMetricValue> configuration_sample_values(Database& db, const std::string& campaign,
                                                           int64_t configuration_id, const std::string& metric);

// The campaign's samples per task (done or not).
std::map<std::string, int64_t> campaign_task_sample_counts(Database& db, const std::string& campaign);

}  // namespace ckv
