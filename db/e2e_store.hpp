// End-to-end rows (schema v2, docs/e2e.md): the SQL behind `import-predictions` and
// `compare-e2e`. The e2e/ library scores and ranks; it reads and writes only through here.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "db/database.hpp"

namespace ckv {

// The campaign's id; throws "DB: no campaign 'x' (campaigns: a, b)".
int64_t e2e_campaign_id(Database& db, const std::string& name);
// The configuration whose hash starts with `prefix` (a whole hash works too); throws when none
// or several match.
int64_t configuration_id_by_prefix(Database& db, const std::string& prefix);

// Throws unless the configuration has a unit in the campaign, naming both: predictions stored
// under a campaign that never ran the configuration would have no proxy results to compare with.
void check_configuration_in_campaign(Database& db, int64_t campaign_id, int64_t configuration_id);

struct E2ePredictionRow {
  std::string sample_key, prediction, source;  // source = FILE:LINE
  double score = 0;
};

struct E2eTaskRows {
  std::string task, metric, file;
  double score = 0;  // LongBench's round(100 * mean, 2), computed by the importer
  std::vector<E2ePredictionRow> predictions;
};

// Replaces the (campaign, configuration, task) rows of e2e_predictions and e2e_tasks of every
// task given, in one transaction: all of the import or none of it.
void replace_e2e_tasks(Database& db, int64_t campaign_id, int64_t configuration_id,
                       const std::vector<E2eTaskRows>& tasks, double imported_at);

struct E2eTaskScore {
  std::string configuration, method, canonical_json, task;
  double score = 0;  // 0-100
};

// Every imported task score of a campaign (the e2e_task_scores view).
std::vector<E2eTaskScore> e2e_task_scores(Database& db, const std::string& campaign);

struct E2eSampleScore {
  std::string configuration, task, sample_key;
  double score = 0;  // [0, 1]
};
// Every imported per-sample score of a campaign (e2e_predictions).
std::vector<E2eSampleScore> e2e_sample_scores(Database& db, const std::string& campaign);

// Per task, the non-NULL proxy mean of `metric` for one configuration (the task_scores view).
std::map<std::string, double> proxy_task_means(Database& db, const std::string& campaign,
                                               const std::string& configuration_hash,
                                               const std::string& metric);

}  // namespace ckv
