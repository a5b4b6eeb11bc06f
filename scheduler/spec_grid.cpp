// The [[grid]] blocks of a sweep file: their methods and axes, each value checked against the
// methods it applies to.
#include "scheduler/spec_grid.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "scheduler/spec_methods.hpp"

namespace ckv::spec_detail {

namespace {

const MethodEntry* find_entry(const CampaignSpec& spec, const std::string& id) {
  for (const auto& m : spec.methods)
    if (m.id == id) return &m;
  return nullptr;
}

std::vector<std::string> method_ids(const CampaignSpec& spec) {
  std::vector<std::string> ids;
  for (const auto& m : spec.methods) ids.push_back(m.id);
  return ids;
}

// The values of one axis, each checked against every method the axis applies to.
std::vector<json> axis_values(const TomlReader& in, const toml::node& node, const std::string& label, const std::string& param,
                              const std::vector<const MethodEntry*>& targets) {
  if (!node.is_array())
    in.fail(node, fmt::format("grid axis '{}' must be a list of values, got {}", label, node_type_name(node)));
  const toml::array& list = *node.as_array();
  if (list.empty()) in.fail(node, fmt::format("grid axis '{}' has no values", label));
  std::vector<json> values;
  for (const toml::node& item : list) {
    json value;
    for (const MethodEntry* m : targets)
      value = checked_value(in, *m->method, *m->method->find_param(param), item, true);
    values.push_back(value);
  }
  return values;
}

// Reads the axes of a [[grid]] block or of one of its [[grid.zip]] groups. Keys that are
// not axes (`methods`, `zip`) are handled by the caller and skipped here.
std::vector<GridAxis> read_axes(const TomlReader& in, const toml::table& table, CampaignSpec& spec,
                                const std::vector<const MethodEntry*>& block,
                                const std::vector<std::string>& skip, const std::string& where) {
  std::vector<GridAxis> axes;
  for (auto&& [key, node] : table) {
    std::string name(key.str());
    if (contains(skip, name)) continue;
    if (node.is_table()) {  // method-qualified axes: <id>.<param> = [...]
      const MethodEntry* entry = find_entry(spec, name);
      if (!entry)
        in.fail(key, fmt::format("'{}' in {} is neither a parameter list nor a method id ({})", name, where,
                                 suggest_or_list(name, method_ids(spec), "method ids")));
      if (std::find(block.begin(), block.end(), entry) == block.end()) {
        std::vector<std::string> ids;
        ids.reserve(block.size());
        for (const MethodEntry* m : block) ids.push_back(m->id);
        in.fail(key, fmt::format("method '{}' is not one of this grid block's methods ({})", name, join(ids)));
      }
      for (auto&& [pkey, pnode] : *node.as_table()) {
        std::string given(pkey.str());
        const ParamSpec* ps = find_param_or_former(in, *entry->method, given, in.at(pkey), spec);
        if (!ps)
          in.fail(pkey, fmt::format("method '{}' has no parameter '{}' ({})", entry->method->name, given,
                                    suggest_or_list(given, param_names(*entry->method))));
        const std::string param = ps->name;
        GridAxis axis;
        axis.method_id = name;
        axis.param = param;
        axis.location = in.at(pkey);
        axis.values = axis_values(in, pnode, name + "." + given, param, {entry});
        axes.push_back(std::move(axis));
      }
      continue;
    }
    // The methods the axis applies to: those with a parameter of that name, or whose parameter
    // had that name before a rename. One axis sweeps one quantity: when the name means different
    // parameters in different methods (a former name), the axis must be qualified.
    std::vector<const MethodEntry*> targets;
    std::vector<const ParamSpec*> target_params;
    for (const MethodEntry* m : block) {
      const ParamSpec* p = m->method->find_param(name);
      if (!p) p = m->method->find_renamed_param(name);
      if (!p) continue;
      targets.push_back(m);
      target_params.push_back(p);
    }
    if (targets.empty()) {
      std::set<std::string> known;
      for (const MethodEntry* m : block)
        for (const auto& p : m->method->params) known.insert(p.name);
      in.fail(key, fmt::format("no method of this grid block has a parameter '{}' ({})", name,
                               suggest_or_list(name, std::vector<std::string>(known.begin(), known.end()),
                                               "their parameters")));
    }
    std::set<std::string> meanings;
    for (const ParamSpec* p : target_params) meanings.insert(p->name);
    if (meanings.size() > 1) {
      std::vector<std::string> what;
      for (size_t i = 0; i < targets.size(); ++i)
        what.push_back(target_params[i]->name == name
                           ? fmt::format("{}.{}", targets[i]->id, name)
                           : fmt::format("{}.{} (formerly '{}')", targets[i]->id, target_params[i]->name, name));
      in.fail(key, fmt::format("grid axis '{}' would sweep parameters of different meaning: {}; qualify it "
                               "with the method id ({}.{} = [...]) or use the parameter's new name",
                               name, join(what), targets.front()->id, target_params.front()->name));
    }
    const std::string param = *meanings.begin();
    for (size_t i = 0; i < targets.size(); ++i)
      if (target_params[i]->name != name) warn_former_name(*targets[i]->method, *target_params[i], in.at(key), spec);
    GridAxis axis;
    axis.param = param;
    axis.location = in.at(key);
    axis.values = axis_values(in, node, name, param, targets);
    axes.push_back(std::move(axis));
  }
  // TOML++ tables are sorted by key; the product order follows the file instead.
  std::stable_sort(axes.begin(), axes.end(),
                   [](const GridAxis& a, const GridAxis& b) { return before(a.location, b.location); });
  return axes;
}

std::string axis_label(const GridAxis& axis) {
  return axis.method_id.empty() ? axis.param : axis.method_id + "." + axis.param;
}

// Two axes of one block setting the same parameter of one method would make the point's
// value depend on axis order; refuse it rather than pick one silently.
void check_no_parameter_swept_twice(const TomlReader& in, const GridBlock& block, const std::vector<const MethodEntry*>& members) {
  for (const MethodEntry* m : members) {
    std::map<std::string, SourceLocation> swept;
    std::vector<const GridAxis*> all;
    for (const auto& a : block.axes) all.push_back(&a);
    for (const auto& z : block.zips)
      for (const auto& a : z.axes) all.push_back(&a);
    for (const GridAxis* a : all) {
      bool applies = a->method_id.empty() ? m->method->find_param(a->param) != nullptr : a->method_id == m->id;
      if (!applies) continue;
      auto [it, fresh] = swept.emplace(a->param, a->location);
      if (!fresh)
        in.fail(a->location, fmt::format("parameter '{}' of method '{}' is swept twice in this grid block "
                                         "(also at line {})",
                                         a->param, m->id, it->second.line));
    }
  }
}

}  // namespace

void read_grid(const TomlReader& in, const toml::node& node, CampaignSpec& spec) {
  if (!node.is_array_of_tables())
    in.fail(node, fmt::format("'grid' must be an array of tables ([[grid]]), got {}", node_type_name(node)));
  for (const toml::node& item : *node.as_array()) {
    const toml::table& table = *item.as_table();
    GridBlock block;
    block.location = in.at(table);
    std::vector<const MethodEntry*> members;
    if (const toml::node* methods = table.get("methods")) {
      block.methods = in.string_list(*methods, "grid.methods");
      if (block.methods.empty()) in.fail(*methods, "'grid.methods' must not be empty (leave it out for all methods)");
      const toml::array& list = *methods->as_array();
      for (size_t i = 0; i < block.methods.size(); ++i) {
        const MethodEntry* entry = find_entry(spec, block.methods[i]);
        if (!entry)
          in.fail(*list.get(i), fmt::format("unknown method id '{}' in grid.methods ({})", block.methods[i],
                                            suggest_or_list(block.methods[i], method_ids(spec), "method ids")));
        members.push_back(entry);
      }
    } else {
      for (const auto& m : spec.methods) members.push_back(&m);
    }
    block.axes = read_axes(in, table, spec, members, {"methods", "zip"}, "[[grid]]");
    if (const toml::node* zips = table.get("zip")) {
      if (!zips->is_array_of_tables())
        in.fail(*zips, fmt::format("'grid.zip' must be an array of tables ([[grid.zip]]), got {}",
                                   node_type_name(*zips)));
      for (const toml::node& z : *zips->as_array()) {
        ZipGroup group;
        group.location = in.at(z);
        group.axes = read_axes(in, *z.as_table(), spec, members, {}, "[[grid.zip]]");
        if (group.axes.empty()) in.fail(z, "a [[grid.zip]] group needs at least one axis");
        const GridAxis& first = group.axes.front();
        for (const GridAxis& axis : group.axes)
          if (axis.values.size() != first.values.size())
            in.fail(axis.location, fmt::format("zip axes must have equal lengths: '{}' has {} values, '{}' has {}",
                                               axis_label(axis), axis.values.size(), axis_label(first),
                                               first.values.size()));
        block.zips.push_back(std::move(group));
      }
    }
    if (block.axes.empty() && block.zips.empty())
      in.fail(table, "a [[grid]] block needs at least one axis (a parameter list or a [[grid.zip]] group)");
    check_no_parameter_swept_twice(in, block, members);
    spec.grid.push_back(std::move(block));
  }
}

}  // namespace ckv::spec_detail
