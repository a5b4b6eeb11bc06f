// `ckv-sweep compare-e2e DB --campaign C --metric M`: end-to-end LongBench scores and a proxy
// metric side by side, each ranked in its own direction, with Spearman's ρ, Kendall's τ-b and
// pairwise agreement per task and overall, bootstrap CIs over samples (docs/e2e.md, docs/analysis.md).
#include <iostream>

#include <fmt/ranges.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "e2e/rank_comparison.hpp"
#include "tools/ckv_sweep/command_io.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int compare_e2e_command(int argc, char** argv) {
  po::options_description options("compare-e2e options");
  std::string db_path, campaign, metric, format;
  e2e::RankOptions rank_options;
  options.add_options()("db", po::value(&db_path)->required(), "database file")("campaign,c", po::value(&campaign), "campaign name (default: the only campaign)")("metric,m", po::value(&metric)->default_value("attn_recall"), "proxy metric to rank by (ckv-sweep metrics)")("format,f", po::value(&format)->default_value("markdown"), "markdown | json")("resamples", po::value(&rank_options.resamples)->default_value(rank_options.resamples), "bootstrap resamples")("seed", po::value(&rank_options.seed)->default_value(rank_options.seed), "seed of the bootstrap");
  po::positional_options_description positional;
  positional.add("db", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep compare-e2e DB [--campaign C] [--metric M] [--format markdown|json]", options, positional, vm))
    return kExitOk;
  usage_check(format == "markdown" || format == "json", "compare-e2e",
              "--format must be markdown or json (got '" + format + "')");
  usage_check(rank_options.resamples >= 100 && rank_options.resamples <= 1000000, "compare-e2e",
              fmt::format("--resamples must be between 100 and 1000000 (got {})", rank_options.resamples));
  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  campaign = chosen_campaign(db, db_path, campaign);
  const e2e::RankComparison comparison = e2e::compare_rankings(db, campaign, metric, rank_options);
  std::cout << (format == "json" ? e2e::rank_comparison_json(comparison) : e2e::render_rank_comparison(comparison));
  return kExitOk;
}

}  // namespace ckv::cli
