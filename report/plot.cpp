#include "report/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "report/metric_info.hpp"

namespace ckv {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A gnuplot single-quoted string: a quote is written twice.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A tick label: 512, 10k, 5M, 0.25.
std::string tick_text(double x) {
  if (x == std::floor(x) && std::fabs(x) >= 10000) {
    if (std::fmod(x, 1e6) == 0) return fmt::format("{}M", x / 1e6);
    if (std::fmod(x, 1e3) == 0) return fmt::format("{}k", x / 1e3);
  }
  return fmt::format("{:g}", x);
}

// Okabe-Ito colours (distinct for colour-blind readers); dash and point types carry the series
// in grey print.
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933"};
const int kPointTypes[] = {7, 5, 9, 11, 13, 4, 6, 8, 10, 12, 14, 1, 2, 3};

}  // namespace

PlotAxis plot_axis(const std::string& param, const std::vector<double>& xs) {
  PlotAxis axis;
  std::set<double> distinct(xs.begin(), xs.end());
  if (distinct.empty()) return axis;
  const double lo = *distinct.begin(), hi = *distinct.rbegin();
  axis.log = lo > 0 && hi / lo > 10;
  const bool budget = param == "budget" || ends_with(param, ".budget");
  axis.base = axis.log && budget ? 2 : 10;
  if (distinct.size() <= 10) axis.ticks.assign(distinct.begin(), distinct.end());
  return axis;
}

std::string plot_terminal(const std::string& out_path) {
  if (ends_with(out_path, ".png")) return "pngcairo";
  if (ends_with(out_path, ".svg")) return "svg";
  if (ends_with(out_path, ".pdf")) return "pdfcairo";
  CKV_FAIL("{}: a plot is written as .png, .svg or .pdf (the extension picks the format)", out_path);
}

void write_plot(const ReportTable& table, const std::string& param, const std::string& out_path) {
  const std::string terminal = plot_terminal(out_path);
  std::vector<std::string> varying;
  size_t x_column = table.columns.size();
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (table.columns[c].kind == ColumnKind::parameter) {
      varying.push_back(table.columns[c].name);
      if (table.columns[c].name == param) x_column = c;
    }
  CKV_CHECK(x_column < table.columns.size(), "--plot {}: not a parameter that varies in campaign '{}' (varying: {})",
            param, table.campaign, varying.empty() ? std::string("none") : fmt::format("{}", fmt::join(varying, ", ")));

  // A series is a method plus the other varying parameters; x is the plotted parameter.
  std::vector<std::string> labels;
  std::map<std::string, std::map<double, const ReportTableRow*>> series;
  std::vector<double> xs;
  for (const auto& row : table.rows) {
    const json& x = row.cells[x_column].raw;
    if (!x.is_number()) continue;
    std::string label;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ReportColumn& column = table.columns[c];
      if (column.kind == ColumnKind::method) label = row.cells[c].text;
      else if (column.kind == ColumnKind::parameter && c != x_column && !row.cells[c].raw.is_null())
        label += fmt::format(" {}={}", column.name, row.cells[c].text);
    }
    if (!series.count(label)) labels.push_back(label);
    series[label][x.get<double>()] = &row;
    xs.push_back(x.get<double>());
  }
  CKV_CHECK(!series.empty(), "--plot {}: the parameter has no numeric values in campaign '{}'", param, table.campaign);
  const PlotAxis axis = plot_axis(param, xs);

  // Which spread the error bars show: the CI, else the std across replicates, else over samples.
  enum class Bars { none,
                    ci,
                    replicates,
                    samples } bars = Bars::none;
  if (table.show_ci) bars = Bars::ci;
  else if (table.max_replicates > 1) bars = Bars::replicates;
  else if (table.show_sd) bars = Bars::samples;

  struct Panel {
    std::string title;
    size_t column;
  };
  std::vector<Panel> panels;
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (table.columns[c].kind == ColumnKind::task || table.columns[c].kind == ColumnKind::average)
      panels.push_back({table.columns[c].name, c});

  const std::string data_path = out_path + ".dat";
  std::ofstream data(data_path);
  CKV_CHECK(data, "{}: cannot write", data_path);
  // One gnuplot data block per (panel, series), separated by two blank lines (index i):
  // x, y, and the error bar's low and high ends (y, y without a spread).
  int index = 0;
  std::map<std::pair<size_t, std::string>, int> block;
  for (size_t p = 0; p < panels.size(); ++p)
    for (const auto& label : labels) {
      data << "# " << panels[p].title << " | " << label << "\n";
      for (const auto& [x, row] : series[label]) {
        const ReportCell& cell = row->cells[panels[p].column];
        if (!cell.value) continue;
        double lo = *cell.value, hi = *cell.value;
        if (bars == Bars::ci && cell.ci) {
          lo = cell.ci->lo;
          hi = cell.ci->hi;
        } else if (bars == Bars::replicates && cell.replicate_std) {
          lo -= *cell.replicate_std;
          hi += *cell.replicate_std;
        } else if (bars == Bars::samples && cell.sample_std) {
          lo -= *cell.sample_std;
          hi += *cell.sample_std;
        }
        data << fmt::format("{} {} {} {}\n", x, *cell.value, lo, hi);
      }
      data << "\n\n";
      block[{p, label}] = index++;
    }
  data.close();

  const MetricInfo* info = find_metric(table.metric);
  std::optional<double> full_cache;
  if (info && info->full_cache) full_cache = *info->full_cache * table.scale;

  // Layout: panels in a grid, the legend in a strip of its own below them, the title above.
  const int cols = panels.size() > 4 ? 4 : int(panels.size());
  const int rows = int((panels.size() + cols - 1) / cols);
  const int width = std::max(420 * cols, 640), panel_height = 320, title_height = 40;
  const int entries = int(labels.size()) + (full_cache ? 1 : 0);
  const int per_line = std::clamp(width / 300, 1, entries);
  const int legend_lines = (entries + per_line - 1) / per_line;
  const int legend_height = 24 * legend_lines + 24;
  const int height = panel_height * rows + title_height + legend_height;
  const double legend_frac = double(legend_height) / height, title_frac = double(title_height) / height;
  const double w = 1.0 / cols, h = (1.0 - legend_frac - title_frac) / rows;

  const std::string script_path = out_path + ".gp";
  std::ofstream script(script_path);
  CKV_CHECK(script, "{}: cannot write", script_path);
  // noenhanced: method and parameter names contain underscores, which gnuplot would subscript.
  if (terminal == "pdfcairo")
    script << fmt::format("set terminal pdfcairo noenhanced size {:.2f}in,{:.2f}in font ',9'\n", width / 100.0,
                          height / 100.0);
  else
    script << fmt::format("set terminal {} noenhanced size {},{}{}\n", terminal, width, height,
                          terminal == "pngcairo" ? " font ',10'" : "");
  script << "set output " << gp_quote(out_path) << "\n";
  for (size_t i = 0; i < labels.size(); ++i)
    script << fmt::format("set style line {} lc rgb '{}' dt {} pt {} lw 1.5 ps 1.1\n", i + 1,
                          kColours[i % std::size(kColours)], i % 5 + 1, kPointTypes[i % std::size(kPointTypes)]);
  script << "set style line 100 lc rgb '#555555' dt 3 lw 1.5\n";
  std::string bars_text = bars == Bars::ci           ? fmt::format("; bars: {:g} % CI over samples", table.ci_level * 100)
                          : bars == Bars::replicates ? fmt::format("; bars: ± std over {} replicates", table.max_replicates)
                          : bars == Bars::samples    ? "; bars: ± std over samples"
                                                     : "";
  std::string title = fmt::format("{}: {} vs {} (numerics {}{}{})", table.campaign, table.metric, param,
                                  fmt::join(table.numerics, ", "), table.has_direction ? "; " + table.direction : "",
                                  bars_text);
  script << "set multiplot title " << gp_quote(title) << "\n";
  // 5 % room above and below the data, so that a line at the top or bottom of the range (the
  // full-cache value, often) is not hidden in the border.
  script << "unset key\nset grid\nset xtics rotate by -30\nset offsets 0, 0, graph 0.05, graph 0.05\n";
  if (axis.log) script << fmt::format("set logscale x {}\n", axis.base);
  if (!axis.ticks.empty()) {
    std::vector<std::string> ticks;
    for (double t : axis.ticks) ticks.push_back(fmt::format("{} {}", gp_quote(tick_text(t)), t));
    script << fmt::format("set xtics ({})\n", fmt::join(ticks, ", "));
  }
  // Some room either side, so the first and last points and their bars are not on the border.
  if (!xs.empty()) {
    const double lo = *std::min_element(xs.begin(), xs.end()), hi = *std::max_element(xs.begin(), xs.end());
    if (axis.log) script << fmt::format("set xrange [{}:{}]\n", lo / std::pow(hi / lo, 0.05), hi * std::pow(hi / lo, 0.05));
    else if (hi > lo) script << fmt::format("set xrange [{}:{}]\n", lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo));
  }
  const bool with_bars = bars != Bars::none;
  for (size_t p = 0; p < panels.size(); ++p) {
    const int r = int(p) / cols, c = int(p) % cols;
    script << fmt::format("set origin {:.4f},{:.4f}\nset size {:.4f},{:.4f}\n", c * w,
                          legend_frac + (rows - 1 - r) * h, w, h);
    script << "set title " << gp_quote(panels[p].title) << "\nset xlabel " << gp_quote(param) << "\nset ylabel "
           << gp_quote(table.metric) << "\n";
    std::vector<std::string> plots;
    for (size_t i = 0; i < labels.size(); ++i)
      plots.push_back(fmt::format("{} index {} using {} with {} ls {} notitle", gp_quote(data_path), block[{p, labels[i]}],
                                  with_bars ? "1:2:3:4" : "1:2", with_bars ? "yerrorlines" : "linespoints", i + 1));
    if (full_cache) plots.push_back(fmt::format("{} with lines ls 100 notitle", *full_cache));
    script << "plot " << fmt::format("{}", fmt::join(plots, ", \\\n     ")) << "\n";
  }
  // The legend: an empty plot whose key alone is drawn, in the strip below the panels.
  script << fmt::format("set origin 0,0\nset size 1,{:.4f}\n", legend_frac)
         << "unset title\nunset xlabel\nunset ylabel\nunset grid\nunset border\nunset tics\nunset logscale x\n"
         << "set offsets 0, 0, 0, 0\nset xrange [0:1]\nset yrange [0:1]\n"
         << fmt::format("set key center center horizontal maxcols {} samplen 4 spacing 1.2 width 2\n", per_line);
  std::vector<std::string> keys;
  for (size_t i = 0; i < labels.size(); ++i)
    keys.push_back(fmt::format("NaN with linespoints ls {} title {}", i + 1, gp_quote(labels[i])));
  if (full_cache) keys.push_back(fmt::format("NaN with lines ls 100 title {}", gp_quote(fmt::format("full cache ({:g})", *full_cache))));
  script << "plot " << fmt::format("{}", fmt::join(keys, ", \\\n     ")) << "\n";
  script << "unset multiplot\n";
  script.close();
  CKV_CHECK(std::system("command -v gnuplot >/dev/null 2>&1") == 0,
            "gnuplot is not installed (apt-get install gnuplot-nox); data and script were written to {} and {}",
            data_path, script_path);
  const std::string command = fmt::format("gnuplot {}", gp_quote(script_path));
  CKV_CHECK(std::system(command.c_str()) == 0, "gnuplot failed on {}", script_path);
}

}  // namespace ckv
