#include "tools/ckv_sweep/commands.hpp"

#include <iomanip>

namespace ckv::cli {

int run_command(int argc, char** argv);
int plan_command(int argc, char** argv);
int status_command(int argc, char** argv);
int report_command(int argc, char** argv);
int query_command(int argc, char** argv);
int synth_command(int argc, char** argv);
int inspect_command(int argc, char** argv);
int methods_command(int argc, char** argv);
int export_keep_command(int argc, char** argv);
int import_predictions_command(int argc, char** argv);
int compare_e2e_command(int argc, char** argv);
int metrics_command(int argc, char** argv);
int compare_command(int argc, char** argv);
int keep_view_command(int argc, char** argv);

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"run", "run (or resume) a campaign: ckv-sweep [run] SPEC.toml", run_command},
      {"plan", "dry run: configurations, samples, units, how many already done", plan_command},
      {"status", "progress of the campaigns in a database", status_command},
      {"report", "the ablation table of a campaign (markdown, csv, json, latex), plots, or the whole campaign as one HTML page", report_command},
      {"query", "run read-only SQL on a database", query_command},
      {"synth", "write a synthetic attention cache", synth_command},
      {"inspect", "scores and keep-set of one method on one sample layer, as JSON", inspect_command},
      {"methods", "the method registry: every method and parameter", methods_command},
      {"metrics", "the metric registry: direction (higher or lower is better), range, unit, meaning", metrics_command},
      {"export-keep", "keep-sets of one configuration on every sample, as JSON lines (docs/e2e.md)", export_keep_command},
      {"import-predictions", "score LongBench predictions end to end into the database", import_predictions_command},
      {"compare", "configuration A against B, sample by sample: paired differences, CIs, tests", compare_command},
      {"compare-e2e", "end-to-end scores against a proxy metric: rankings and Spearman", compare_e2e_command},
      {"keep-view", "the tokens two configurations keep: one sample as an HTML page, or a task's summary", keep_view_command},
  };
  return list;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

void print_usage(std::ostream& out) {
  out << "usage: ckv-sweep SPEC.toml [options]      (same as: ckv-sweep run SPEC.toml)\n"
         "       ckv-sweep COMMAND [options]        (ckv-sweep COMMAND --help for each)\n\n"
         "commands:\n";
  for (const auto& c : commands())
    out << "  " << std::left << std::setw(20) << c.name << c.summary << "\n";
  out << "\n  --version  print the version\n";
}

}  // namespace ckv::cli
