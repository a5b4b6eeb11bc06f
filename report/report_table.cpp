#include "report/report_table.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "kernels/numerics.hpp"
#include "report/html.hpp"
#include "report/query_table.hpp"

namespace ckv {

namespace {

// Flattened parameters of one row: params.* by name, eval.* prefixed.
std::map<std::string, json> flat_parameters(const ReportRow& row) {
  std::map<std::string, json> out;
  json doc = json::parse(row.configuration.canonical_json);
  const json params = doc.value("params", json::object());
  const json eval = doc.value("eval", json::object());
  for (const auto& [key, value] : params.items()) out[key] = value;
  for (const auto& [key, value] : eval.items()) out["eval." + key] = value;
  // A document without a numerics version was computed under the legacy one (kernels/numerics.hpp).
  out.emplace("eval.numerics", row.configuration.numerics);
  return out;
}

bool mixes_numerics(const CampaignReport& report) { return report.numerics.size() > 1; }

// "numerics 2", "numerics 1 and 2", "numerics 1, 2 and 3".
std::string numerics_list(const CampaignReport& report) {
  std::string out;
  for (size_t i = 0; i < report.numerics.size(); ++i)
    out += (i == 0 ? "" : i + 1 == report.numerics.size() ? " and " : ", ") + std::to_string(report.numerics[i]);
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
        numerics_list(report), kNumericsVersion);
  if (report.numerics.size() == 1 && report.numerics[0] != kNumericsVersion)
    return fmt::format(
        "Computed under numerics {} ({}); this build computes numerics {}: rerunning the spec computes its units anew "
        "(`ckv-sweep plan` says how many), and the rows shown here stay in the database.",
        report.numerics[0], numerics_description(report.numerics[0]) ? numerics_description(report.numerics[0]) : "?",
        kNumericsVersion);
  return "";
}

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    if (v.empty()) return "-";
    std::string s;
    for (const auto& item : v) s += (s.empty() ? "" : "+") + value_text(item);
    return s;
  }
  return v.dump();
}

struct Cell {
  std::string text;
  std::optional<double> number;
  std::string coverage;  // "3/4" (samples) or "15/16 tasks" when the mean covers fewer; "" when all
};

struct Table {
  std::vector<std::string> header;
  size_t label_columns = 0;
  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> configurations;  // hash per row
  std::vector<std::map<std::string, int64_t>> covered;  // per row: task -> samples in its mean
  std::vector<int> tasks_covered;                       // per row: tasks in its averages
  std::vector<int> numerics;                            // per row: its numerics version
  bool partial = false;  // some mean covers fewer samples (or tasks) than the campaign has
};

// Rows grouped by method (in order of first appearance), then by the varying parameters'
// values (numbers numerically), so a sweep reads top to bottom.
std::vector<const ReportRow*> sorted_rows(const CampaignReport& report, const ReportColumns& columns) {
  std::map<std::string, size_t> method_rank;
  for (const auto& row : report.rows) method_rank.emplace(row.configuration.method, method_rank.size());
  std::vector<std::pair<std::map<std::string, json>, const ReportRow*>> keyed;
  for (const auto& row : report.rows) keyed.emplace_back(flat_parameters(row), &row);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    size_t ma = method_rank[a.second->configuration.method], mb = method_rank[b.second->configuration.method];
    if (ma != mb) return ma < mb;
    for (const auto& p : columns.params) {
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
  for (const auto& k : keyed) out.push_back(k.second);
  return out;
}

Table build_table(const CampaignReport& report, const ReportOptions& options) {
  ReportColumns columns = varying_columns(report);
  Table table;
  if (columns.show_method) table.header.push_back("method");
  for (const auto& p : columns.params) table.header.push_back(p);
  table.label_columns = table.header.size();
  for (const auto& t : report.tasks) table.header.push_back(t);
  table.header.push_back("avg");
  table.header.push_back("cat avg");

  auto number = [&](std::optional<double> v) {
    Cell c;
    if (v) {
      c.number = *v * options.scale;
      c.text = fmt::format("{:.{}f}", *c.number, options.precision);
    } else {
      c.text = "-";
    }
    return c;
  };
  for (const ReportRow* row_pointer : sorted_rows(report, columns)) {
    const ReportRow& row = *row_pointer;
    std::vector<Cell> cells;
    table.configurations.push_back(row.configuration.hash);
    if (columns.show_method) cells.push_back(Cell{row.configuration.method, {}, {}});
    auto params = flat_parameters(row);
    for (const auto& p : columns.params) {
      auto it = params.find(p);
      cells.push_back(Cell{it == params.end() ? "-" : value_text(it->second), {}, {}});
    }
    std::map<std::string, int64_t> covered;
    for (const auto& t : report.tasks) {
      auto it = row.tasks.find(t);
      Cell cell = number(it == row.tasks.end() ? std::nullopt : it->second.mean);
      const int64_t count = it == row.tasks.end() ? 0 : it->second.count;
      const int64_t samples = report.task_samples.count(t) ? report.task_samples.at(t) : count;
      covered[t] = count;
      if (cell.number && count < samples) cell.coverage = fmt::format("{}/{}", count, samples);
      cells.push_back(std::move(cell));
    }
    for (std::optional<double> average : {row.task_mean, row.category_mean}) {
      Cell cell = number(average);
      if (cell.number && size_t(row.tasks_counted) < report.tasks.size())
        cell.coverage = fmt::format("{}/{} tasks", row.tasks_counted, report.tasks.size());
      cells.push_back(std::move(cell));
    }
    for (const Cell& cell : cells) table.partial = table.partial || !cell.coverage.empty();
    table.covered.push_back(std::move(covered));
    table.tasks_covered.push_back(row.tasks_counted);
    table.numerics.push_back(row.configuration.numerics);
    table.rows.push_back(std::move(cells));
  }
  return table;
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

ReportColumns varying_columns(const CampaignReport& report) {
  // A parameter is a column when it takes two values among the rows of one method: parameters
  // that merely differ between methods (each method's own defaults) would only widen the table.
  ReportColumns columns;
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // method -> key -> values
  for (const auto& row : report.rows) {
    for (const auto& [key, value] : flat_parameters(row)) {
      if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
      values[row.configuration.method][key].insert(canonical_json(value));
    }
  }
  for (const auto& key : order)
    for (const auto& [method, keys] : values)
      if (auto it = keys.find(key); it != keys.end() && it->second.size() > 1) {
        columns.params.push_back(key);
        break;
      }
  // Rows of several numerics versions: each row says its own, even where one method has only one.
  if (mixes_numerics(report) &&
      std::find(columns.params.begin(), columns.params.end(), "eval.numerics") == columns.params.end())
    columns.params.push_back("eval.numerics");
  columns.show_method = true;
  return columns;
}

namespace {

// A value with its coverage when partial: "0.8123 (3/4)".
std::string shown(const Cell& cell) { return cell.coverage.empty() ? cell.text : cell.text + " (" + cell.coverage + ")"; }

std::string coverage_note(const CampaignReport& report) {
  return fmt::format(
      "(k/n): the mean covers k of the task's n samples; the other units failed, were lost or are not done "
      "yet, or the metric is NULL for them (see `ckv-sweep status DB --failures {}`). (k/n tasks): the "
      "average covers k of the n tasks.",
      report.campaign);
}

}  // namespace

std::string render_report(const CampaignReport& report, const ReportOptions& options) {
  const Table table = build_table(report, options);
  std::string out;
  if (options.format == "json") {
    json rows = json::array();
    for (size_t r = 0; r < table.rows.size(); ++r) {
      json row = json::object();
      row["configuration"] = table.configurations[r];
      for (size_t c = 0; c < table.header.size(); ++c) {
        const Cell& cell = table.rows[r][c];
        row[table.header[c]] = c < table.label_columns ? json(cell.text)
                               : cell.number          ? json(*cell.number)
                                                      : json(nullptr);
      }
      // How many samples each task's mean covers, and how many tasks the averages cover.
      row["samples"] = table.covered[r];
      row["tasks_covered"] = table.tasks_covered[r];
      row["numerics"] = table.numerics[r];
      rows.push_back(row);
    }
    return json{{"campaign", report.campaign},
                {"metric", report.metric},
                {"numerics", report.numerics},
                {"task_samples", report.task_samples},
                {"rows", rows}}
               .dump(2) +
           "\n";
  }
  if (options.format == "csv") {
    // After the values, one column per task with the samples its mean covers ("n:TASK"), and
    // "n:tasks" for the averages; the campaign's sample counts are the header of `query`.
    for (size_t c = 0; c < table.header.size(); ++c) out += (c ? "," : "") + csv_quote(table.header[c]);
    for (const auto& t : report.tasks) out += "," + csv_quote("n:" + t);
    out += ",n:tasks,numerics\n";
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const auto& row = table.rows[r];
      for (size_t c = 0; c < row.size(); ++c)
        out += (c ? "," : "") + (row[c].number || c < table.label_columns ? csv_quote(row[c].text) : std::string());
      for (const auto& t : report.tasks) out += fmt::format(",{}", table.covered[r].at(t));
      out += fmt::format(",{},{}\n", table.tasks_covered[r], table.numerics[r]);
    }
    return out;
  }
  if (options.format == "latex") {
    out += "\\begin{tabular}{" + std::string(table.label_columns, 'l') +
           std::string(table.header.size() - table.label_columns, 'r') + "}\n\\toprule\n";
    for (size_t c = 0; c < table.header.size(); ++c)
      out += (c ? " & " : "") + latex_escape(table.header[c]);
    out += " \\\\\n\\midrule\n";
    for (const auto& row : table.rows) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? " & " : "") + latex_escape(shown(row[c]));
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
    out += "% " + numerics_list(report) + "\n";
    if (table.partial) out += "% " + coverage_note(report) + "\n";
    if (const std::string note = numerics_note(report); !note.empty()) out += "% " + note + "\n";
    return out;
  }
  if (options.format == "html") {
    // An HTML fragment (a <table> with its caption and notes) for the campaign page
    // (report/html_report.hpp); every text escaped, labels come from user files.
    out += "<table class=\"report\">\n<caption>" +
           html::escape(fmt::format("{} — {} (mean over samples; avg = mean of task means, cat avg = mean of "
                                    "category means; {})",
                                    report.campaign, report.metric, numerics_list(report))) +
           "</caption>\n<thead><tr>";
    for (size_t c = 0; c < table.header.size(); ++c)
      out += fmt::format("<th{}>{}</th>", c < table.label_columns ? " class=\"label\"" : "",
                         html::escape(table.header[c]));
    out += "</tr></thead>\n<tbody>\n";
    for (size_t r = 0; r < table.rows.size(); ++r) {
      out += fmt::format("<tr title=\"configuration {}\">", html::escape(table.configurations[r]));
      for (size_t c = 0; c < table.rows[r].size(); ++c) {
        const Cell& cell = table.rows[r][c];
        out += c < table.label_columns ? "<td class=\"label\">" : "<td>";
        out += html::escape(cell.text);
        if (!cell.coverage.empty()) out += " <span class=\"coverage\">(" + html::escape(cell.coverage) + ")</span>";
        out += "</td>";
      }
      out += "</tr>\n";
    }
    out += "</tbody>\n</table>\n";
    if (table.partial) out += "<p class=\"note\">" + html::escape(coverage_note(report)) + "</p>\n";
    if (const std::string note = numerics_note(report); !note.empty())
      out += "<p class=\"note\">" + html::escape(note) + "</p>\n";
    return out;
  }
  CKV_CHECK(options.format == "markdown", "report format must be markdown, csv, json, latex or html (got '{}')",
            options.format);
  std::vector<size_t> width(table.header.size());
  for (size_t c = 0; c < width.size(); ++c) width[c] = table.header[c].size();
  for (const auto& row : table.rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], shown(row[c]).size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t c = 0; c < cells.size(); ++c)
      s += c < table.label_columns ? fmt::format(" {:<{}} |", cells[c], width[c])
                                   : fmt::format(" {:>{}} |", cells[c], width[c]);
    return s + "\n";
  };
  out += fmt::format(
      "**{}** — {} (mean over samples; avg = mean of task means, cat avg = mean of category means; {})\n\n",
      report.campaign, report.metric, numerics_list(report));
  out += line(table.header);
  std::string rule = "|";
  for (size_t c = 0; c < width.size(); ++c)
    rule += c < table.label_columns ? std::string(width[c] + 2, '-') + "|"
                                    : std::string(width[c] + 1, '-') + ":|";
  out += rule + "\n";
  for (const auto& row : table.rows) {
    std::vector<std::string> cells;
    for (const auto& cell : row) cells.push_back(shown(cell));
    out += line(cells);
  }
  if (table.partial) out += "\n" + coverage_note(report) + "\n";
  if (const std::string note = numerics_note(report); !note.empty()) out += "\n" + note + "\n";
  return out;
}

}  // namespace ckv
