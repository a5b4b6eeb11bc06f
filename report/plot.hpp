// Plots of a metric against a swept parameter, one panel per task plus the task mean (docs/spec/MISSION.md R10).
// Writes the data (<out>.dat) and the gnuplot script (<out>.gp) beside the image and runs
// gnuplot (Debian's gnuplot-nox); fails with a clear message when gnuplot is missing.
#pragma once
#include <string>

#include "db/queries.hpp"

namespace ckv {

void write_plot(const CampaignReport& report, const std::string& param, const std::string& out_path);

}  // namespace ckv
