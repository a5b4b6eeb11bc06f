#include "e2e/rank_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "db/comparison_store.hpp"
#include "db/e2e_store.hpp"

namespace ckv::e2e {

namespace {

// The proxy value turned so that larger is better: ranks and correlations then read the same
// way for every metric (a proxy that orders the configurations as the end-to-end scores do
// correlates +1 whatever its direction).
double oriented(double v, Direction d) { return d == Direction::higher_better ? v : -v; }

std::string known_metrics() {
  std::string known;
  for (const MetricInfo& m : all_metrics()) known += (known.empty() ? "" : ", ") + std::string(m.name);
  return known;
}

// Keys present for every configuration (each map: key -> value).
std::vector<std::string> common_keys(const std::vector<const std::map<std::string, double>*>& maps) {
  std::vector<std::string> out;
  if (maps.empty()) return out;
  for (const auto& [key, value] : *maps[0]) {
    bool all = true;
    for (const auto* m : maps) all = all && m->count(key);
    if (all) out.push_back(key);
  }
  return out;
}

struct Estimates {
  std::optional<double> spearman, kendall, pairwise;
};

Estimates correlate(const std::vector<double>& e2e, const std::vector<double>& proxy_oriented) {
  return {stats::spearman(e2e, proxy_oriented), stats::kendall_tau_b(e2e, proxy_oriented),
          stats::pairwise_agreement(e2e, proxy_oriented)};
}

// The percentile interval of the defined bootstrap values; none when fewer than half of the
// resamples define the statistic (e.g. a constant ranking in most resamples).
std::optional<stats::Interval> interval(std::vector<double>& values, int resamples, double level) {
  if (values.empty() || 2 * values.size() < size_t(resamples)) return std::nullopt;
  return stats::percentile_interval(values, level);
}

}  // namespace

std::vector<double> ranks_best_first(const std::vector<double>& values, Direction direction) {
  std::vector<double> turned(values.size());
  for (size_t i = 0; i < values.size(); ++i) turned[i] = -oriented(values[i], direction);
  return stats::average_ranks(turned);
}

RankComparison rank_comparison(const std::string& campaign, const std::string& proxy_metric,
                               const std::vector<RankInputConfiguration>& configurations, const RankOptions& options) {
  const MetricInfo* info = find_metric(proxy_metric);
  CKV_CHECK(info,
            "compare-e2e: unknown proxy metric '{}': its direction is not known (the registry, "
            "`ckv-sweep metrics`: {})",
            proxy_metric, known_metrics());
  CKV_CHECK(!configurations.empty(), "compare-e2e: campaign '{}' has no imported end-to-end scores", campaign);
  RankComparison out;
  out.campaign = campaign;
  out.proxy_metric = proxy_metric;
  out.proxy_direction = info->direction;
  out.options = options;

  // Tasks scored for every configuration, so every row averages the same tasks.
  std::set<std::string> common;
  for (const auto& [task, score] : configurations[0].e2e_task) common.insert(task);
  for (const auto& c : configurations)
    for (auto it = common.begin(); it != common.end();) it = c.e2e_task.count(*it) ? std::next(it) : common.erase(it);
  CKV_CHECK(!common.empty(), "compare-e2e: the configurations of campaign '{}' share no end-to-end task", campaign);
  out.tasks.assign(common.begin(), common.end());

  std::vector<ConfigurationRef> refs;
  refs.reserve(configurations.size());
  for (const auto& c : configurations) refs.push_back(c.configuration);
  const std::vector<std::string> labels = configuration_labels(refs);
  std::vector<size_t> complete;  // configurations with a proxy mean for every task
  for (size_t i = 0; i < configurations.size(); ++i) {
    const auto& c = configurations[i];
    RankRow row;
    row.configuration = c.configuration.hash;
    row.method = c.configuration.method;
    row.label = labels[i];
    double sum = 0, proxy_sum = 0;
    bool has_proxy = true;
    for (const auto& t : out.tasks) {
      sum += c.e2e_task.at(t);
      auto it = c.proxy_task.find(t);
      if (it == c.proxy_task.end()) has_proxy = false;
      else proxy_sum += it->second;
    }
    row.e2e_mean = sum / double(out.tasks.size());
    if (has_proxy) {
      row.proxy_mean = proxy_sum / double(out.tasks.size());
      complete.push_back(i);
    }
    out.rows.push_back(row);
  }
  std::vector<double> e2e_values;
  for (const auto& r : out.rows) e2e_values.push_back(r.e2e_mean);
  const auto e2e_ranks = ranks_best_first(e2e_values, Direction::higher_better);
  for (size_t i = 0; i < out.rows.size(); ++i) out.rows[i].e2e_rank = e2e_ranks[i];
  std::vector<double> proxy_values;
  proxy_values.reserve(complete.size());
  for (size_t i : complete) proxy_values.push_back(*out.rows[i].proxy_mean);
  const auto proxy_ranks = ranks_best_first(proxy_values, info->direction);
  for (size_t k = 0; k < complete.size(); ++k) out.rows[complete[k]].proxy_rank = proxy_ranks[k];
  if (complete.size() < configurations.size())
    out.notes.push_back(fmt::format(
        "{} configuration(s) have no {} mean for every task and are left out of the correlations.",
        configurations.size() - complete.size(), proxy_metric));

  // Point estimates: per task from the task scores, overall from the means over tasks.
  const size_t T = out.tasks.size(), C = complete.size();
  auto point = [&](size_t task_index) {  // task_index == T: overall
    std::vector<double> e, p;
    for (size_t i : complete) {
      const auto& c = configurations[i];
      if (task_index == T) {
        e.push_back(out.rows[i].e2e_mean);
        p.push_back(oriented(*out.rows[i].proxy_mean, info->direction));
      } else {
        e.push_back(c.e2e_task.at(out.tasks[task_index]));
        p.push_back(oriented(c.proxy_task.at(out.tasks[task_index]), info->direction));
      }
    }
    return correlate(e, p);
  };

  // The samples each task resamples: those every compared configuration has, end to end and for
  // the proxy. Where both lists are the same samples they are drawn together (one draw per
  // resample), otherwise independently.
  struct TaskSamples {
    std::vector<std::string> e2e_keys, proxy_keys;
    bool joint = false;
    std::vector<std::vector<double>> e2e, proxy;  // [configuration k][sample]
  };
  std::vector<TaskSamples> samples(T);
  std::vector<std::string> fixed_tasks;
  for (size_t t = 0; t < T; ++t) {
    const std::string& task = out.tasks[t];
    std::vector<const std::map<std::string, double>*> e_maps, p_maps;
    static const std::map<std::string, double> none;
    for (size_t i : complete) {
      const auto& c = configurations[i];
      auto e = c.e2e_samples.find(task);
      auto p = c.proxy_samples.find(task);
      e_maps.push_back(e == c.e2e_samples.end() ? &none : &e->second);
      p_maps.push_back(p == c.proxy_samples.end() ? &none : &p->second);
    }
    TaskSamples& s = samples[t];
    s.e2e_keys = common_keys(e_maps);
    s.proxy_keys = common_keys(p_maps);
    s.joint = s.e2e_keys == s.proxy_keys;
    for (size_t k = 0; k < C; ++k) {
      s.e2e.emplace_back();
      s.proxy.emplace_back();
      for (const auto& key : s.e2e_keys) s.e2e[k].push_back(100.0 * e_maps[k]->at(key));
      for (const auto& key : s.proxy_keys) s.proxy[k].push_back(oriented(p_maps[k]->at(key), info->direction));
    }
    if (C > 0 && (s.e2e_keys.empty() || s.proxy_keys.empty())) fixed_tasks.push_back(task);
  }
  if (!fixed_tasks.empty()) {
    std::string list;
    for (const auto& t : fixed_tasks) list += (list.empty() ? "" : ", ") + t;
    out.notes.push_back(fmt::format(
        "No sample is shared by every configuration {} in task(s) {}: their correlations have no CI, and the "
        "overall CI holds their task means fixed.",
        "(end to end and for the proxy)", list));
  }

  // Bootstrap: within each task, resample its samples with replacement; the task means of each
  // configuration, the correlations per task and over the task means.
  std::vector<std::vector<double>> boot_spearman(T + 1), boot_kendall(T + 1);
  if (C >= 2) {
    std::mt19937_64 rng(options.seed);
    std::vector<std::vector<double>> e_task(C, std::vector<double>(T)), p_task(C, std::vector<double>(T));
    std::vector<size_t> draw_e, draw_p;
    for (int r = 0; r < options.resamples; ++r) {
      for (size_t t = 0; t < T; ++t) {
        const TaskSamples& s = samples[t];
        const bool resample = !s.e2e_keys.empty() && !s.proxy_keys.empty();
        draw_e.resize(s.e2e_keys.size());
        draw_p.resize(s.proxy_keys.size());
        if (resample) {
          for (auto& i : draw_e) i = stats::uniform_index(rng, s.e2e_keys.size());
          if (s.joint) draw_p = draw_e;
          else
            for (auto& i : draw_p) i = stats::uniform_index(rng, s.proxy_keys.size());
        }
        std::vector<double> e(C), p(C);
        for (size_t k = 0; k < C; ++k) {
          const auto& c = configurations[complete[k]];
          if (resample) {
            double se = 0, sp = 0;
            for (size_t i : draw_e) se += s.e2e[k][i];
            for (size_t i : draw_p) sp += s.proxy[k][i];
            e[k] = se / double(draw_e.size());
            p[k] = sp / double(draw_p.size());
          } else {
            e[k] = c.e2e_task.at(out.tasks[t]);
            p[k] = oriented(c.proxy_task.at(out.tasks[t]), info->direction);
          }
          e_task[k][t] = e[k];
          p_task[k][t] = p[k];
        }
        if (resample) {
          const Estimates est = correlate(e, p);
          if (est.spearman) boot_spearman[t].push_back(*est.spearman);
          if (est.kendall) boot_kendall[t].push_back(*est.kendall);
        }
      }
      std::vector<double> e(C), p(C);
      for (size_t k = 0; k < C; ++k) {
        e[k] = stats::mean(e_task[k]);
        p[k] = stats::mean(p_task[k]);
      }
      const Estimates est = correlate(e, p);
      if (est.spearman) boot_spearman[T].push_back(*est.spearman);
      if (est.kendall) boot_kendall[T].push_back(*est.kendall);
    }
  }

  for (size_t t = 0; t <= T; ++t) {
    Agreement a;
    a.task = t == T ? "overall" : out.tasks[t];
    a.configurations = int(C);
    if (t < T) {
      a.e2e_samples = int(samples[t].e2e_keys.size());
      a.proxy_samples = int(samples[t].proxy_keys.size());
    } else {
      for (const auto& s : samples) a.e2e_samples += int(s.e2e_keys.size()), a.proxy_samples += int(s.proxy_keys.size());
    }
    const Estimates est = point(t);
    a.spearman.value = est.spearman;
    a.kendall.value = est.kendall;
    a.pairwise = est.pairwise;
    const bool fixed = t < T && (samples[t].e2e_keys.empty() || samples[t].proxy_keys.empty());
    const bool all_fixed = t == T && fixed_tasks.size() == T;
    if (!fixed && !all_fixed) {
      if (est.spearman) a.spearman.ci = interval(boot_spearman[t], options.resamples, options.level);
      if (est.kendall) a.kendall.ci = interval(boot_kendall[t], options.resamples, options.level);
    }
    if (t == T) out.overall = a, out.spearman = a.spearman.value;
    else out.per_task.push_back(a);
  }

  std::stable_sort(out.rows.begin(), out.rows.end(),
                   [](const RankRow& x, const RankRow& y) { return x.e2e_rank < y.e2e_rank; });
  return out;
}

RankComparison compare_rankings(Database& db, const std::string& campaign, const std::string& proxy_metric,
                                const RankOptions& options) {
  CKV_CHECK(find_metric(proxy_metric),
            "compare-e2e: unknown proxy metric '{}': its direction is not known (the "
            "registry, `ckv-sweep metrics`: {})",
            proxy_metric, known_metrics());
  std::map<std::string, RankInputConfiguration> by_hash;
  for (const E2eTaskScore& row : e2e_task_scores(db, campaign)) {
    RankInputConfiguration& c = by_hash[row.configuration];
    c.configuration = {row.configuration, row.method, json::parse(row.canonical_json)};
    c.e2e_task[row.task] = row.score;
  }
  CKV_CHECK(!by_hash.empty(), "{}: campaign '{}' has no imported end-to-end scores (ckv-sweep import-predictions)",
            db.path(), campaign);
  for (const E2eSampleScore& s : e2e_sample_scores(db, campaign))
    if (auto it = by_hash.find(s.configuration); it != by_hash.end())
      it->second.e2e_samples[s.task][s.sample_key] = s.score;
  std::map<std::string, int64_t> ids;
  for (const CampaignConfiguration& c : campaign_configurations(db, campaign)) ids[c.hash] = c.id;
  std::vector<RankInputConfiguration> configurations;
  for (auto& [hash, c] : by_hash) {
    c.proxy_task = proxy_task_means(db, campaign, hash, proxy_metric);
    if (auto id = ids.find(hash); id != ids.end())
      for (const SampleMetricValue& v : configuration_sample_values(db, campaign, id->second, proxy_metric))
        if (v.value) c.proxy_samples[v.task][v.sample_key] = *v.value;
    configurations.push_back(std::move(c));
  }
  return rank_comparison(campaign, proxy_metric, configurations, options);
}

namespace {

std::string correlation_text(const Correlation& c) {
  if (!c.value) return "—";
  std::string s = fmt::format("{:+.3f}", *c.value);
  if (c.ci) s += fmt::format(" [{:+.3f}, {:+.3f}]", c.ci->lo, c.ci->hi);
  return s;
}

std::string agreement_row(const Agreement& a) {
  return fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", a.task, a.configurations, a.e2e_samples,
                     a.proxy_samples, correlation_text(a.spearman), correlation_text(a.kendall),
                     a.pairwise ? fmt::format("{:.3f}", *a.pairwise) : "—");
}

}  // namespace

std::string rank_comparison_json(const RankComparison& c) {
  auto optional = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  auto correlation = [&](const Correlation& x) {
    return json{{"value", optional(x.value)},
                {"ci", x.ci ? json::array({x.ci->lo, x.ci->hi}) : json(nullptr)}};
  };
  auto agreement = [&](const Agreement& a) {
    return json{{"task", a.task},
                {"configurations", a.configurations},
                {"e2e_samples", a.e2e_samples},
                {"proxy_samples", a.proxy_samples},
                {"spearman", correlation(a.spearman)},
                {"kendall_tau_b", correlation(a.kendall)},
                {"pairwise_agreement", optional(a.pairwise)}};
  };
  json rows = json::array(), per_task = json::array();
  for (const RankRow& r : c.rows)
    rows.push_back({{"label", r.label},
                    {"configuration", r.configuration},
                    {"method", r.method},
                    {"e2e_mean", r.e2e_mean},
                    {"e2e_rank", r.e2e_rank},
                    {"proxy_mean", optional(r.proxy_mean)},
                    {"proxy_rank", optional(r.proxy_rank)}});
  for (const Agreement& a : c.per_task) per_task.push_back(agreement(a));
  return json{{"campaign", c.campaign},
              {"proxy_metric", c.proxy_metric},
              {"proxy_direction", std::string(direction_words(c.proxy_direction))},
              {"tasks", c.tasks},
              {"rows", rows},
              {"per_task", per_task},
              {"overall", agreement(c.overall)},
              {"level", c.options.level},
              {"resamples", c.options.resamples},
              {"seed", c.options.seed},
              {"notes", c.notes}}
             .dump(2) +
         "\n";
}

std::string render_rank_comparison(const RankComparison& c) {
  const MetricInfo* info = find_metric(c.proxy_metric);
  std::string out = fmt::format("campaign {}: end-to-end (LongBench, mean over {} task(s): ", c.campaign, c.tasks.size());
  for (size_t i = 0; i < c.tasks.size(); ++i) out += (i ? ", " : "") + c.tasks[i];
  out += fmt::format(") against proxy {} ({})\n\n", c.proxy_metric, direction_words(c.proxy_direction));
  out += fmt::format("| configuration | hash | e2e score | e2e rank | {} | proxy rank |\n", c.proxy_metric);
  out += "|---|---|---:|---:|---:|---:|\n";
  for (const RankRow& r : c.rows)
    out += fmt::format("| {} | {} | {:.2f} | {:g} | {} | {} |\n", r.label, r.configuration.substr(0, 12), r.e2e_mean,
                       r.e2e_rank, r.proxy_mean ? fmt::format("{:.4f}", *r.proxy_mean) : "—",
                       r.proxy_rank ? fmt::format("{:g}", *r.proxy_rank) : "—");
  out += fmt::format(
      "\nRank 1 is the best: the highest end-to-end score, the {} {}. Agreement of the two orders "
      "(+1: the proxy orders the configurations exactly as the end-to-end scores do):\n\n",
      info && info->direction == Direction::lower_better ? "lowest" : "highest", c.proxy_metric);
  const std::string level = fmt::format("{:g}", 100 * c.options.level);
  out += fmt::format(
      "| task | configurations | e2e samples | proxy samples | Spearman ρ [{} % CI] | Kendall τ-b [{} % CI] | "
      "pairwise agreement |\n",
      level, level);
  out += "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const Agreement& a : c.per_task) out += agreement_row(a);
  out += agreement_row(c.overall);
  out += fmt::format(
      "\nPer task: the task scores; overall: the means over the tasks. CIs: percentile bootstrap, {} resamples of "
      "the samples within each task (the samples every configuration has), seed {:#x}. Pairwise agreement: the "
      "share of configuration pairs that both orders put the same way.\n",
      c.options.resamples, c.options.seed);
  for (const auto& note : c.notes) out += "\n" + note + "\n";
  return out;
}

}  // namespace ckv::e2e
