#include "report/paired_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/comparison_store.hpp"
#include "kernels/numerics.hpp"
#include "report/text_table.hpp"

namespace ckv {

namespace {

// Tasks in common/tasks.hpp order, then unknown ones by name (the report's order).
std::vector<std::string> task_order(const std::set<std::string>& tasks) {
  std::vector<std::string> out;
  for (const TaskInfo& t : known_tasks())
    if (tasks.count(t.name)) out.push_back(t.name);
  for (const auto& t : tasks)
    if (!find_task(t)) out.push_back(t);
  return out;
}

// The parameters without eval.numerics: two configurations with the same key are the same point
// computed under different numerics versions.
std::string point_key(const ConfigurationRef& c) {
  auto params = flat_parameters(c.document);
  params.erase("eval.numerics");
  json j = json::object();
  for (const auto& [k, v] : params) j[k] = v;
  return c.method + " " + canonical_json(j);
}

std::string candidates_text(const std::vector<ConfigurationRef>& refs, const std::vector<std::string>& labels,
                            const std::vector<size_t>& which) {
  std::string out;
  for (size_t k = 0; k < which.size() && k < 20; ++k)
    out += fmt::format("\n  {}  [{}]", labels[which[k]], refs[which[k]].hash.substr(0, 12));
  if (which.size() > 20) out += fmt::format("\n  ... and {} more", which.size() - 20);
  return out;
}

// The matches of `given`: one configuration, or several that are the same point under
// different numerics versions. Throws for none or an ambiguous name.
std::vector<size_t> resolve(const std::vector<ConfigurationRef>& refs, const std::vector<std::string>& labels,
                            const std::string& given, const std::string& campaign, const std::string& which) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == given) return {i};
  std::vector<size_t> found = match_configurations(refs, given);
  std::vector<size_t> all(refs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  CKV_CHECK(!found.empty(),
            "compare: {} '{}' names no configuration of campaign '{}' (give a label \"METHOD key=value ...\" or a "
            "hash prefix); its configurations:{}",
            which, given, campaign, candidates_text(refs, labels, all));
  std::set<std::string> points;
  for (size_t i : found) points.insert(point_key(refs[i]));
  CKV_CHECK(points.size() == 1,
            "compare: {} '{}' is ambiguous in campaign '{}': it matches {} configurations; name one by more "
            "key=value pairs or a hash prefix:{}",
            which, given, campaign, found.size(), candidates_text(refs, labels, found));
  return found;
}

std::string value_text(double v, int precision) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.{}f}", v, precision);
}

std::string p_text(double p) {
  if (std::isnan(p)) return "-";
  return p < 1e-4 ? fmt::format("{:.1e}", p) : fmt::format("{:.4f}", p);
}

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

json row_json(const PairedRow& r) {
  json j = {{"task", r.task},
            {"samples", r.samples},
            {"paired", r.paired},
            {"mean_a", number_or_null(r.mean_a)},
            {"mean_b", number_or_null(r.mean_b)},
            {"mean_difference", number_or_null(r.mean_difference)},
            {"ci", {number_or_null(r.ci.lo), number_or_null(r.ci.hi)}},
            {"p", number_or_null(r.p)},
            {"p_exact", r.exact},
            {"wins", r.wins},
            {"ties", r.ties},
            {"losses", r.losses}};
  if (r.p_holm) j["p_holm"] = number_or_null(*r.p_holm);
  return j;
}

}  // namespace

PairedComparison compare_configurations(Database& db, const std::string& campaign, const std::string& a_name,
                                        const std::string& b_name, const std::string& metric,
                                        const CompareOptions& options) {
  PairedComparison out;
  out.campaign = campaign;
  out.metric = metric;
  out.options = options;
  out.info = find_metric(metric);
  if (!out.info) {
    std::string known;
    for (const MetricInfo& m : all_metrics()) known += (known.empty() ? "" : ", ") + std::string(m.name);
    CKV_FAIL("compare: unknown metric '{}' (the registry, `ckv-sweep metrics`: {})", metric, known);
  }

  const std::vector<CampaignConfiguration> configurations = campaign_configurations(db, campaign);
  std::vector<ConfigurationRef> refs;
  refs.reserve(configurations.size());
  for (const auto& c : configurations) refs.push_back({c.hash, c.method, json::parse(c.canonical_json)});
  const std::vector<std::string> labels = configuration_labels(refs);
  const std::vector<size_t> as = resolve(refs, labels, a_name, campaign, "A");
  const std::vector<size_t> bs = resolve(refs, labels, b_name, campaign, "B");

  // One numerics version for both: the newest they share. Values of other versions are never
  // paired (docs/numerics.md): a difference would mix kernels that round differently.
  std::map<int, size_t> a_by_numerics, b_by_numerics;
  for (size_t i : as) a_by_numerics[numerics_of(refs[i].document)] = i;
  for (size_t i : bs) b_by_numerics[numerics_of(refs[i].document)] = i;
  std::optional<int> shared;
  for (const auto& [n, i] : a_by_numerics)
    if (b_by_numerics.count(n)) shared = n;
  if (!shared) {
    auto versions = [](const std::map<int, size_t>& m) {
      std::string s;
      for (const auto& [n, i] : m) s += (s.empty() ? "" : ", ") + std::to_string(n);
      return s;
    };
    CKV_FAIL(
        "compare: A ({}) was computed under numerics {} and B ({}) under numerics {}: values computed by "
        "kernels that round differently are never paired (docs/numerics.md); rerun the spec to compute both "
        "under numerics {}",
        labels[as[0]], versions(a_by_numerics), labels[bs[0]], versions(b_by_numerics), kNumericsVersion);
  }
  out.numerics = *shared;
  const size_t ia = a_by_numerics.at(*shared), ib = b_by_numerics.at(*shared);
  CKV_CHECK(ia != ib, "compare: A and B are the same configuration ({} [{}])", labels[ia], refs[ia].hash.substr(0, 12));
  out.a = refs[ia];
  out.b = refs[ib];
  out.label_a = labels[ia];
  out.label_b = labels[ib];
  for (const auto& [which, matches, chosen] :
       {std::tuple{"A", &a_by_numerics, ia}, std::tuple{"B", &b_by_numerics, ib}})
    for (const auto& [n, i] : *matches)
      if (i != chosen)
        out.notes.push_back(fmt::format(
            "{} also has results under numerics {} (configuration {}): left out, only values computed under "
            "numerics {} are paired (docs/numerics.md).",
            which, n, refs[i].hash.substr(0, 12), *shared));

  const auto values_a = configuration_sample_values(db, campaign, configurations[ia].id, metric);
  const auto values_b = configuration_sample_values(db, campaign, configurations[ib].id, metric);
  CKV_CHECK(!values_a.empty() || !values_b.empty(),
            "compare: campaign '{}' has no stored value of '{}' for A or B{}", campaign, metric,
            out.info->unit == "LongBench points" ? " (an end-to-end score: compare-e2e compares those)" : "");
  std::map<int64_t, std::optional<double>> by_sample_b;
  for (const auto& v : values_b) by_sample_b[v.sample_id] = v.value;

  // Pairs per task.
  struct TaskPairs {
    std::vector<double> a, b;
  };
  std::map<std::string, TaskPairs> pairs;
  int64_t a_missing = 0, b_missing = 0, a_null = 0, b_null = 0;
  std::set<int64_t> seen_a;
  for (const auto& v : values_a) {
    seen_a.insert(v.sample_id);
    auto it = by_sample_b.find(v.sample_id);
    if (it == by_sample_b.end()) {
      ++b_missing;
      continue;
    }
    if (!v.value) ++a_null;
    if (!it->second) ++b_null;
    if (v.value && it->second) {
      pairs[v.task].a.push_back(*v.value);
      pairs[v.task].b.push_back(*it->second);
    }
  }
  for (const auto& v : values_b) a_missing += !seen_a.count(v.sample_id);

  const std::map<std::string, int64_t> samples = campaign_task_sample_counts(db, campaign);
  std::set<std::string> task_names;
  for (const auto& [t, n] : samples) task_names.insert(t);
  std::vector<double> all_d, all_a, all_b;
  std::vector<int> strata;
  std::vector<std::string> unpaired_tasks;
  int64_t wins = 0, ties = 0, losses = 0, paired_total = 0, samples_total = 0;
  for (const std::string& task : task_order(task_names)) {
    samples_total += samples.at(task);
    auto it = pairs.find(task);
    if (it == pairs.end()) {
      unpaired_tasks.push_back(task);
      continue;
    }
    const TaskPairs& p = it->second;
    PairedRow row;
    row.task = task;
    row.samples = samples.at(task);
    row.paired = int64_t(p.a.size());
    std::vector<double> d(p.a.size());
    for (size_t i = 0; i < d.size(); ++i) {
      d[i] = p.a[i] - p.b[i];
      if (better(*out.info, p.a[i], p.b[i])) ++row.wins;
      else if (better(*out.info, p.b[i], p.a[i])) ++row.losses;
      else ++row.ties;
    }
    row.mean_a = stats::mean(p.a);
    row.mean_b = stats::mean(p.b);
    row.mean_difference = stats::mean(d);
    row.ci = stats::bootstrap_mean_ci(d, {}, options.level, options.resamples, options.seed);
    const stats::SignFlipResult test = stats::sign_flip_test(d, {}, options.permutations, options.seed);
    row.p = test.p;
    row.exact = test.exact;
    wins += row.wins, ties += row.ties, losses += row.losses, paired_total += row.paired;
    const int stratum = int(out.tasks.size());
    for (size_t i = 0; i < d.size(); ++i) {
      all_d.push_back(d[i]);
      all_a.push_back(p.a[i]);
      all_b.push_back(p.b[i]);
      strata.push_back(stratum);
    }
    out.tasks.push_back(std::move(row));
  }
  std::vector<double> ps;
  for (const auto& r : out.tasks) ps.push_back(r.p);
  const std::vector<double> adjusted = stats::holm(ps);
  for (size_t i = 0; i < out.tasks.size(); ++i) out.tasks[i].p_holm = adjusted[i];

  if (!out.tasks.empty()) {
    PairedRow overall;
    overall.task = "overall";
    overall.samples = samples_total;
    overall.paired = paired_total;
    overall.mean_a = stats::stratified_mean(all_a, strata);
    overall.mean_b = stats::stratified_mean(all_b, strata);
    overall.mean_difference = stats::stratified_mean(all_d, strata);
    overall.ci = stats::bootstrap_mean_ci(all_d, strata, options.level, options.resamples, options.seed);
    const stats::SignFlipResult test = stats::sign_flip_test(all_d, strata, options.permutations, options.seed);
    overall.p = test.p;
    overall.exact = test.exact;
    overall.wins = wins, overall.ties = ties, overall.losses = losses;
    out.overall = overall;
  }

  if (paired_total < samples_total) {
    std::string why;
    auto add = [&](int64_t count, const std::string& text) {
      if (count > 0) why += fmt::format("{}{} {}", why.empty() ? "" : "; ", count, text);
    };
    add(a_missing, "without a done unit of A");
    add(b_missing, "without a done unit of B");
    add(a_null, "where A's value is NULL");
    add(b_null, "where B's value is NULL");
    add(samples_total - int64_t(values_a.size()) - a_missing, "done by neither");
    out.notes.push_back(fmt::format("{} of the campaign's {} samples are paired; left out: {}.", paired_total,
                                    samples_total, why));
  }
  if (!unpaired_tasks.empty()) {
    std::string list;
    for (const auto& t : unpaired_tasks) list += (list.empty() ? "" : ", ") + t;
    out.notes.push_back(fmt::format("Tasks without a single pair, not shown: {}.", list));
  }
  return out;
}

std::string render_paired_comparison(const PairedComparison& c, const std::string& format, int precision) {
  const std::string direction(direction_words(c.info->direction));
  const std::string level = fmt::format("{:g}", 100 * c.options.level);
  if (format == "json") {
    json tasks = json::array();
    for (const auto& r : c.tasks) tasks.push_back(row_json(r));
    json doc = {{"campaign", c.campaign},
                {"metric", c.metric},
                {"direction", direction},
                {"a", {{"label", c.label_a}, {"configuration", c.a.hash}, {"method", c.a.method}}},
                {"b", {{"label", c.label_b}, {"configuration", c.b.hash}, {"method", c.b.method}}},
                {"numerics", c.numerics},
                {"level", c.options.level},
                {"resamples", c.options.resamples},
                {"permutations", c.options.permutations},
                {"seed", c.options.seed},
                {"tasks", tasks},
                {"overall", c.overall ? row_json(*c.overall) : json(nullptr)},
                {"notes", c.notes}};
    return doc.dump(2) + "\n";
  }
  TextTable t;
  t.title = fmt::format("{}: {} ({}), A = {} [{}] vs B = {} [{}], numerics {}", c.campaign, c.metric, direction,
                        c.label_a, c.a.hash.substr(0, 12), c.label_b, c.b.hash.substr(0, 12), c.numerics);
  std::vector<const PairedRow*> rows;
  for (const auto& r : c.tasks) rows.push_back(&r);
  if (c.overall) rows.push_back(&*c.overall);
  if (format == "csv") {
    t.header = {"task", "samples", "paired", "mean_a", "mean_b", "mean_difference", "ci_lo", "ci_hi",
                "p", "p_exact", "p_holm", "wins", "ties", "losses"};
    for (const PairedRow* r : rows)
      t.rows.push_back({r->task, std::to_string(r->samples), std::to_string(r->paired),
                        fmt::format("{:.17g}", r->mean_a), fmt::format("{:.17g}", r->mean_b),
                        fmt::format("{:.17g}", r->mean_difference), fmt::format("{:.17g}", r->ci.lo),
                        fmt::format("{:.17g}", r->ci.hi), fmt::format("{:.17g}", r->p), r->exact ? "1" : "0",
                        r->p_holm ? fmt::format("{:.17g}", *r->p_holm) : "", std::to_string(r->wins),
                        std::to_string(r->ties), std::to_string(r->losses)});
    return render_text_table(t, "csv");
  }
  t.header = {"task", "pairs", "A", "B", "A − B", level + " % CI", "p", "p (Holm)", "wins/ties/losses"};
  for (const PairedRow* r : rows)
    t.rows.push_back({r->task, fmt::format("{}/{}", r->paired, r->samples), value_text(r->mean_a, precision),
                      value_text(r->mean_b, precision), value_text(r->mean_difference, precision),
                      fmt::format("[{}, {}]", value_text(r->ci.lo, precision), value_text(r->ci.hi, precision)),
                      p_text(r->p) + (r->exact ? "" : "*"), r->p_holm ? p_text(*r->p_holm) : "-",
                      fmt::format("{}/{}/{}", r->wins, r->ties, r->losses)});
  t.notes.push_back(fmt::format(
      "A − B: mean paired difference over the samples both have ({} A is better); overall = mean of the task "
      "means. CI: {} % paired percentile bootstrap, {} resamples within each task, seed {:#x}. p: two-sided "
      "sign-flip permutation test, exact by enumeration up to 20 non-zero differences ({} random sign patterns "
      "otherwise, marked *); p (Holm): Holm–Bonferroni across the {} task(s). A win is a sample where A is "
      "better than B ({}).",
      c.info->direction == Direction::higher_better ? "positive:" : "negative:", level, c.options.resamples,
      c.options.seed, c.options.permutations, c.tasks.size(), direction));
  for (const auto& note : c.notes) t.notes.push_back(note);
  return render_text_table(t, format);
}

}  // namespace ckv
