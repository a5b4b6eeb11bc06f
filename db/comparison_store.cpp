#include "db/comparison_store.hpp"

#include "db/e2e_store.hpp"

namespace ckv {

std::vector<CampaignConfiguration> campaign_configurations(Database& db, const std::string& campaign) {
  const int64_t campaign_id = e2e_campaign_id(db, campaign);
  Statement q = db.prepare(
      "SELECT cf.id, cf.hash, cf.method, cf.canonical_json FROM configurations cf WHERE cf.id IN "
      "(SELECT u.configuration_id FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      " WHERE cu.campaign_id = ?) ORDER BY cf.id");
  q.bind(1, campaign_id);
  std::vector<CampaignConfiguration> out;
  while (q.step()) out.push_back({q.column_int64(0), q.column_text(1), q.column_text(2), q.column_text(3)});
  return out;
}

std::vector<SampleMetricValue> configuration_sample_values(Database& db, const std::string& campaign,
                                                           int64_t configuration_id, const std::string& metric) {
  const int64_t campaign_id = e2e_campaign_id(db, campaign);
  Statement q = db.prepare(
      "SELECT s.id, s.task, s.sample_key, r.value FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN samples s ON s.id = u.sample_id JOIN results r ON r.unit_id = u.id AND r.metric = ? "
      "WHERE cu.campaign_id = ? AND u.configuration_id = ? AND u.state = 'done' ORDER BY s.id");
  q.bind(1, metric).bind(2, campaign_id).bind(3, configuration_id);
  std::vector<SampleMetricValue> out;
  while (q.step())
    out.push_back({q.column_int64(0), q.column_text(1), q.column_text(2), q.column_optional_double(3)});
  return out;
}

std::map<std::string, int64_t> campaign_task_sample_counts(Database& db, const std::string& campaign) {
  const int64_t campaign_id = e2e_campaign_id(db, campaign);
  Statement q = db.prepare(
      "SELECT s.task, COUNT(DISTINCT s.id) FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "JOIN samples s ON s.id = u.sample_id WHERE cu.campaign_id = ? GROUP BY s.task");
  q.bind(1, campaign_id);
  std::map<std::string, int64_t> out;
  while (q.step()) out[q.column_text(0)] = q.column_int64(1);
  return out;
}

}  // namespace ckv
