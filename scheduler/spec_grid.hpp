// The [[grid]] blocks of a sweep file: which methods each block sweeps and the axes (plain,
// method-qualified, [[grid.zip]] groups), every value checked against the methods it applies
// to (docs/sweep-files.md). Internal to the sweep-file reader; expansion is spec_expand.cpp.
#pragma once
#include <toml++/toml.h>

#include "scheduler/spec.hpp"
#include "scheduler/spec_toml.hpp"

namespace ckv::spec_detail {

// The `grid` node (an array of tables) into spec.grid; spec.methods must be read already.
void read_grid(const TomlReader& in, const toml::node& node, CampaignSpec& spec);

}  // namespace ckv::spec_detail
