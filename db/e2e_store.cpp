#include "db/e2e_store.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"

namespace ckv {

int64_t e2e_campaign_id(Database& db, const std::string& name) {
  Statement q = db.prepare("SELECT id FROM campaigns WHERE name = ?");
  q.bind(1, name);
  if (q.step()) return q.column_int64(0);
  std::vector<std::string> names;
  Statement all = db.prepare("SELECT name FROM campaigns ORDER BY id");
  while (all.step()) names.push_back(all.column_text(0));
  CKV_FAIL("{}: no campaign '{}' (campaigns: {})", db.path(), name, fmt::format("{}", fmt::join(names, ", ")));
}

int64_t configuration_id_by_prefix(Database& db, const std::string& prefix) {
  CKV_CHECK(!prefix.empty(), "--config: a configuration hash is required");
  Statement q = db.prepare("SELECT id, hash FROM configurations WHERE substr(hash, 1, ?) = ?");
  q.bind(1, int64_t(prefix.size())).bind(2, prefix);
  std::vector<std::pair<int64_t, std::string>> found;
  while (q.step()) found.emplace_back(q.column_int64(0), q.column_text(1));
  CKV_CHECK(!found.empty(),
            "{}: no configuration with hash '{}' (see: ckv-sweep query {} "
            "\"select hash, canonical_json from configurations\")",
            db.path(), prefix, db.path());
  CKV_CHECK(found.size() == 1, "{}: hash prefix '{}' matches {} configurations; give more of it",
            db.path(), prefix, found.size());
  return found[0].first;
}

void check_configuration_in_campaign(Database& db, int64_t campaign_id, int64_t configuration_id) {
  Statement member = db.prepare(
      "SELECT 1 FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      "WHERE cu.campaign_id = ? AND u.configuration_id = ? LIMIT 1");
  member.bind(1, campaign_id).bind(2, configuration_id);
  if (member.step()) return;
  Statement names = db.prepare(
      "SELECT cf.hash, cf.method, c.name, "
      "(SELECT COUNT(DISTINCT u.configuration_id) FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
      " WHERE cu.campaign_id = c.id) "
      "FROM configurations cf, campaigns c WHERE cf.id = ? AND c.id = ?");
  names.bind(1, configuration_id).bind(2, campaign_id);
  CKV_CHECK(names.step(), "{}: configuration or campaign vanished", db.path());
  CKV_FAIL(
      "{}: configuration {} ({}) is not in campaign '{}' (its {} configuration(s): ckv-sweep query {} "
      "\"select distinct configuration, method from unit_results where campaign = '{}'\")",
      db.path(), names.column_text(0).substr(0, 12), names.column_text(1), names.column_text(2),
      names.column_int64(3), db.path(), names.column_text(2));
}

void replace_e2e_tasks(Database& db, int64_t campaign_id, int64_t configuration_id,
                       const std::vector<E2eTaskRows>& tasks, double imported_at) {
  Transaction transaction(db);
  for (const E2eTaskRows& task : tasks) {
    for (const char* table : {"e2e_predictions", "e2e_tasks"}) {
      Statement drop = db.prepare(fmt::format(
          "DELETE FROM {} WHERE campaign_id = ? AND configuration_id = ? AND task = ?", table));
      drop.bind(1, campaign_id).bind(2, configuration_id).bind(3, task.task);
      drop.run();
    }
    Statement insert = db.prepare(
        "INSERT INTO e2e_predictions (campaign_id, configuration_id, task, sample_key, prediction, "
        "metric, score, source, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const E2ePredictionRow& row : task.predictions) {
      insert.bind(1, campaign_id).bind(2, configuration_id).bind(3, task.task).bind(4, row.sample_key).bind(5, row.prediction).bind(6, task.metric).bind(7, row.score).bind(8, row.source).bind(9, imported_at);
      insert.run();
      insert.reset();
    }
    Statement summary = db.prepare(
        "INSERT INTO e2e_tasks (campaign_id, configuration_id, task, metric, score, count, source, "
        "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    summary.bind(1, campaign_id).bind(2, configuration_id).bind(3, task.task).bind(4, task.metric).bind(5, task.score).bind(6, int64_t(task.predictions.size())).bind(7, task.file).bind(8, imported_at);
    summary.run();
  }
  transaction.commit();
}

std::vector<E2eTaskScore> e2e_task_scores(Database& db, const std::string& campaign) {
  Statement q = db.prepare(
      "SELECT e.configuration, e.method, cf.canonical_json, e.task, e.score FROM e2e_task_scores e "
      "JOIN configurations cf ON cf.hash = e.configuration WHERE e.campaign = ?");
  q.bind(1, campaign);
  std::vector<E2eTaskScore> out;
  while (q.step())
    out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3), q.column_double(4)});
  return out;
}

std::vector<E2eSampleScore> e2e_sample_scores(Database& db, const std::string& campaign) {
  Statement q = db.prepare(
      "SELECT cf.hash, p.task, p.sample_key, p.score FROM e2e_predictions p "
      "JOIN configurations cf ON cf.id = p.configuration_id JOIN campaigns c ON c.id = p.campaign_id "
      "WHERE c.name = ?");
  q.bind(1, campaign);
  std::vector<E2eSampleScore> out;
  while (q.step()) out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_double(3)});
  return out;
}

std::map<std::string, double> proxy_task_means(Database& db, const std::string& campaign,
                                               const std::string& configuration_hash,
                                               const std::string& metric) {
  Statement p = db.prepare(
      "SELECT task, mean FROM task_scores WHERE campaign = ? AND configuration = ? AND metric = ?");
  p.bind(1, campaign).bind(2, configuration_hash).bind(3, metric);
  std::map<std::string, double> means;
  while (p.step())
    if (!p.column_is_null(1)) means[p.column_text(0)] = p.column_double(1);
  return means;
}

}  // namespace ckv
