// Grid expansion (docs/spec/MISSION.md R2, R13): the configurations a read sweep file
// sweeps, block by block, as the cartesian product of the axes that apply to each method entry.
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "scheduler/spec.hpp"
#include "scheduler/spec_toml.hpp"

namespace ckv {

using spec_detail::contains;
using spec_detail::join;

namespace {

bool axis_applies(const GridAxis& axis, const MethodEntry& entry) {
  if (!axis.method_id.empty()) return axis.method_id == entry.id;
  return entry.method->find_param(axis.param) != nullptr;
}

// "budget = 64, window = 32" for messages.
std::string describe_point(const json& values) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : values.items()) parts.push_back(fmt::format("{} = {}", k, v.dump()));
  return join(parts);
}

// resolve_params names the method itself; the location prefix already says which entry.
std::string without_method_prefix(const std::string& message, const MethodDef& method) {
  std::string prefix = fmt::format("method '{}': ", method.name);
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

// The configuration of a method entry's fixed parameters alone; a failure is the entry's.
GridPoint entry_point(const MethodEntry& entry, const EvalSettings& eval) {
  try {
    return make_grid_point(entry, json::object(), eval);
  } catch (const Error& e) {
    throw InputError(fmt::format("{}: method '{}': {}", entry.location.str(), entry.id,
                                 without_method_prefix(e.what(), *entry.method)));
  }
}

}  // namespace

EvalSettings eval_settings(const CampaignSpec& spec) {
  EvalSettings eval;
  if (!spec.data.layers.empty()) eval.layers = spec.data.layers;  // sorted by the module
  eval.topk = spec.topk;
  return eval;
}

GridPoint make_grid_point(const MethodEntry& entry, const json& values, const EvalSettings& eval) {
  json given = entry.fixed;
  for (const auto& [k, v] : values.items()) given[k] = v;
  GridPoint point;
  static_cast<Configuration&>(point) = Configuration::make(*entry.method, given, eval);
  point.method_id = entry.id;
  return point;
}

std::vector<GridPoint> expand_grid(const CampaignSpec& spec) {
  const EvalSettings eval = eval_settings(spec);
  std::vector<GridPoint> out;
  std::set<std::string> seen;
  auto add = [&](GridPoint c) {
    if (seen.insert(c.hash).second) out.push_back(std::move(c));
  };
  for (const MethodEntry& entry : spec.methods) {
    bool covered = false;
    for (const GridBlock& block : spec.grid) {
      if (!block.methods.empty() && !contains(block.methods, entry.id)) continue;
      covered = true;
      // One dimension per applicable axis and per zip group touching this method; each holds
      // the parameter assignments of its positions.
      std::vector<std::vector<json>> dims;
      for (const GridAxis& axis : block.axes) {
        if (!axis_applies(axis, entry)) continue;
        std::vector<json> dim;
        for (const json& v : axis.values) dim.push_back(json{{axis.param, v}});
        dims.push_back(std::move(dim));
      }
      for (const ZipGroup& zip : block.zips) {
        std::vector<const GridAxis*> mine;
        for (const GridAxis& axis : zip.axes)
          if (axis_applies(axis, entry)) mine.push_back(&axis);
        if (mine.empty()) continue;
        std::vector<json> dim(mine.front()->values.size(), json::object());
        for (const GridAxis* axis : mine)
          for (size_t i = 0; i < dim.size(); ++i) dim[i][axis->param] = axis->values[i];
        dims.push_back(std::move(dim));
      }
      // Odometer over the dimensions, last one fastest.
      std::vector<size_t> index(dims.size(), 0);
      while (true) {
        json values = json::object();
        for (size_t d = 0; d < dims.size(); ++d) values.update(dims[d][index[d]]);
        if (values.empty()) {
          add(entry_point(entry, eval));  // no axis of this block applies: the entry's own point
        } else {
          try {
            add(make_grid_point(entry, values, eval));
          } catch (const Error& e) {
            throw InputError(fmt::format("{}: method '{}', grid point {}: {}", block.location.str(), entry.id,
                                         describe_point(values), without_method_prefix(e.what(), *entry.method)));
          }
        }
        size_t d = dims.size();
        while (d > 0 && ++index[d - 1] == dims[d - 1].size()) index[--d] = 0;
        if (d == 0) break;
      }
    }
    if (!covered) add(entry_point(entry, eval));
  }
  return out;
}

}  // namespace ckv
