// The ablation table (docs/spec/MISSION.md R10): rows = configurations shown by the parameters that vary, columns =
// tasks then the 16-task mean ("avg") and the LongBench category mean ("cat avg").
#pragma once
#include <string>
#include <vector>

#include "common/canonical_json.hpp"
#include "db/queries.hpp"

namespace ckv {

struct ReportOptions {
  std::string format = "markdown";  // markdown | csv | json | latex | html (a <table> fragment)
  int precision = 4;
  double scale = 1.0;               // e.g. 100 for percentages
};

struct ReportColumns {
  bool show_method = true;
  std::vector<std::string> params;  // varying parameter names, in first-seen order
};

// The parameters that take two values among the rows of one method, in first-seen order.
// `eval` settings are included as "eval.layers" / "eval.topk" if they vary.
ReportColumns varying_columns(const CampaignReport& report);

std::string render_report(const CampaignReport& report, const ReportOptions& options);

}  // namespace ckv
