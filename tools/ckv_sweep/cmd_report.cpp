// `ckv-sweep report DB --campaign C --metric M`: the ablation table of a campaign.
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/e2e_store.hpp"
#include "db/queries.hpp"
#include "e2e/rank_comparison.hpp"
#include "report/html.hpp"
#include "report/html_report.hpp"
#include "report/paired_comparison.hpp"
#include "report/plot.hpp"
#include "report/report_table.hpp"
#include "tools/ckv_sweep/command_io.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CKV_CHECK(in, "{}: cannot read", path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The end-to-end comparison against a proxy metric as an HTML table (the rows compare-e2e prints).
std::string rank_comparison_html(const e2e::RankComparison& c) {
  using html::escape;
  std::string out = "<table class=\"report\">\n<caption>" +
                    escape(fmt::format("end-to-end LongBench score against {} over tasks {}; Spearman {}",
                                       c.proxy_metric, fmt::join(c.tasks, ", "),
                                       c.spearman ? fmt::format("{:.3f}", *c.spearman) : std::string("-"))) +
                    "</caption>\n<thead><tr><th class=\"label\">configuration</th><th class=\"label\">hash</th>"
                    "<th>e2e score</th><th>e2e rank</th><th>" +
                    escape(c.proxy_metric) +
                    "</th><th>proxy rank</th>"
                    "</tr></thead>\n<tbody>\n";
  for (const auto& r : c.rows)
    out += fmt::format(
        "<tr><td class=\"label\">{}</td><td class=\"label\"><code>{}</code></td><td>{:.2f}</td>"
        "<td>{:g}</td><td>{}</td><td>{}</td></tr>\n",
        escape(r.label.empty() ? r.method : r.label), escape(r.configuration.substr(0, 12)), r.e2e_mean,
        r.e2e_rank,
        r.proxy_mean ? fmt::format("{:.4f}", *r.proxy_mean) : "-",
        r.proxy_rank ? fmt::format("{:g}", *r.proxy_rank) : "-");
  return out + "</tbody>\n</table>\n";
}

// `report --format html`: every metric's table (or the --metric given), the plots against
// --plot, the end-to-end section when predictions were imported, links to keep-set views.
std::string html_report(Database& db, const std::string& db_path, const std::string& campaign,
                        const std::vector<std::string>& metrics, const ReportOptions& options,
                        const std::string& plot_param, const std::vector<std::string>& keep_views,
                        const std::vector<std::string>& comparisons) {
  HtmlReport page;
  page.campaign = campaign;
  page.database = db_path;
  ReportOptions table_options = options;
  table_options.format = "html";
  for (const auto& metric : metrics) {
    // The same table model as every other format: spreads, replicates, bold and marks included.
    const ReportTable table = build_report_table(load_report_input(db, campaign, metric), table_options);
    page.tables.push_back({metric, render_table(table, "html", table_options.precision)});
    if (!plot_param.empty()) {
      // gnuplot's SVG, written to a private directory and embedded.
      std::string dir = (std::filesystem::temp_directory_path() / "ckv-report-XXXXXX").string();
      CKV_CHECK(mkdtemp(dir.data()) != nullptr, "cannot create a temporary directory for the plots");
      const std::string svg = dir + "/plot.svg";
      try {
        write_plot(table, plot_param, svg);
        page.plots.emplace_back(fmt::format("{} against {}", metric, plot_param), read_text(svg));
      } catch (...) {
        std::filesystem::remove_all(dir);
        throw;
      }
      std::filesystem::remove_all(dir);
    }
  }
  // Paired comparisons "A vs B" (ckv-sweep compare), on every metric of the page.
  for (const auto& pair : comparisons) {
    const size_t at = pair.find(" vs ");
    CKV_CHECK(at != std::string::npos && at > 0 && at + 4 < pair.size(),
              "--compare '{}': expected \"A vs B\" (labels \"METHOD key=value ...\" or hash prefixes)", pair);
    const std::string a = pair.substr(0, at), b = pair.substr(at + 4);
    std::string html;
    for (const auto& metric : metrics)
      html += "<pre>" + html::escape(render_paired_comparison(compare_configurations(db, campaign, a, b, metric), "markdown", options.precision)) +
              "</pre>\n";
    page.comparisons.push_back({pair, html});
  }
  if (!e2e_task_scores(db, campaign).empty())
    for (const auto& metric : metrics)
      page.e2e.push_back({"against " + metric, rank_comparison_html(e2e::compare_rankings(db, campaign, metric))});
  for (const auto& view : keep_views) page.links.emplace_back(std::filesystem::path(view).filename().string(), view);
  return render_html_report(page);
}

}  // namespace

int report_command(int argc, char** argv) {
  po::options_description options("report options");
  std::string db_path, campaign, metric = "attn_recall", out_path, plot_param, plot_path;
  std::vector<std::string> keep_views, comparisons, replicates;
  bool no_replicates = false;
  ReportOptions report_options;
  options.add_options()("db", po::value(&db_path)->required(), "database file")("campaign,c", po::value(&campaign), "campaign name (default: the only campaign)")("metric,m", po::value(&metric)->default_value("attn_recall"), "metric to tabulate")("format,f", po::value(&report_options.format)->default_value("markdown"), "markdown | csv | json | latex | html (one self-contained page: every metric, plots, end to end)")("precision", po::value(&report_options.precision)->default_value(4), "decimals")("scale", po::value(&report_options.scale)->default_value(1.0), "multiply values (100 for percent); finite, > 0")("ci", po::bool_switch(&report_options.ci), "95 % CI over samples beside each mean: [lo, hi] (percentile bootstrap, stratified by task for avg)")("std", po::bool_switch(&report_options.sd), "standard deviation over samples beside each mean")("replicate", po::value(&replicates)->composing(),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "average over this parameter (repeatable; default: seed, which only the stochastic methods have): "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "one row per setting of the others, mean ± std over the replicates")("no-replicates", po::bool_switch(&no_replicates), "one row per configuration, seeds included")("output,o", po::value(&out_path), "write to this file instead of stdout")("plot", po::value(&plot_param), "plot the metric against this swept parameter, one panel per task")("plot-output", po::value(&plot_path), "plot file: .png, .svg or .pdf (default <campaign>-<metric>-<param>.png)")("compare", po::value(&comparisons)->composing(),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                         "with --format html: a paired comparison \"A vs B\" on every metric (as ckv-sweep compare; repeatable)")("keep-view", po::value(&keep_views)->composing(),
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "with --format html: link this keep-set view page (ckv-sweep keep-view -o FILE.html; repeatable)");
  po::positional_options_description positional;
  positional.add("db", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep report DB [--campaign C] [--metric M] [--format F] [--ci] [--std] [--plot PARAM]",
                     options, positional, vm))
    return kExitOk;

  usage_check(report_options.format == "markdown" || report_options.format == "csv" ||
                  report_options.format == "json" || report_options.format == "latex" ||
                  report_options.format == "html",
              "report", "--format must be markdown, csv, json, latex or html (got '" + report_options.format + "')");
  usage_check(keep_views.empty() || report_options.format == "html", "report", "--keep-view needs --format html");
  usage_check(comparisons.empty() || report_options.format == "html", "report", "--compare needs --format html");
  usage_check(report_options.precision >= 0 && report_options.precision <= 17, "report",
              fmt::format("--precision must be between 0 and 17 (got {})", report_options.precision));
  usage_check(scale_error(report_options.scale).empty(), "report", scale_error(report_options.scale));
  usage_check(!(no_replicates && !replicates.empty()), "report", "--replicate and --no-replicates exclude each other");
  if (no_replicates) report_options.replicate_axes.clear();
  else if (!replicates.empty()) report_options.replicate_axes = replicates;
  if (!plot_param.empty() && !plot_path.empty()) {
    const bool known = plot_path.ends_with(".png") || plot_path.ends_with(".svg") || plot_path.ends_with(".pdf");
    usage_check(known, "report", "--plot-output must end in .png, .svg or .pdf (got '" + plot_path + "')");
  }
  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  campaign = chosen_campaign(db, db_path, campaign);
  std::string text;
  if (report_options.format == "html") {
    // Every metric unless --metric names one.
    const std::vector<std::string> metrics =
        vm["metric"].defaulted() ? metric_names(db, campaign) : std::vector<std::string>{metric};
    CKV_CHECK(!metrics.empty(), "{}: campaign '{}' has no results yet (no unit is done)", db_path, campaign);
    text = html_report(db, db_path, campaign, metrics, report_options, plot_param, keep_views, comparisons);
  } else {
    const ReportTable table = build_report_table(load_report_input(db, campaign, metric), report_options);
    if (!plot_param.empty()) {
      if (plot_path.empty()) plot_path = fmt::format("{}-{}-{}.png", campaign, metric, plot_param);
      write_plot(table, plot_param, plot_path);
      fmt::print(stderr, "plot written to {}\n", plot_path);
      return kExitOk;
    }
    text = render_table(table, report_options.format, report_options.precision);
  }
  write_text(out_path, text, "report");
  return kExitOk;
}

}  // namespace ckv::cli
