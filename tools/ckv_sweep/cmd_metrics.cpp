// `ckv-sweep metrics`: the metric registry (report/metric_info.hpp): each metric's direction in
// words, range, unit and meaning; --markdown prints the table docs/analysis.md holds.
#include <iostream>

#include <fmt/format.h>

#include "common/error.hpp"
#include "report/metric_info.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int metrics_command(int argc, char** argv) {
  po::options_description options("metrics options");
  std::string name;
  bool markdown = false;
  options.add_options()("metric", po::value(&name), "show one metric")("markdown", po::bool_switch(&markdown), "print the metric table of docs/analysis.md");
  po::positional_options_description positional;
  positional.add("metric", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep metrics [NAME] [--markdown]", options, positional, vm)) return kExitOk;
  if (markdown) {
    std::cout << metrics_markdown();
    return kExitOk;
  }
  if (!name.empty() && !find_metric(name)) {
    std::string known;
    for (const MetricInfo& m : all_metrics()) known += (known.empty() ? "" : ", ") + std::string(m.name);
    CKV_FAIL("unknown metric '{}' (known: {})", name, known);
  }
  fmt::print("{:<20} {:<17} {:<9} {:<17} {:<10} {}\n", "metric", "direction", "range", "unit", "full cache",
             "meaning");
  for (const MetricInfo& m : all_metrics()) {
    if (!name.empty() && m.name != name) continue;
    fmt::print("{:<20} {:<17} {:<9} {:<17} {:<10} {}\n", m.name, direction_words(m.direction), range_text(m),
               m.unit, m.full_cache ? fmt::format("{:g}", *m.full_cache) : "-", m.meaning);
  }
  return kExitOk;
}

}  // namespace ckv::cli
