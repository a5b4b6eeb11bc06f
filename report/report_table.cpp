#include "report/report_table.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "kernels/numerics.hpp"
#include "report/html.hpp"
#include "report/metric_info.hpp"
#include "report/query_table.hpp"

namespace ckv {

std::map<std::string, json> flat_parameters(const ConfigurationInfo& configuration) {
  std::map<std::string, json> out = flat_parameters(json::parse(configuration.canonical_json));
  // compression_ratio sets the budget of each sample (round((1 - r) n)): the stored budget is
  // not used, and a column of it would only mislead.
  if (auto r = out.find("compression_ratio"); r != out.end() && r->second.is_number()) out.erase("budget");
  return out;
}

std::string scale_error(double scale) {
  if (!std::isfinite(scale) || scale <= 0)
    return fmt::format(
        "--scale must be a finite number > 0 (got {}): it multiplies every value, "
        "e.g. 100 for percent",
        scale);
  return "";
}

namespace {

bool mixes_numerics(const CampaignReport& report) { return report.numerics.size() > 1; }

// "numerics 2", "numerics 1 and 2", "numerics 1, 2 and 3".
std::string numerics_list(const std::vector<int>& numerics) {
  std::string out;
  for (size_t i = 0; i < numerics.size(); ++i)
    out += (i == 0 ? "" : i + 1 == numerics.size() ? " and "
                                                   : ", ") +
           std::to_string(numerics[i]);
  return "numerics " + out;
}

// What the reader must know about the numerics of the rows shown: "" when they are all this
// build's. Rows of different numerics are different configurations (different hashes), never
// averaged together; this says that they are there.
std::string numerics_note(const CampaignReport& report) {
  if (mixes_numerics(report))
    return fmt::format(
        "This campaign's rows were computed under {} (kernels that round differently, docs/database.md "
        "\"Numerics versions\"): each row is one configuration under one numerics, never averaged with another, "
        "and the eval.numerics column says which; rerun the spec to compute every row under numerics {}.",
        numerics_list(report.numerics), kNumericsVersion);
  if (report.numerics.size() == 1 && report.numerics[0] != kNumericsVersion)
    return fmt::format(
        "Computed under numerics {} ({}); this build computes numerics {}: rerunning the spec computes its units anew "
        "(`ckv-sweep plan` says how many), and the rows shown here stay in the database.",
        report.numerics[0], numerics_description(report.numerics[0]) ? numerics_description(report.numerics[0]) : "?",
        kNumericsVersion);
  return "";
}

std::string coverage_note(const std::string& campaign) {
  return fmt::format(
      "(k/n): the mean covers k of the task's n samples; the other units failed, were lost or are not done "
      "yet, or the metric is NULL for them (see `ckv-sweep status DB --failures {}`). (k/n tasks): the "
      "average covers k of the n tasks.",
      campaign);
}

const char* const kOverMark = "†";
const char* const kShortMark = "‡";

// Rows grouped by method (in order of first appearance), then by the varying parameters'
// values (numbers numerically), so a sweep reads top to bottom.
std::vector<const ReportRow*> sorted_rows(const CampaignReport& report, const std::vector<std::string>& keys) {
  std::map<std::string, size_t> method_rank;
  for (const auto& row : report.rows) method_rank.emplace(row.configuration.method, method_rank.size());
  std::vector<std::pair<std::map<std::string, json>, const ReportRow*>> keyed;
  for (const auto& row : report.rows) keyed.emplace_back(flat_parameters(row.configuration), &row);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    size_t ma = method_rank[a.second->configuration.method], mb = method_rank[b.second->configuration.method];
    if (ma != mb) return ma < mb;
    for (const auto& p : keys) {
      auto ia = a.first.find(p), ib = b.first.find(p);
      if (ia == a.first.end() || ib == b.first.end()) continue;
      if (ia->second == ib->second) continue;
      if (ia->second.is_number() && ib->second.is_number())
        return ia->second.template get<double>() < ib->second.template get<double>();
      return canonical_json(ia->second) < canonical_json(ib->second);
    }
    return false;
  });
  std::vector<const ReportRow*> out;
  out.reserve(keyed.size());
  for (const auto& k : keyed) out.push_back(k.second);
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// One table row in the making: the configurations it averages (one unless replicates).
struct Group {
  std::vector<const ReportRow*> members;
  std::map<std::string, json> params;  // of the first member
  std::vector<json> replicate_values;
};

// The budget a configuration was given for a sample of n tokens: `budget`, or round((1 - r) n)
// under compression_ratio; nullopt for a method without one (full).
std::optional<double> nominal_budget(const std::map<std::string, json>& params, int64_t n) {
  if (auto r = params.find("compression_ratio"); r != params.end() && r->second.is_number())
    return std::round((1.0 - r->second.get<double>()) * double(n));
  if (auto b = params.find("budget"); b != params.end() && b->second.is_number()) return b->second.get<double>();
  return std::nullopt;
}

}  // namespace

ReportColumns varying_columns(const CampaignReport& report) { return varying_columns(report, {}); }

ReportColumns varying_columns(const CampaignReport& report, const std::vector<std::string>& replicate_axes) {
  // A parameter is a column when it takes two values among the rows of one method: parameters
  // that merely differ between methods (each method's own defaults) would only widen the table.
  ReportColumns columns;
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // method -> key -> values
  for (const auto& row : report.rows) {
    for (const auto& [key, value] : flat_parameters(row.configuration)) {
      if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
      values[row.configuration.method][key].insert(canonical_json(value));
    }
  }
  for (const auto& key : order) {
    if (contains(replicate_axes, key)) continue;
    for (const auto& [method, keys] : values)
      if (auto it = keys.find(key); it != keys.end() && it->second.size() > 1) {
        columns.params.push_back(key);
        break;
      }
  }
  // Rows of several numerics versions: each row says its own, even where one method has only one.
  if (mixes_numerics(report) && !contains(columns.params, "eval.numerics")) columns.params.push_back("eval.numerics");
  columns.show_method = true;
  return columns;
}

ReportInput load_report_input(Database& db, const std::string& campaign, const std::string& metric) {
  ReportInput input;
  input.report = campaign_report(db, campaign, metric);
  input.values = campaign_sample_values(db, campaign, metric);
  if (metric != "kept") input.kept = campaign_sample_values(db, campaign, "kept");
  return input;
}

ReportTable build_report_table(const ReportInput& input, const ReportOptions& options) {
  const CampaignReport& report = input.report;
  if (const std::string error = scale_error(options.scale); !error.empty()) CKV_FAIL("{}", error);
  CKV_CHECK(options.ci_level > 0 && options.ci_level < 1, "the CI level must be in (0, 1) (got {})", options.ci_level);
  ReportTable table;
  table.campaign = report.campaign;
  table.metric = report.metric;
  table.numerics = report.numerics;
  table.tasks = report.tasks;
  table.task_samples = report.task_samples;
  table.show_ci = options.ci;
  table.show_sd = options.sd;
  table.scale = options.scale;
  table.ci_level = options.ci_level;
  if (const MetricInfo* info = find_metric(report.metric)) {
    table.has_direction = true;
    table.direction = std::string(direction_words(info->direction));
  }

  // Replicates: rows equal but for the replicate axes form one group. An axis that never puts two
  // rows together (it varies with another parameter) stays a column.
  ReportColumns columns = varying_columns(report, options.replicate_axes);
  std::vector<std::string> sort_keys = columns.params;
  for (const auto& axis : options.replicate_axes) sort_keys.push_back(axis);
  std::vector<Group> groups;
  {
    std::map<std::string, size_t> group_of;
    for (const ReportRow* row : sorted_rows(report, sort_keys)) {
      auto params = flat_parameters(row->configuration);
      json key = json::object();
      json replicate = json::object();
      for (const auto& [k, v] : params) {
        if (contains(options.replicate_axes, k)) replicate[k] = v;
        else key[k] = v;
      }
      const std::string id = row->configuration.method + "\n" + canonical_json(key);
      auto [it, fresh] = group_of.emplace(id, groups.size());
      if (fresh) groups.push_back(Group{{}, params, {}});
      groups[it->second].members.push_back(row);
      groups[it->second].replicate_values.push_back(replicate);
    }
  }
  size_t largest = 0;
  for (const auto& g : groups) largest = std::max(largest, g.members.size());
  if (largest < 2) {
    columns = varying_columns(report);
    groups.clear();
    for (const ReportRow* row : sorted_rows(report, columns.params))
      groups.push_back(Group{{row}, flat_parameters(row->configuration), {json::object()}});
  } else {
    table.max_replicates = int(largest);
    std::set<std::string> used;
    for (const auto& g : groups)
      if (g.members.size() > 1)
        for (const auto& [k, v] : g.replicate_values.front().items()) used.insert(k);
    for (const auto& axis : options.replicate_axes)
      if (used.count(axis)) table.replicate_axes.push_back(axis);
  }

  // Per-sample values by configuration hash.
  std::map<std::string, std::vector<const SampleValue*>> values_of, kept_of;
  for (const auto& v : input.values) values_of[v.configuration].push_back(&v);
  for (const auto& v : input.kept) kept_of[v.configuration].push_back(&v);
  bool any_budget = false;
  for (const auto& g : groups) any_budget = any_budget || nominal_budget(g.params, 0).has_value() ||
                                            g.params.count("compression_ratio");
  const bool show_kept = !input.kept.empty() && any_budget;

  // Columns.
  if (columns.show_method) table.columns.push_back({"method", ColumnKind::method});
  for (const auto& p : columns.params) table.columns.push_back({p, ColumnKind::parameter});
  if (show_kept) table.columns.push_back({"kept", ColumnKind::kept});
  for (const auto& t : report.tasks) table.columns.push_back({t, ColumnKind::task});
  table.columns.push_back({"avg", ColumnKind::average});
  table.columns.push_back({"cat avg", ColumnKind::category});

  // Fixed parameters: per method, those that are not columns (nor averaged replicate axes).
  {
    std::vector<std::string> methods;
    std::map<std::string, std::map<std::string, std::set<std::string>>> seen;  // method -> key -> values
    std::map<std::string, std::map<std::string, json>> one;
    std::vector<std::string> order;
    for (const auto& g : groups)
      for (const ReportRow* row : g.members) {
        const std::string& m = row->configuration.method;
        if (!contains(methods, m)) methods.push_back(m);
        for (const auto& [k, v] : flat_parameters(row->configuration)) {
          if (k == "eval.numerics" || contains(columns.params, k) || contains(table.replicate_axes, k)) continue;
          if (!contains(order, k)) order.push_back(k);
          seen[m][k].insert(canonical_json(v));
          one[m][k] = v;
        }
      }
    std::vector<std::string> common;
    if (methods.size() > 1)
      for (const auto& k : order) {
        bool same = true;
        for (const auto& m : methods)
          same = same && seen[m].count(k) && seen[m][k].size() == 1 &&
                 canonical_json(one[m][k]) == canonical_json(one[methods[0]][k]);
        if (same) common.push_back(k);
      }
    auto text = [&](const std::string& m, const std::string& k) { return k + " = " + parameter_text(one[m][k]); };
    if (!common.empty()) {
      std::vector<std::string> items;
      items.reserve(common.size());
      for (const auto& k : common) items.push_back(text(methods[0], k));
      table.fixed.emplace_back("", items);
    }
    for (const auto& m : methods) {
      std::vector<std::string> items;
      for (const auto& k : order)
        if (!contains(common, k) && seen[m].count(k) && seen[m][k].size() == 1) items.push_back(text(m, k));
      if (!items.empty()) table.fixed.emplace_back(m, items);
    }
  }

  const double scale = options.scale;
  auto scaled = [&](std::optional<double> v) -> std::optional<double> {
    if (v) return *v * scale;
    return std::nullopt;
  };
  auto std_of = [](const std::vector<double>& v) -> std::optional<double> {
    if (v.size() < 2) return std::nullopt;
    return stats::sample_std(v);
  };

  bool any_over = false, any_short = false;
  for (const Group& g : groups) {
    ReportTableRow row;
    const ReportRow& first = *g.members.front();
    for (const ReportRow* m : g.members) row.configurations.push_back(m->configuration.hash);
    if (g.members.size() > 1) row.replicate_values = g.replicate_values;
    row.numerics = first.configuration.numerics;
    const int replicates = int(g.members.size());

    // Per sample (of every task), the value averaged over the replicates that have it.
    std::map<std::string, std::map<int64_t, std::pair<double, int>>> per_sample;  // task -> sample -> (sum, k)
    for (const ReportRow* m : g.members)
      if (auto it = values_of.find(m->configuration.hash); it != values_of.end())
        for (const SampleValue* v : it->second)
          if (v->value) {
            auto& acc = per_sample[v->task][v->sample_id];
            acc.first += *v->value;
            acc.second += 1;
          }
    auto sample_means = [&](const std::string& task) {
      std::vector<double> out;
      if (auto it = per_sample.find(task); it != per_sample.end())
        for (const auto& [id, acc] : it->second) out.push_back(acc.first / acc.second);
      return out;
    };

    auto number_cell = [&](const std::vector<std::optional<double>>& per_replicate) {
      ReportCell cell;
      std::vector<double> present;
      for (const auto& v : per_replicate)
        if (v) present.push_back(*v);
      cell.replicates = replicates;
      if (!present.empty()) cell.value = scaled(stats::mean(present));
      if (replicates > 1) {
        if (auto s = std_of(present)) cell.replicate_std = *s * scale;
      }
      return cell;
    };

    for (const ReportColumn& column : table.columns) {
      ReportCell cell;
      switch (column.kind) {
        case ColumnKind::method:
          cell.text = first.configuration.method;
          cell.raw = first.configuration.method;
          break;
        case ColumnKind::parameter: {
          auto it = g.params.find(column.name);
          cell.raw = it == g.params.end() ? json(nullptr) : it->second;
          cell.text = it == g.params.end() ? "-" : parameter_text(cell.raw);
          break;
        }
        case ColumnKind::kept: {
          std::vector<double> kept;
          std::set<int64_t> over, short_samples, all;
          for (const ReportRow* m : g.members) {
            auto it = kept_of.find(m->configuration.hash);
            if (it == kept_of.end()) continue;
            const auto params = flat_parameters(m->configuration);
            for (const SampleValue* v : it->second) {
              if (!v->value) continue;
              kept.push_back(*v->value);
              const auto budget = nominal_budget(params, v->n_tokens);
              if (!budget) continue;
              all.insert(v->sample_id);
              if (double(v->n_tokens) <= *budget) short_samples.insert(v->sample_id);
              else if (*v->value > *budget + 1e-6) over.insert(v->sample_id);
            }
          }
          if (!kept.empty()) cell.value = stats::mean(kept);
          row.over_budget_samples = int64_t(over.size());
          row.short_samples = int64_t(short_samples.size());
          row.budget_samples = int64_t(all.size());
          if (!over.empty()) {
            cell.marks.push_back(kOverMark);
            any_over = true;
          }
          if (!short_samples.empty()) {
            cell.marks.push_back(kShortMark);
            cell.mark_note = fmt::format("{}/{}", short_samples.size(), all.size());
            any_short = true;
          }
          break;
        }
        case ColumnKind::task: {
          std::vector<std::optional<double>> means;
          int64_t fewest = -1;
          for (const ReportRow* m : g.members) {
            auto it = m->tasks.find(column.name);
            means.push_back(it == m->tasks.end() ? std::nullopt : it->second.mean);
            const int64_t count = it == m->tasks.end() ? 0 : it->second.count;
            fewest = fewest < 0 ? count : std::min(fewest, count);
          }
          cell = number_cell(means);
          const int64_t samples = report.task_samples.count(column.name) ? report.task_samples.at(column.name) : fewest;
          row.samples[column.name] = fewest;
          if (cell.value && fewest < samples) cell.coverage = fmt::format("{}/{}", fewest, samples);
          const std::vector<double> values = sample_means(column.name);
          if (options.sd)
            if (auto s = std_of(values)) cell.sample_std = *s * scale;
          if (options.ci && values.size() >= 2) {
            const stats::Interval ci = stats::bootstrap_mean_ci(values, {}, options.ci_level);
            cell.ci = stats::Interval{ci.lo * scale, ci.hi * scale};
          }
          break;
        }
        case ColumnKind::average:
        case ColumnKind::category: {
          const bool average = column.kind == ColumnKind::average;
          std::vector<std::optional<double>> means;
          int fewest = -1;
          for (const ReportRow* m : g.members) {
            means.push_back(average ? m->task_mean : m->category_mean);
            fewest = fewest < 0 ? m->tasks_counted : std::min(fewest, m->tasks_counted);
          }
          cell = number_cell(means);
          row.tasks_covered = fewest;
          if (cell.value && size_t(fewest) < report.tasks.size())
            cell.coverage = fmt::format("{}/{} tasks", fewest, report.tasks.size());
          if (average) {
            // Every sample of every task, stratified by task: the bootstrap's statistic, the mean
            // of the task means, is this column's value (stats::stratified_mean).
            std::vector<double> values;
            std::vector<int> strata;
            for (size_t t = 0; t < report.tasks.size(); ++t)
              for (double v : sample_means(report.tasks[t])) {
                values.push_back(v);
                strata.push_back(int(t));
              }
            if (options.sd)
              if (auto s = std_of(values)) cell.sample_std = *s * scale;
            if (options.ci && values.size() >= 2) {
              const stats::Interval ci = stats::bootstrap_mean_ci(values, strata, options.ci_level);
              cell.ci = stats::Interval{ci.lo * scale, ci.hi * scale};
            }
          }
          break;
        }
      }
      table.partial = table.partial || !cell.coverage.empty();
      row.cells.push_back(std::move(cell));
    }
    table.rows.push_back(std::move(row));
  }

  // Best per number column by the metric's direction (ties: every equal value), when two rows
  // or more have a value. kept is a count, not a score. A method without a budget (full) is the
  // reference, not a contender: it is left out when there are others.
  std::vector<bool> contender(groups.size(), true);
  size_t contenders = 0;
  for (size_t r = 0; r < groups.size(); ++r) {
    contender[r] = nominal_budget(groups[r].params, 0).has_value();
    contenders += contender[r];
  }
  if (contenders == 0) contender.assign(groups.size(), true);
  table.reference_rows = contenders > 0 && contenders < groups.size();
  if (const MetricInfo* info = find_metric(report.metric))
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ColumnKind kind = table.columns[c].kind;
      if (kind != ColumnKind::task && kind != ColumnKind::average && kind != ColumnKind::category) continue;
      // Compared as shown (rounded to the precision): values that print the same tie.
      auto shown = [&](double v) { return std::stod(fmt::format("{:.{}f}", v, options.precision)); };
      std::optional<double> best;
      int present = 0;
      for (size_t r = 0; r < table.rows.size(); ++r)
        if (const auto& v = table.rows[r].cells[c].value; v && contender[r]) {
          ++present;
          // Scaling by a positive factor keeps the order.
          if (!best || better(*info, shown(*v), *best)) best = shown(*v);
        }
      if (present < 2) continue;
      for (size_t r = 0; r < table.rows.size(); ++r)
        if (auto& cell = table.rows[r].cells[c]; contender[r] && cell.value && !better(*info, *best, shown(*cell.value)))
          cell.best = true;
    }

  if (any_over)
    table.footnotes.push_back(
        {kOverMark,
         "the configuration keeps more than its budget on some samples longer than the budget (kept is the mean "
         "over the evaluated layers and heads): budget_mode = \"pyramid\" gives the lower layers more than B (PyramidKV), "
         "and the evaluated layers need not average to B; under compression_ratio, a budget below sink_size + window "
         "is raised to it"});
  if (any_short)
    table.footnotes.push_back(
        {kShortMark,
         "k/N: k of the row's N samples are no longer than the budget (n <= B): nothing is evicted from them (kept = "
         "n), and they are in the means"});
  if (table.partial) table.notes.push_back(coverage_note(report.campaign));
  if (const std::string note = numerics_note(report); !note.empty()) table.notes.push_back(note);
  return table;
}

std::string ReportTable::caption() const {
  std::vector<std::string> parts{"mean over samples"};
  if (max_replicates > 1) {
    // "mean ± std over 3 seeds": the replicate axes in words.
    std::vector<std::string> axes;
    for (const auto& a : replicate_axes) axes.push_back(a == "seed" ? "seeds" : a + " values");
    parts.push_back(fmt::format("± = std over {} {}, each row the mean of its replicates", max_replicates,
                                fmt::join(axes, " × ")));
  }
  if (show_sd) parts.push_back(max_replicates > 1 ? "sd = std over samples (avg: all tasks' samples pooled)"
                                                  : "± = std over samples (avg: all tasks' samples pooled)");
  if (show_ci)
    parts.push_back(fmt::format("[lo, hi] = {:g} % percentile-bootstrap CI over samples (avg: stratified by task)",
                                ci_level * 100));
  if (has_direction)
    parts.push_back(direction + (reference_rows ? ", bold = best per column (full cache aside)" : ", bold = best per column"));
  parts.push_back("avg = mean of task means, cat avg = mean of category means");
  parts.push_back(numerics_list(numerics));
  return fmt::format("{}", fmt::join(parts, "; "));
}

std::string ReportTable::fixed_text() const {
  std::vector<std::string> parts;
  for (const auto& [scope, items] : fixed)
    parts.push_back((scope.empty() ? std::string("all methods") : scope) + ": " + fmt::format("{}", fmt::join(items, ", ")));
  return fmt::format("{}", fmt::join(parts, "; "));
}

namespace {

std::string number_text(double v, int precision) { return fmt::format("{:.{}f}", v, precision); }

struct Style {
  std::string bold_open, bold_close, pm, dagger, ddagger;
};

// A number cell as text: value (bold when best), ± replicate std, sd / ± sample std, [CI],
// (coverage), marks.
std::string cell_text(const ReportTable& table, const ReportColumn& column, const ReportCell& cell, int precision,
                      const Style& style) {
  if (column.label()) return cell.text;
  if (!cell.value) return "-";
  const int p = column.kind == ColumnKind::kept ? 1 : precision;
  std::string s = number_text(*cell.value, p);
  if (cell.best) s = style.bold_open + s + style.bold_close;
  if (cell.replicate_std) s += " " + style.pm + " " + number_text(*cell.replicate_std, p);
  if (cell.sample_std)
    s += table.max_replicates > 1 ? " (sd " + number_text(*cell.sample_std, p) + ")"
                                  : " " + style.pm + " " + number_text(*cell.sample_std, p);
  if (cell.ci) s += " [" + number_text(cell.ci->lo, p) + ", " + number_text(cell.ci->hi, p) + "]";
  if (!cell.coverage.empty()) s += " (" + cell.coverage + ")";
  for (const auto& mark : cell.marks) {
    s += " " + (mark == kOverMark ? style.dagger : mark == kShortMark ? style.ddagger
                                                                      : mark);
    if (mark == kShortMark && !cell.mark_note.empty()) s += cell.mark_note;
  }
  return s;
}

std::string latex_escape_specials(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

bool is_number_column(const ReportColumn& c) { return !c.label(); }

std::string render_json(const ReportTable& table) {
  json rows = json::array();
  for (const auto& row : table.rows) {
    json out = json::object();
    out["configuration"] = row.configurations.front();
    if (row.configurations.size() > 1) {
      out["configurations"] = row.configurations;
      out["replicates"] = row.replicate_values;
    }
    json spread = json::object();
    json best = json::array();
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ReportColumn& column = table.columns[c];
      const ReportCell& cell = row.cells[c];
      if (column.label()) {
        out[column.name] = column.kind == ColumnKind::method ? json(cell.text) : cell.raw;
        continue;
      }
      out[column.name] = cell.value ? json(*cell.value) : json(nullptr);
      json s = json::object();
      if (cell.sample_std) s["sd"] = *cell.sample_std;
      if (cell.ci) s["ci"] = json::array({cell.ci->lo, cell.ci->hi});
      if (cell.replicate_std) s["sd_replicates"] = *cell.replicate_std;
      if (!s.empty()) spread[column.name] = s;
      if (cell.best) best.push_back(column.name);
    }
    if (!spread.empty()) out["spread"] = spread;
    if (!best.empty()) out["best"] = best;
    if (row.budget_samples > 0) {
      out["over_budget_samples"] = row.over_budget_samples;
      out["short_samples"] = row.short_samples;
    }
    // How many samples each task's mean covers, and how many tasks the averages cover.
    out["samples"] = row.samples;
    out["tasks_covered"] = row.tasks_covered;
    out["numerics"] = row.numerics;
    rows.push_back(out);
  }
  json fixed = json::object();
  for (const auto& [scope, items] : table.fixed) fixed[scope.empty() ? "all" : scope] = items;
  json footnotes = json::object();
  for (const auto& f : table.footnotes) footnotes[f.mark] = f.text;
  json out{{"campaign", table.campaign},
           {"metric", table.metric},
           {"numerics", table.numerics},
           {"task_samples", table.task_samples},
           {"caption", table.caption()},
           {"fixed", fixed},
           {"rows", rows}};
  if (table.has_direction) out["direction"] = table.direction;
  if (!table.replicate_axes.empty()) out["replicate_axes"] = table.replicate_axes;
  if (table.show_ci) out["ci_level"] = table.ci_level;
  if (!table.footnotes.empty()) out["footnotes"] = footnotes;
  return out.dump(2) + "\n";
}

std::string render_csv(const ReportTable& table, int precision) {
  // The values, then each spread as columns of its own ("sd:TASK", "ci_lo:TASK", "ci_hi:TASK",
  // "sd_replicates:TASK", ...), then per task the samples its mean covers ("n:TASK"), "n:tasks"
  // for the averages and the numerics; the campaign's sample counts are the header of `query`.
  const bool replicates = table.max_replicates > 1;
  const bool kept = std::any_of(table.columns.begin(), table.columns.end(),
                                [](const ReportColumn& c) { return c.kind == ColumnKind::kept; });
  std::vector<std::string> header;
  for (const auto& c : table.columns) header.push_back(c.name);
  std::vector<size_t> spread_columns;
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (is_number_column(table.columns[c]) && table.columns[c].kind != ColumnKind::kept) spread_columns.push_back(c);
  for (size_t c : spread_columns) {
    if (table.show_sd) header.push_back("sd:" + table.columns[c].name);
    if (table.show_ci) {
      header.push_back("ci_lo:" + table.columns[c].name);
      header.push_back("ci_hi:" + table.columns[c].name);
    }
    if (replicates) header.push_back("sd_replicates:" + table.columns[c].name);
  }
  if (replicates) header.push_back("replicates");
  if (kept) {
    header.push_back("over_budget_samples");
    header.push_back("short_samples");
  }
  for (const auto& t : table.tasks) header.push_back("n:" + t);
  header.push_back("n:tasks");
  header.push_back("numerics");
  std::string out;
  for (size_t i = 0; i < header.size(); ++i) out += (i ? "," : "") + csv_quote(header[i]);
  out += "\n";
  auto num = [&](std::optional<double> v) { return v ? fmt::format("{:.{}f}", *v, precision) : std::string(); };
  for (const auto& row : table.rows) {
    std::vector<std::string> fields;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ReportCell& cell = row.cells[c];
      if (table.columns[c].label()) fields.push_back(cell.text);
      else fields.push_back(cell.value ? number_text(*cell.value, table.columns[c].kind == ColumnKind::kept ? 1 : precision)
                                       : std::string());
    }
    for (size_t c : spread_columns) {
      const ReportCell& cell = row.cells[c];
      if (table.show_sd) fields.push_back(num(cell.sample_std));
      if (table.show_ci) {
        fields.push_back(cell.ci ? num(cell.ci->lo) : "");
        fields.push_back(cell.ci ? num(cell.ci->hi) : "");
      }
      if (replicates) fields.push_back(num(cell.replicate_std));
    }
    if (replicates) fields.push_back(std::to_string(row.configurations.size()));
    if (kept) {
      fields.push_back(std::to_string(row.over_budget_samples));
      fields.push_back(std::to_string(row.short_samples));
    }
    for (const auto& t : table.tasks) fields.push_back(std::to_string(row.samples.count(t) ? row.samples.at(t) : 0));
    fields.push_back(std::to_string(row.tasks_covered));
    fields.push_back(std::to_string(row.numerics));
    for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_quote(fields[i]);
    out += "\n";
  }
  return out;
}

std::string render_latex(const ReportTable& table, int precision) {
  const Style style{"\\textbf{", "}", "$\\pm$", "$^\\dagger$", "$^\\ddagger$"};
  std::string out;
  out += "% " + latex_escape_specials(table.campaign) + " -- " + latex_escape_specials(table.metric) + " (" + latex_escape_specials(table.caption()) +
         ")\n";
  if (!table.fixed.empty()) out += "% Fixed: " + latex_escape_specials(table.fixed_text()) + "\n";
  std::string spec;
  for (const auto& c : table.columns) spec += c.label() ? 'l' : 'r';
  out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
  for (size_t c = 0; c < table.columns.size(); ++c) out += (c ? " & " : "") + latex_escape_specials(table.columns[c].name);
  out += " \\\\\n\\midrule\n";
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      std::string text = cell_text(table, table.columns[c], row.cells[c], precision, style);
      // Escape what is not our own markup: labels, coverage and notes carry no LaTeX.
      out += (c ? " & " : "") + (table.columns[c].label() ? latex_escape_specials(text) : text);
    }
    out += " \\\\\n";
  }
  out += "\\bottomrule\n";
  for (const auto& f : table.footnotes)
    out += fmt::format("\\multicolumn{{{}}}{{l}}{{\\footnotesize {} {}}} \\\\\n", table.columns.size(),
                       f.mark == kOverMark ? style.dagger : style.ddagger, latex_escape_specials(f.text));
  out += "\\end{tabular}\n";
  out += "% " + numerics_list(table.numerics) + "\n";
  for (const auto& note : table.notes) out += "% " + note + "\n";
  return out;
}

std::string render_markdown(const ReportTable& table, int precision) {
  const Style style{"**", "**", "±", kOverMark, kShortMark};
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : table.rows) {
    std::vector<std::string> line;
    for (size_t c = 0; c < table.columns.size(); ++c)
      line.push_back(cell_text(table, table.columns[c], row.cells[c], precision, style));
    cells.push_back(std::move(line));
  }
  // Widths in code points, so that ±, † and ‡ do not push the columns apart.
  auto width_of = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> width(table.columns.size());
  for (size_t c = 0; c < width.size(); ++c) width[c] = width_of(table.columns[c].name);
  for (const auto& line : cells)
    for (size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], width_of(line[c]));
  auto line = [&](const std::vector<std::string>& items) {
    std::string s = "|";
    for (size_t c = 0; c < items.size(); ++c) {
      const std::string pad(width[c] - width_of(items[c]), ' ');
      s += table.columns[c].label() ? " " + items[c] + pad + " |" : " " + pad + items[c] + " |";
    }
    return s + "\n";
  };
  std::string out = fmt::format("**{}** — {} ({})\n\n", table.campaign, table.metric, table.caption());
  std::vector<std::string> header;
  for (const auto& c : table.columns) header.push_back(c.name);
  out += line(header);
  std::string rule = "|";
  for (size_t c = 0; c < width.size(); ++c)
    rule += table.columns[c].label() ? std::string(width[c] + 2, '-') + "|" : std::string(width[c] + 1, '-') + ":|";
  out += rule + "\n";
  for (const auto& l : cells) out += line(l);
  if (!table.fixed.empty()) out += "\nFixed: " + table.fixed_text() + ".\n";
  for (const auto& f : table.footnotes) out += "\n" + f.mark + " " + f.text + ".\n";
  for (const auto& note : table.notes) out += "\n" + note + "\n";
  return out;
}

// An HTML fragment (a <table> with its caption, the fixed parameters, footnotes and notes) for
// the campaign page (report/html_report.hpp); every text escaped, labels come from user files.
std::string render_html(const ReportTable& table, int precision) {
  using html::escape;
  std::string out = "<table class=\"report\">\n<caption>" +
                    escape(fmt::format("{} — {} ({})", table.campaign, table.metric, table.caption())) +
                    "</caption>\n<thead><tr>";
  for (const auto& column : table.columns)
    out += fmt::format("<th{}>{}</th>", column.label() ? " class=\"label\"" : "", escape(column.name));
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    out += fmt::format("<tr title=\"configuration{} {}\">", row.configurations.size() > 1 ? "s" : "",
                       escape(fmt::format("{}", fmt::join(row.configurations, ", "))));
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ReportColumn& column = table.columns[c];
      const ReportCell& cell = row.cells[c];
      if (column.label()) {
        out += "<td class=\"label\">" + escape(cell.text) + "</td>";
        continue;
      }
      out += "<td>";
      if (!cell.value) {
        out += "-</td>";
        continue;
      }
      const int p = column.kind == ColumnKind::kept ? 1 : precision;
      const std::string value = number_text(*cell.value, p);
      out += cell.best ? "<strong>" + value + "</strong>" : value;
      if (cell.replicate_std) out += " ± " + number_text(*cell.replicate_std, p);
      if (cell.sample_std)
        out += table.max_replicates > 1 ? " <span class=\"spread\">(sd " + number_text(*cell.sample_std, p) + ")</span>"
                                        : " ± " + number_text(*cell.sample_std, p);
      if (cell.ci)
        out += " <span class=\"spread\">[" + number_text(cell.ci->lo, p) + ", " + number_text(cell.ci->hi, p) + "]</span>";
      if (!cell.coverage.empty()) out += " <span class=\"coverage\">(" + escape(cell.coverage) + ")</span>";
      for (const auto& mark : cell.marks)
        out += " <sup>" + escape(mark) + (mark == kShortMark ? escape(cell.mark_note) : std::string()) + "</sup>";
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (!table.fixed.empty()) out += "<p class=\"note\">Fixed: " + escape(table.fixed_text()) + ".</p>\n";
  for (const auto& f : table.footnotes) out += "<p class=\"note\">" + escape(f.mark + " " + f.text) + ".</p>\n";
  for (const auto& note : table.notes) out += "<p class=\"note\">" + escape(note) + "</p>\n";
  return out;
}

}  // namespace

std::string render_table(const ReportTable& table, const std::string& format, int precision) {
  if (format == "json") return render_json(table);
  if (format == "csv") return render_csv(table, precision);
  if (format == "latex") return render_latex(table, precision);
  if (format == "html") return render_html(table, precision);
  CKV_CHECK(format == "markdown", "report format must be markdown, csv, json, latex or html (got '{}')", format);
  return render_markdown(table, precision);
}

std::string render_report(const ReportInput& input, const ReportOptions& options) {
  return render_table(build_report_table(input, options), options.format, options.precision);
}

std::string render_report(const CampaignReport& report, const ReportOptions& options) {
  ReportInput input;
  input.report = report;
  return render_report(input, options);
}

}  // namespace ckv
