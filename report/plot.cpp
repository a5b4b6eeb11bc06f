#include "report/plot.hpp"

#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/canonical_json.hpp"
#include "common/error.hpp"
#include "report/report_table.hpp"

namespace ckv {

void write_plot(const CampaignReport& report, const std::string& param, const std::string& out_path) {
  ReportColumns columns = varying_columns(report);
  CKV_CHECK(std::find(columns.params.begin(), columns.params.end(), param) != columns.params.end(),
            "--plot {}: not a parameter that varies in campaign '{}' (varying: {})", param, report.campaign,
            columns.params.empty() ? std::string("none") : fmt::format("{}", fmt::join(columns.params, ", ")));
  // A series is a method plus the other varying parameters; x is the plotted parameter.
  std::map<std::string, std::map<double, const ReportRow*>> series;
  for (const auto& row : report.rows) {
    json doc = json::parse(row.configuration.canonical_json);
    json params = doc.value("params", json::object());
    const json eval = doc.value("eval", json::object());
    for (const auto& [k, v] : eval.items()) params["eval." + k] = v;
    params.emplace("eval.numerics", row.configuration.numerics);  // none written: the legacy version
    if (!params.contains(param) || !params[param].is_number()) continue;
    std::string label = row.configuration.method;
    for (const auto& other : columns.params)
      if (other != param && params.contains(other)) label += fmt::format(" {}={}", other, params[other].dump());
    series[label][params[param].get<double>()] = &row;
  }
  CKV_CHECK(!series.empty(), "--plot {}: the parameter has no numeric values in campaign '{}'", param,
            report.campaign);

  std::vector<std::string> panels = report.tasks;
  panels.push_back("avg");
  const std::string data_path = out_path + ".dat";
  std::ofstream data(data_path);
  CKV_CHECK(data, "{}: cannot write", data_path);
  // One gnuplot data block per (panel, series), separated by two blank lines (index i).
  int index = 0;
  std::map<std::pair<size_t, std::string>, int> block;
  for (size_t p = 0; p < panels.size(); ++p)
    for (const auto& [label, points] : series) {
      data << "# " << panels[p] << " | " << label << "\n";
      for (const auto& [x, row] : points) {
        std::optional<double> y;
        if (panels[p] == "avg") {
          y = row->task_mean;
        } else if (auto it = row->tasks.find(panels[p]); it != row->tasks.end()) {
          y = it->second.mean;
        }
        if (y) data << fmt::format("{} {}\n", x, *y);
      }
      data << "\n\n";
      block[{p, label}] = index++;
    }
  data.close();

  const bool svg = out_path.size() > 4 && out_path.substr(out_path.size() - 4) == ".svg";
  const int cols = panels.size() > 4 ? 4 : int(panels.size());
  const int rows = int((panels.size() + cols - 1) / cols);
  const std::string script_path = out_path + ".gp";
  std::ofstream script(script_path);
  CKV_CHECK(script, "{}: cannot write", script_path);
  // noenhanced: method and parameter names contain underscores, which gnuplot would subscript.
  script << fmt::format("set terminal {} noenhanced size {},{}\n", svg ? "svg" : "pngcairo", 420 * cols,
                        320 * rows + 40)
         << fmt::format("set output '{}'\n", out_path) << "set key bottom right font ',8'\nset grid\nset xtics rotate by -30\n"
         << fmt::format("set multiplot layout {},{} title '{}: {} vs {} (numerics {})'\n", rows, cols,
                        report.campaign, report.metric, param, fmt::join(report.numerics, ", "));
  for (size_t p = 0; p < panels.size(); ++p) {
    script << fmt::format("set title '{}'\nset xlabel '{}'\nset ylabel '{}'\n", panels[p], param, report.metric);
    std::vector<std::string> plots;
    for (const auto& [label, points] : series)
      plots.push_back(fmt::format("'{}' index {} using 1:2 with linespoints title '{}'", data_path,
                                  block[{p, label}], label));
    script << "plot " << fmt::format("{}", fmt::join(plots, ", \\\n     ")) << "\n";
  }
  script << "unset multiplot\n";
  script.close();
  CKV_CHECK(std::system("command -v gnuplot >/dev/null 2>&1") == 0,
            "gnuplot is not installed (apt-get install gnuplot-nox); data and script were written to {} and {}",
            data_path, script_path);
  const std::string command = fmt::format("gnuplot '{}'", script_path);
  CKV_CHECK(std::system(command.c_str()) == 0, "gnuplot failed on {}", script_path);
}

}  // namespace ckv
