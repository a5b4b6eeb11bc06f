// Plots of a metric against a swept parameter, one panel per task plus the task mean
// (docs/spec/MISSION.md R10), from the same table model as the report (report_table.hpp): the
// values, their spread (error bars when the table has a CI, a std over samples or replicates),
// best-of-column aside. Writes the data (<out>.dat) and the gnuplot script (<out>.gp) beside the
// image and runs gnuplot (Debian's gnuplot-nox); fails with a clear message when gnuplot is missing.
//
// For a paper: one legend, below the panels and never over data; each series its own dash type
// and point type (readable in grey print), colour on top; the x axis logarithmic when the
// parameter spans more than 10× (base 2 for budgets, with the swept values as tick marks); the
// metric's full-cache value (MetricInfo::full_cache) as a dashed horizontal reference line.
// The output's extension picks the terminal: .png (pngcairo), .svg (svg), .pdf (pdfcairo).
#pragma once
#include <string>
#include <vector>

#include "report/report_table.hpp"

namespace ckv {

// How the plot draws one axis: what write_plot decides before it writes the script (tested).
struct PlotAxis {
  bool log = false;
  int base = 10;              // 2 for budgets
  std::vector<double> ticks;  // the swept values, when few enough to label each
};

// x values of a parameter: log when max/min > 10 (all > 0); base 2 for `budget`.
PlotAxis plot_axis(const std::string& param, const std::vector<double>& xs);

// "pngcairo", "svg" or "pdfcairo" for the extension of `out_path`; throws for another extension.
std::string plot_terminal(const std::string& out_path);

void write_plot(const ReportTable& table, const std::string& param, const std::string& out_path);

}  // namespace ckv
