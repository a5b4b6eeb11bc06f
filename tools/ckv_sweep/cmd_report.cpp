// `ckv-sweep report DB --campaign C --metric M`: the ablation table of a campaign.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "report/plot.hpp"
#include "report/report_table.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int report_command(int argc, char** argv) {
  po::options_description options("report options");
  std::string db_path, campaign, metric = "attn_recall", out_path, plot_param, plot_path;
  ReportOptions report_options;
  options.add_options()
      ("db", po::value(&db_path)->required(), "database file")
      ("campaign,c", po::value(&campaign), "campaign name (default: the only campaign)")
      ("metric,m", po::value(&metric)->default_value("attn_recall"), "metric to tabulate")
      ("format,f", po::value(&report_options.format)->default_value("markdown"), "markdown | csv | json | latex")
      ("precision", po::value(&report_options.precision)->default_value(4), "decimals")
      ("scale", po::value(&report_options.scale)->default_value(1.0), "multiply values (100 for percent)")
      ("output,o", po::value(&out_path), "write to this file instead of stdout")
      ("plot", po::value(&plot_param), "plot the metric against this swept parameter, one panel per task")
      ("plot-output", po::value(&plot_path), "plot file (.png or .svg; default <campaign>-<metric>-<param>.png)");
  po::positional_options_description positional;
  positional.add("db", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep report DB [--campaign C] [--metric M] [--format F] [--plot PARAM]",
                     options, positional, vm))
    return kExitOk;

  usage_check(report_options.format == "markdown" || report_options.format == "csv" ||
                  report_options.format == "json" || report_options.format == "latex",
              "report", "--format must be markdown, csv, json or latex (got '" + report_options.format + "')");
  usage_check(report_options.precision >= 0 && report_options.precision <= 17, "report",
              fmt::format("--precision must be between 0 and 17 (got {})", report_options.precision));
  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  if (campaign.empty()) {
    auto names = campaign_names(db);
    CKV_CHECK(names.size() == 1, "{}: {} campaigns; choose one with --campaign ({})", db_path, names.size(),
              fmt::format("{}", fmt::join(names, ", ")));
    campaign = names[0];
  }
  CampaignReport report = campaign_report(db, campaign, metric);
  if (!plot_param.empty()) {
    if (plot_path.empty()) plot_path = fmt::format("{}-{}-{}.png", campaign, metric, plot_param);
    write_plot(report, plot_param, plot_path);
    fmt::print(stderr, "plot written to {}\n", plot_path);
    return kExitOk;
  }
  std::string text = render_report(report, report_options);
  if (out_path.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(out_path);
    CKV_CHECK(out && (out << text), "{}: cannot write the report", out_path);
  }
  return kExitOk;
}

}  // namespace ckv::cli
