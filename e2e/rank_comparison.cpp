#include "e2e/rank_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "db/e2e_store.hpp"

namespace ckv::e2e {

std::vector<double> descending_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] > values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = (double(i + 1) + double(j + 1)) / 2;
    i = j + 1;
  }
  return ranks;
}

std::optional<double> spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) return std::nullopt;
  const std::vector<double> ra = descending_ranks(a), rb = descending_ranks(b);
  const double n = double(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::nullopt;
  return sab / std::sqrt(saa * sbb);
}

RankComparison compare_rankings(Database& db, const std::string& campaign, const std::string& proxy_metric) {
  RankComparison out;
  out.campaign = campaign;
  out.proxy_metric = proxy_metric;
  // configuration -> task -> e2e score
  std::map<std::string, std::map<std::string, double>> e2e;
  std::map<std::string, std::pair<std::string, std::string>> info;
  for (const E2eTaskScore& row : e2e_task_scores(db, campaign)) {
    e2e[row.configuration][row.task] = row.score;
    info[row.configuration] = {row.method, row.canonical_json};
  }
  CKV_CHECK(!e2e.empty(), "{}: campaign '{}' has no imported end-to-end scores (ckv-sweep import-predictions)",
            db.path(), campaign);
  // Tasks scored for every configuration, so every row averages the same tasks.
  std::set<std::string> common;
  for (const auto& [task, score] : e2e.begin()->second) common.insert(task);
  for (const auto& [hash, tasks] : e2e)
    for (auto it = common.begin(); it != common.end();)
      it = tasks.count(*it) ? std::next(it) : common.erase(it);
  CKV_CHECK(!common.empty(), "{}: the configurations of campaign '{}' share no end-to-end task", db.path(), campaign);
  out.tasks.assign(common.begin(), common.end());

  for (const auto& [hash, tasks] : e2e) {
    RankRow row;
    row.configuration = hash;
    row.method = info[hash].first;
    row.canonical_json = info[hash].second;
    double sum = 0;
    for (const auto& t : out.tasks) sum += tasks.at(t);
    row.e2e_mean = sum / double(out.tasks.size());
    const std::map<std::string, double> proxy = proxy_task_means(db, campaign, hash, proxy_metric);
    double proxy_sum = 0;
    bool complete = true;
    for (const auto& t : out.tasks) {
      auto it = proxy.find(t);
      if (it == proxy.end()) complete = false;
      else proxy_sum += it->second;
    }
    if (complete) row.proxy_mean = proxy_sum / double(out.tasks.size());
    out.rows.push_back(row);
  }
  std::vector<double> e2e_values;
  for (const auto& r : out.rows) e2e_values.push_back(r.e2e_mean);
  auto e2e_ranks = descending_ranks(e2e_values);
  for (size_t i = 0; i < out.rows.size(); ++i) out.rows[i].e2e_rank = e2e_ranks[i];
  std::vector<size_t> with_proxy;
  std::vector<double> a, b;
  for (size_t i = 0; i < out.rows.size(); ++i)
    if (out.rows[i].proxy_mean) {
      with_proxy.push_back(i);
      a.push_back(out.rows[i].e2e_mean);
      b.push_back(*out.rows[i].proxy_mean);
    }
  auto proxy_ranks = descending_ranks(b);
  for (size_t k = 0; k < with_proxy.size(); ++k) out.rows[with_proxy[k]].proxy_rank = proxy_ranks[k];
  out.spearman = spearman(a, b);
  std::stable_sort(out.rows.begin(), out.rows.end(),
                   [](const RankRow& x, const RankRow& y) { return x.e2e_rank < y.e2e_rank; });
  return out;
}

std::string render_rank_comparison(const RankComparison& c) {
  std::string out = fmt::format("campaign {}: end-to-end (LongBench, mean over {} task(s): ", c.campaign, c.tasks.size());
  for (size_t i = 0; i < c.tasks.size(); ++i) out += (i ? ", " : "") + c.tasks[i];
  out += fmt::format(") against proxy {}\n\n", c.proxy_metric);
  out += fmt::format("| configuration | method | e2e score | e2e rank | {} | proxy rank |\n", c.proxy_metric);
  out += "|---|---|---:|---:|---:|---:|\n";
  for (const RankRow& r : c.rows)
    out += fmt::format("| {} | {} | {:.2f} | {:g} | {} | {} |\n", r.configuration.substr(0, 12), r.method,
                       r.e2e_mean, r.e2e_rank, r.proxy_mean ? fmt::format("{:.4f}", *r.proxy_mean) : "—",
                       r.proxy_rank ? fmt::format("{:g}", *r.proxy_rank) : "—");
  out += c.spearman ? fmt::format("\nSpearman rank correlation: {:.4f}\n", *c.spearman)
                    : std::string("\nSpearman rank correlation: — (fewer than 2 configurations with both, or a constant ranking)\n");
  return out;
}

}  // namespace ckv::e2e
