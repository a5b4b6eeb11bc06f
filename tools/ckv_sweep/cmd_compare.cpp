// `ckv-sweep compare DB --campaign C A B --metric M`: a paired comparison of two configurations
// (report/paired_comparison.hpp, docs/analysis.md).
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "report/paired_comparison.hpp"
#include "tools/ckv_sweep/command_io.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int compare_command(int argc, char** argv) {
  po::options_description options("compare options");
  std::string db_path, campaign, metric, format, out_path, a, b;
  int precision = 4;
  CompareOptions compare;
  options.add_options()("db", po::value(&db_path)->required(), "database file")("a", po::value(&a)->required(), "configuration A: a label \"METHOD key=value ...\" or a hash prefix")("b", po::value(&b)->required(), "configuration B, the same way")("campaign,c", po::value(&campaign), "campaign name (default: the only campaign)")("metric,m", po::value(&metric)->default_value("attn_recall"), "metric to compare (ckv-sweep metrics)")("format,f", po::value(&format)->default_value("markdown"), "markdown | csv | json | latex")("precision", po::value(&precision)->default_value(4), "decimals of the values")("resamples", po::value(&compare.resamples)->default_value(compare.resamples), "bootstrap resamples")("seed", po::value(&compare.seed)->default_value(compare.seed), "seed of the bootstrap and Monte Carlo draws")("output,o", po::value(&out_path), "write to this file instead of stdout");
  po::positional_options_description positional;
  positional.add("db", 1).add("a", 1).add("b", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep compare DB [--campaign C] A B [--metric M] [--format F]", options,
                     positional, vm))
    return kExitOk;
  usage_check(format == "markdown" || format == "csv" || format == "json" || format == "latex", "compare",
              "--format must be markdown, csv, json or latex (got '" + format + "')");
  usage_check(precision >= 0 && precision <= 17, "compare",
              fmt::format("--precision must be between 0 and 17 (got {})", precision));
  usage_check(compare.resamples >= 100 && compare.resamples <= 1000000, "compare",
              fmt::format("--resamples must be between 100 and 1000000 (got {})", compare.resamples));
  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  campaign = chosen_campaign(db, db_path, campaign);
  const std::string text =
      render_paired_comparison(compare_configurations(db, campaign, a, b, metric, compare), format, precision);
  write_text(out_path, text, "comparison");
  return kExitOk;
}

}  // namespace ckv::cli
