// The [[methods]] entries of a sweep file and the checking of parameter values against the
// method registry (docs/sweep-files.md). Internal to the sweep-file reader.
#pragma once
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "scheduler/spec.hpp"
#include "scheduler/spec_toml.hpp"

namespace ckv::spec_detail {

// One value of `param` for `method`, checked against the registry; in a grid axis a
// list-valued parameter's failure adds a hint (its axes are lists of lists).
json checked_value(const TomlReader& in, const MethodDef& method, const ParamSpec& param,
                   const toml::node& node, bool in_axis);
std::vector<std::string> param_names(const MethodDef& method);

// The parameter `name` of `method`: by its name or, for a renamed parameter, by its former name,
// which adds a warning naming `where` and the new name (once per former name and campaign).
// nullptr when the method has neither.
const ParamSpec* find_param_or_former(const TomlReader& in, const MethodDef& method, const std::string& name,
                                      const SourceLocation& where, CampaignSpec& spec);
// The warning itself (find_param_or_former and the grid's unqualified axes).
void warn_former_name(const MethodDef& method, const ParamSpec& param, const SourceLocation& where,
                      CampaignSpec& spec);

// Every [[methods]] entry of the document, in file order, into spec.methods.
void read_methods(const TomlReader& in, const toml::table& root, CampaignSpec& spec);

}  // namespace ckv::spec_detail
