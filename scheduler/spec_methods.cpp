// The [[methods]] entries of a sweep file, checked against the method registry.
#include "scheduler/spec_methods.hpp"

#include <map>

#include <fmt/format.h>

#include "kernels/registry.hpp"

namespace ckv::spec_detail {

json checked_value(const TomlReader& in, const MethodDef& method, const ParamSpec& param,
                   const toml::node& node, bool in_axis) {
  json value = in.to_json(node);
  std::string error;
  if (!check_param_value(param, value, error)) {
    if (in_axis && param.type == ParamType::IntList && !value.is_array())
      error += fmt::format(" (a grid axis of a list-valued parameter is a list of lists, e.g. {} = [[5], [5, 15]])",
                           param.name);
    in.fail(node, fmt::format("method '{}': {}", method.name, error));
  }
  return value;
}

std::vector<std::string> param_names(const MethodDef& method) {
  std::vector<std::string> names;
  for (const auto& p : method.params) names.push_back(p.name);
  return names;
}

void warn_former_name(const MethodDef& method, const ParamSpec& param, const SourceLocation& where,
                      CampaignSpec& spec) {
  const std::string tag = fmt::format("'{}' is the former name", param.stored_as);
  for (const std::string& w : spec.warnings)
    if (w.find(tag) != std::string::npos) return;  // once per former name
  spec.warnings.push_back(fmt::format("{}: {}", where.str(), former_name_warning(method, param)));
}

const ParamSpec* find_param_or_former(const TomlReader&, const MethodDef& method, const std::string& name,
                                      const SourceLocation& where, CampaignSpec& spec) {
  if (const ParamSpec* p = method.find_param(name)) return p;
  const ParamSpec* renamed = method.find_renamed_param(name);
  if (renamed) warn_former_name(method, *renamed, where, spec);
  return renamed;
}

void read_methods(const TomlReader& in, const toml::table& root, CampaignSpec& spec) {
  const toml::node* node = root.get("methods");
  if (!node) in.fail(in.file_start(), "missing required [[methods]] (at least one method)");
  if (!node->is_array_of_tables())
    in.fail(*node, fmt::format("'methods' must be an array of tables ([[methods]]), got {}", node_type_name(*node)));
  const toml::array& list = *node->as_array();
  if (list.empty()) in.fail(*node, "'methods' must hold at least one method");
  std::map<std::string, SourceLocation> seen;
  for (const toml::node& item : list) {
    const toml::table& table = *item.as_table();
    MethodEntry entry;
    entry.location = in.at(table);
    const toml::node* name_node = in.required(table, "name", "[[methods]]");
    std::string name = in.string_value(*name_node, "methods.name");
    entry.method = find_method(name);
    if (!entry.method)
      in.fail(*name_node, fmt::format("unknown method '{}' ({})", name,
                                      suggest_or_list(name, method_names(), "registered")));
    entry.id = name;
    const toml::node* id_node = name_node;
    if (const toml::node* label = table.get("label")) {
      entry.id = in.string_value(*label, "methods.label");
      id_node = label;
      if (!is_valid_name(entry.id))
        in.fail(*label, fmt::format("method label '{}' may only contain letters, digits, '_', '.' and '-'",
                                    entry.id));
      // A grid block's own keys would be ambiguous with a qualified axis of such a method.
      if (entry.id == "methods" || entry.id == "zip")
        in.fail(*label, fmt::format("method label '{}' is reserved (a [[grid]] key)", entry.id));
    }
    if (auto it = seen.find(entry.id); it != seen.end())
      in.fail(*id_node, fmt::format("duplicate method id '{}' (first at line {}); give one a distinct 'label'",
                                    entry.id, it->second.line));
    seen.emplace(entry.id, in.at(*id_node));
    for (auto&& [key, value] : table) {
      std::string param(key.str());
      if (param == "name" || param == "label") continue;
      const ParamSpec* ps = find_param_or_former(in, *entry.method, param, in.at(key), spec);
      if (!ps) {
        std::vector<std::string> keys = {"name", "label"};
        for (const std::string& p : param_names(*entry.method)) keys.push_back(p);
        in.fail(key, fmt::format("method '{}' has no parameter '{}' ({})", name, param, suggest_or_list(param, keys)));
      }
      if (entry.fixed.contains(ps->name))
        in.fail(key, fmt::format("method '{}': parameter '{}' is given twice (as '{}' and as '{}')", name,
                                 ps->name, ps->name, ps->stored_as));
      entry.fixed[ps->name] = checked_value(in, *entry.method, *ps, value, false);
    }
    spec.methods.push_back(std::move(entry));
  }
}

}  // namespace ckv::spec_detail
