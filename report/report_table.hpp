// The ablation table (docs/spec/MISSION.md R10): rows = configurations shown by the parameters that
// vary, columns = tasks then the 16-task mean ("avg") and the LongBench category mean ("cat avg").
//
// Two layers, so that every output (markdown, csv, json, LaTeX here; the HTML report elsewhere)
// shows the same numbers:
//   - build_report_table(): the table model, ReportTable — columns, rows of cells (value, spread
//     over samples, spread over replicates, best-of-column, footnote marks), caption facts (the
//     fixed parameters, the replicate axes) and footnotes. Everything a renderer needs is
//     computed here; nothing here formats text for one output only.
//   - render_table(): one renderer per format (markdown, csv, json, LaTeX, an HTML fragment for
//     the campaign page), reading only the model.
// render_report() is both in one call.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"
#include "db/queries.hpp"
#include "report/configuration_labels.hpp"
#include "report/stats.hpp"

namespace ckv {

struct ReportOptions {
  std::string format = "markdown";  // markdown | csv | json | latex | html (a <table> fragment)
  int precision = 4;
  double scale = 1.0;  // e.g. 100 for percentages; finite and > 0
  bool ci = false;     // 95 % CI over samples (stratified bootstrap for "avg")
  bool sd = false;     // standard deviation over samples
  double ci_level = 0.95;
  // Parameters averaged over (replicates): the rows that differ only in them become one row,
  // the mean over replicates with the standard deviation across them. A method takes part when
  // its configurations carry the parameter; `seed` is declared only by the stochastic methods.
  std::vector<std::string> replicate_axes = {"seed"};
};

// What the table is made from: the metric's means (campaign_report) plus, per done unit, the
// metric's value (for spread and replicates) and the `kept` metric (kept next to the budget).
struct ReportInput {
  CampaignReport report;
  std::vector<SampleValue> values;  // the metric per done unit; may be empty (no spread, no replicates)
  std::vector<SampleValue> kept;    // `kept` per done unit; empty when the campaign has none
};

// Reads all three from the database.
ReportInput load_report_input(Database& db, const std::string& campaign, const std::string& metric);

// ---- the table model -------------------------------------------------------------------------

enum class ColumnKind {
  method,     // label: the method name
  parameter,  // label: a parameter that varies (leading columns)
  kept,       // number: mean tokens kept, next to the budget
  task,       // number: the task's mean over its samples
  average,    // number: "avg", the mean of task means
  category    // number: "cat avg", the mean of category means
};

struct ReportColumn {
  std::string name;
  ColumnKind kind;
  bool label() const { return kind == ColumnKind::method || kind == ColumnKind::parameter; }
};

struct ReportCell {
  // Label cells: the shown text ("-" when the row's method has no such parameter) and the
  // parameter's JSON value (a number stays a number; null when absent).
  std::string text;
  json raw;
  // Number cells (already multiplied by ReportOptions::scale). Spreads are set only when asked
  // for (ci, std) and computable (two values or more).
  std::optional<double> value;
  std::optional<double> sample_std;     // over samples (avg: all samples of every task pooled)
  std::optional<stats::Interval> ci;    // over samples; stratified by task for "avg"
  std::optional<double> replicate_std;  // across the replicates the row averages (2 or more)
  int replicates = 1;                   // how many replicate configurations the value averages
  std::string coverage;                 // "3/4" (samples) or "15/16 tasks" when it covers fewer
  bool best = false;                    // best value of its column by the metric's direction
  std::vector<std::string> marks;       // footnote marks, see ReportTable::footnotes
  std::string mark_note;                // e.g. "3/8" after a mark (how many samples it concerns)
};

struct ReportTableRow {
  std::vector<ReportCell> cells;            // one per column
  std::vector<std::string> configurations;  // hashes: one, or the replicates averaged
  std::vector<json> replicate_values;       // the replicate axes' values, one per configuration
  std::map<std::string, int64_t> samples;   // per task: samples in its mean (fewest over replicates)
  int tasks_covered = 0;
  int numerics = 1;
  // kept against the budget, over the row's done samples (all replicates): samples where the
  // configuration kept more than its nominal budget although n > budget, and samples no longer
  // than the budget (nothing compressed). Zero when the method has no budget.
  int64_t over_budget_samples = 0, short_samples = 0, budget_samples = 0;
};

struct ReportFootnote {
  std::string mark;  // "†", "‡"
  std::string text;
};

struct ReportTable {
  std::string campaign, metric;
  std::vector<int> numerics;
  std::vector<std::string> tasks;
  std::map<std::string, int64_t> task_samples;
  std::vector<ReportColumn> columns;
  std::vector<ReportTableRow> rows;
  // The parameters that do not vary, "name = value": scope "" for those equal in every method,
  // else the method's name (its own fixed parameters). Shown in the caption.
  std::vector<std::pair<std::string, std::vector<std::string>>> fixed;
  std::vector<std::string> replicate_axes;  // those that averaged some row
  int max_replicates = 1;                   // the most replicates any row averages
  bool has_direction = false;               // the metric is in the registry: bold marks the best
  std::string direction;                    // "higher is better" / "lower is better"
  bool reference_rows = false;              // rows without a budget (full) are not ranked
  bool show_ci = false, show_sd = false;
  double scale = 1.0;  // the factor the values were multiplied by (plots scale the full-cache line)
  double ci_level = 0.95;
  bool partial = false;                   // some mean covers fewer samples (or tasks) than the campaign has
  std::vector<ReportFootnote> footnotes;  // for the marks used
  std::vector<std::string> notes;         // coverage and numerics notes, in order

  // One sentence on what the numbers are (mean over samples, the spreads shown, replicates).
  std::string caption() const;
  // "all: window = 64; snapkv: budget = 512, ..." (empty when nothing is fixed).
  std::string fixed_text() const;
};

ReportTable build_report_table(const ReportInput& input, const ReportOptions& options);

// format: markdown | csv | json | latex | html (a <table> fragment with its notes, escaped).
std::string render_table(const ReportTable& table, const std::string& format, int precision);

// build_report_table + render_table. The overload with a CampaignReport alone shows the means
// without spreads or kept (no per-sample values).
std::string render_report(const ReportInput& input, const ReportOptions& options);
std::string render_report(const CampaignReport& report, const ReportOptions& options);

// ---- shared by the table and the plots -------------------------------------------------------

struct ReportColumns {
  bool show_method = true;
  std::vector<std::string> params;  // varying parameter names, in first-seen order
};

// The parameters that take two values among the rows of one method, in first-seen order.
// `eval` settings are included as "eval.layers" / "eval.topk" if they vary. Replicate axes
// (options.replicate_axes) are left out by the overload that takes them.
ReportColumns varying_columns(const CampaignReport& report);
ReportColumns varying_columns(const CampaignReport& report, const std::vector<std::string>& replicate_axes);

// A row's parameters flattened as report/configuration_labels.hpp's flat_parameters does
// (params.* by name, eval.* prefixed, eval.numerics always), less the budget where
// compression_ratio sets it per sample. Values are shown with parameter_text (same header).
std::map<std::string, json> flat_parameters(const ConfigurationInfo& configuration);

// Checks a --scale value: finite and > 0 ("" when fine, else the message).
std::string scale_error(double scale);

}  // namespace ckv
