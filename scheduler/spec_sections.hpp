// The plain sections of a sweep file: [campaign], [data] (with [data.synthetic]), [metrics]
// and [run] (docs/sweep-files.md). Internal to the sweep-file reader.
#pragma once
#include <toml++/toml.h>

#include "scheduler/spec.hpp"
#include "scheduler/spec_toml.hpp"

namespace ckv::spec_detail {

void read_campaign(const TomlReader& in, const toml::table& table, CampaignSpec& spec);
void read_data(const TomlReader& in, const toml::table& table, DataSpec& data);
void read_metrics(const TomlReader& in, const toml::table& table, CampaignSpec& spec);
void read_run(const TomlReader& in, const toml::table& table, RunSpec& run);

}  // namespace ckv::spec_detail
