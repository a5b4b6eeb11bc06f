// Sweep spec reader and grid expansion (docs/spec/MISSION.md R1, R2, R13). docs/sweep-files.md is the reference for
// the format; this file is its only implementation. Every check happens here, before anything
// runs, and every failure names the offending key or value as "file:line:col: message".
#include "scheduler/spec.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "common/error.hpp"
#include "common/tasks.hpp"
#include "kernels/registry.hpp"

namespace ckv {

std::string SourceLocation::str() const { return fmt::format("{}:{}:{}", file, line, column); }

namespace {

const char* node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

std::string join(const std::vector<std::string>& items) {
  return items.empty() ? std::string("none") : fmt::format("{}", fmt::join(items, ", "));
}

bool is_valid_name(const std::string& s) {
  static const std::regex pattern("[A-Za-z0-9_.-]+");
  return std::regex_match(s, pattern);
}

bool contains(const std::vector<std::string>& items, const std::string& s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

bool before(const SourceLocation& a, const SourceLocation& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

// Reads one TOML document; every error it raises carries the location of the node or key at
// fault. Tables are std::maps in TOML++, so wherever file order matters it is recovered from
// source positions.
class SpecReader {
 public:
  SpecReader(const std::string& path) : path_(path) {}

  SourceLocation at(const toml::source_region& region) const {
    return SourceLocation{path_, int(region.begin.line), int(region.begin.column)};
  }
  SourceLocation at(const toml::node& node) const { return at(node.source()); }
  SourceLocation at(const toml::key& key) const { return at(key.source()); }

  [[noreturn]] void fail(const SourceLocation& where, const std::string& message) const {
    throw InputError(fmt::format("{}: {}", where.str(), message));
  }
  template <class Located>
  [[noreturn]] void fail(const Located& where, const std::string& message) const {
    fail(at(where), message);
  }

  void parse(const std::string& text, CampaignSpec& spec) {
    toml::table root;
    try {
      root = toml::parse(std::string_view(text), std::string_view(path_));
    } catch (const toml::parse_error& e) {
      fail(e.source(), std::string(e.description()));
    }
    static const std::vector<std::string> top_level = {"campaign", "data",    "metrics",
                                                       "run",      "methods", "grid"};
    for (auto&& [key, node] : root)
      if (!contains(top_level, std::string(key.str())))
        fail(key, fmt::format("unknown top-level key '{}' (valid: {})", key.str(), join(top_level)));

    const toml::table& campaign = require_table(root, "campaign");
    read_campaign(campaign, spec);
    read_data(require_table(root, "data"), spec.data);
    if (const toml::table* metrics = optional_table(root, "metrics")) read_metrics(*metrics, spec);
    if (const toml::table* run = optional_table(root, "run")) read_run(*run, spec.run);
    read_methods(root, spec);
    if (const toml::node* grid = root.get("grid")) read_grid(*grid, spec);
  }

 private:
  std::string path_;

  // ---- generic typed access -------------------------------------------------------------

  const toml::table& require_table(const toml::table& root, const std::string& name) {
    const toml::node* node = root.get(name);
    if (!node) fail(SourceLocation{path_, 1, 1}, fmt::format("missing required table [{}]", name));
    if (!node->is_table())
      fail(*node, fmt::format("'{}' must be a table ([{}]), got {}", name, name, node_type_name(*node)));
    return *node->as_table();
  }

  const toml::table* optional_table(const toml::table& parent, const std::string& name,
                                    const std::string& prefix = "") {
    const toml::node* node = parent.get(name);
    if (!node) return nullptr;
    if (!node->is_table())
      fail(*node, fmt::format("'{}{}' must be a table ([{}{}]), got {}", prefix, name, prefix, name,
                              node_type_name(*node)));
    return node->as_table();
  }

  void check_keys(const toml::table& table, const std::vector<std::string>& valid,
                  const std::string& where) {
    for (auto&& [key, node] : table)
      if (!contains(valid, std::string(key.str())))
        fail(key, fmt::format("unknown key '{}' in {} (valid: {})", key.str(), where, join(valid)));
  }

  const toml::node* required(const toml::table& table, const std::string& key,
                             const std::string& where) {
    const toml::node* node = table.get(key);
    if (!node) fail(table, fmt::format("missing required key '{}' in {}", key, where));
    return node;
  }

  std::string string_value(const toml::node& node, const std::string& name) {
    if (!node.is_string())
      fail(node, fmt::format("'{}' must be a string, got {}", name, node_type_name(node)));
    return node.as_string()->get();
  }

  long long int_value(const toml::node& node, const std::string& name, long long min,
                      long long max = std::numeric_limits<long long>::max()) {
    if (!node.is_integer())
      fail(node, fmt::format("'{}' must be an integer, got {}", name, node_type_name(node)));
    long long v = node.as_integer()->get();
    if (v < min || v > max) {
      if (max == std::numeric_limits<long long>::max())
        fail(node, fmt::format("'{}' = {} must be at least {}", name, v, min));
      fail(node, fmt::format("'{}' = {} is out of range [{}, {}]", name, v, min, max));
    }
    return v;
  }

  // A float key accepts an integer too (TOML writes 600 and 600.0 differently).
  double positive_float_value(const toml::node& node, const std::string& name) {
    double v = 0;
    if (node.is_floating_point()) v = node.as_floating_point()->get();
    else if (node.is_integer()) v = double(node.as_integer()->get());
    else fail(node, fmt::format("'{}' must be a number, got {}", name, node_type_name(node)));
    if (!(v > 0) || !std::isfinite(v))
      fail(node, fmt::format("'{}' = {} must be a positive number", name, v));
    return v;
  }

  const toml::array& array_value(const toml::node& node, const std::string& name) {
    if (!node.is_array())
      fail(node, fmt::format("'{}' must be a list, got {}", name, node_type_name(node)));
    return *node.as_array();
  }

  std::vector<std::string> string_list(const toml::node& node, const std::string& name) {
    std::vector<std::string> out;
    for (const toml::node& item : array_value(node, name)) {
      if (!item.is_string())
        fail(item, fmt::format("'{}' must hold strings, got {}", name, node_type_name(item)));
      std::string s = item.as_string()->get();
      if (contains(out, s)) fail(item, fmt::format("'{}' lists '{}' twice", name, s));
      out.push_back(s);
    }
    return out;
  }

  std::vector<int> layer_list(const toml::node& node, const std::string& name) {
    std::vector<int> out;
    for (const toml::node& item : array_value(node, name)) {
      int layer = int(int_value(item, name, 0, 100000));
      if (std::find(out.begin(), out.end(), layer) != out.end())
        fail(item, fmt::format("'{}' lists layer {} twice", name, layer));
      out.push_back(layer);
    }
    if (out.empty()) fail(node, fmt::format("'{}' must not be empty (leave it out for all layers)", name));
    return out;
  }

  // A parameter value as JSON, keeping TOML's integer/float distinction (docs/spec/MISSION.md R2 identity).
  json to_json(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::integer: return json(node.as_integer()->get());
      case toml::node_type::floating_point: return json(node.as_floating_point()->get());
      case toml::node_type::boolean: return json(node.as_boolean()->get());
      case toml::node_type::string: return json(node.as_string()->get());
      case toml::node_type::array: {
        json out = json::array();
        for (const toml::node& item : *node.as_array()) out.push_back(to_json(item));
        return out;
      }
      default:
        fail(node, fmt::format("a parameter value cannot be a {}", node_type_name(node)));
    }
  }

  // ---- [campaign], [data], [metrics], [run] ----------------------------------------------

  void read_campaign(const toml::table& table, CampaignSpec& spec) {
    check_keys(table, {"name", "database", "description"}, "[campaign]");
    const toml::node* name = required(table, "name", "[campaign]");
    spec.name = string_value(*name, "campaign.name");
    if (!is_valid_name(spec.name))
      fail(*name, fmt::format("campaign name '{}' may only contain letters, digits, '_', '.' and '-'",
                              spec.name));
    const toml::node* database = required(table, "database", "[campaign]");
    spec.database = string_value(*database, "campaign.database");
    if (spec.database.empty()) fail(*database, "'campaign.database' must not be empty");
    if (const toml::node* d = table.get("description"))
      spec.description = string_value(*d, "campaign.description");
  }

  void read_data(const toml::table& table, DataSpec& data) {
    check_keys(table, {"cache", "tasks", "samples_per_task", "layers", "synthetic"}, "[data]");
    const toml::node* cache = required(table, "cache", "[data]");
    data.cache_dir = string_value(*cache, "data.cache");
    if (data.cache_dir.empty()) fail(*cache, "'data.cache' must not be empty");
    if (const toml::node* tasks = table.get("tasks")) {
      data.tasks = string_list(*tasks, "data.tasks");
      if (data.tasks.empty()) fail(*tasks, "'data.tasks' must not be empty (leave it out for all tasks)");
    }
    if (const toml::node* n = table.get("samples_per_task"))
      data.samples_per_task = int(int_value(*n, "data.samples_per_task", 0, 1000000000));
    if (const toml::node* layers = table.get("layers")) data.layers = layer_list(*layers, "data.layers");
    if (const toml::table* synth = optional_table(table, "synthetic", "data."))
      data.synthetic = read_synthetic(*synth, table, data);
  }

  SynthOptions read_synthetic(const toml::table& table, const toml::table& data_table,
                              const DataSpec& data) {
    check_keys(table,
               {"tasks", "samples_per_task", "tokens", "heads", "kv_heads", "head_dim", "layers",
                "num_layers_model", "answer_tokens", "query_rows", "seed", "dtype"},
               "[data.synthetic]");
    SynthOptions o;
    o.out_dir = data.cache_dir;
    auto get = [&](const char* key) { return table.get(key); };
    auto name = [](const char* key) { return fmt::format("data.synthetic.{}", key); };
    // Defaults follow [data] so a campaign that only says [data.synthetic] gets the cache it reads.
    if (data.samples_per_task > 0) o.samples_per_task = data.samples_per_task;
    if (!data.layers.empty()) o.layers = data.layers;
    o.tasks = data.tasks;
    if (auto n = get("samples_per_task")) o.samples_per_task = int(int_value(*n, name("samples_per_task"), 1, 1000000));
    if (auto n = get("tokens")) o.tokens = int(int_value(*n, name("tokens"), 1, 10000000));
    if (auto n = get("heads")) o.heads = int(int_value(*n, name("heads"), 1, 4096));
    if (auto n = get("kv_heads")) o.kv_heads = int(int_value(*n, name("kv_heads"), 1, 4096));
    if (auto n = get("head_dim")) o.head_dim = int(int_value(*n, name("head_dim"), 1, 4096));
    if (auto n = get("num_layers_model")) o.num_layers_model = int(int_value(*n, name("num_layers_model"), 1, 100000));
    if (auto n = get("answer_tokens")) o.answer_tokens = int(int_value(*n, name("answer_tokens"), 1, 100000));
    if (auto n = get("query_rows")) o.query_rows = int(int_value(*n, name("query_rows"), 0, 10000000));
    if (auto n = get("seed")) o.seed = uint64_t(int_value(*n, name("seed"), 0));
    if (auto n = get("dtype")) {
      std::string d = string_value(*n, name("dtype"));
      if (d == "f16") o.dtype = DType::F16;
      else if (d == "bf16") o.dtype = DType::BF16;
      else if (d == "f32") o.dtype = DType::F32;
      else fail(*n, fmt::format("'data.synthetic.dtype' = \"{}\" is not one of: f16, bf16, f32", d));
    }
    if (o.heads % o.kv_heads != 0) {
      const toml::node* n = get("kv_heads") ? get("kv_heads") : get("heads");
      fail(n ? at(*n) : at(table), fmt::format("'data.synthetic.kv_heads' = {} must divide heads = {}",
                                               o.kv_heads, o.heads));
    }
    // Every task the generator is asked for must be a synthetic one; say where the name came from.
    const std::vector<std::string> synthetic = synthetic_task_names();
    const toml::node* tasks_node = get("tasks");
    if (tasks_node) o.tasks = string_list(*tasks_node, name("tasks"));
    else tasks_node = data_table.get("tasks");
    if (tasks_node) {
      const toml::array& list = *tasks_node->as_array();
      for (size_t i = 0; i < list.size(); ++i)
        if (!contains(synthetic, o.tasks[i]))
          fail(*list.get(i), fmt::format("'{}' is not a synthetic task, so [data.synthetic] cannot generate it (synthetic tasks: {})", o.tasks[i],
                                         join(synthetic)));
    }
    const toml::node* layers_node = get("layers");
    const bool own_layers = layers_node != nullptr;
    if (own_layers) o.layers = layer_list(*layers_node, name("layers"));
    else layers_node = data_table.get("layers");
    for (size_t i = 0; i < o.layers.size(); ++i)
      if (o.layers[i] >= o.num_layers_model) {
        SourceLocation where = layers_node ? at(*layers_node->as_array()->get(i)) : at(table);
        fail(where, fmt::format("synthetic layer {} is not below num_layers_model = {}", o.layers[i],
                                o.num_layers_model));
      }
    // The campaign reads [data] layers from the cache it generates: they must be generated.
    if (own_layers && !data.layers.empty()) {
      const toml::array& list = *data_table.get("layers")->as_array();
      for (size_t i = 0; i < data.layers.size(); ++i)
        if (std::find(o.layers.begin(), o.layers.end(), data.layers[i]) == o.layers.end())
          fail(*list.get(i), fmt::format("layer {} is not among the synthetic layers [{}]", data.layers[i],
                                         fmt::join(o.layers, ", ")));
    }
    return o;
  }

  void read_metrics(const toml::table& table, CampaignSpec& spec) {
    check_keys(table, {"topk"}, "[metrics]");
    if (const toml::node* n = table.get("topk")) spec.topk = int(int_value(*n, "metrics.topk", 1, EvalSettings::kMaxTopk));
  }

  void read_run(const toml::table& table, RunSpec& run) {
    check_keys(table, {"threads", "batch_units", "max_attempts", "unit_timeout", "commit_interval"},
               "[run]");
    if (auto n = table.get("threads")) run.threads = int(int_value(*n, "run.threads", 0, 4096));
    if (auto n = table.get("batch_units")) run.batch_units = int(int_value(*n, "run.batch_units", 1, 1000000));
    if (auto n = table.get("max_attempts")) run.max_attempts = int(int_value(*n, "run.max_attempts", 1, 1000));
    if (auto n = table.get("unit_timeout")) run.unit_timeout = positive_float_value(*n, "run.unit_timeout");
    if (auto n = table.get("commit_interval"))
      run.commit_interval = positive_float_value(*n, "run.commit_interval");
  }

  // ---- [[methods]] -------------------------------------------------------------------------

  // Checks one value of `param` for `method`, with a hint for list-valued parameters, whose
  // grid axes are lists of lists.
  json checked_value(const MethodDef& method, const ParamSpec& param, const toml::node& node,
                     bool in_axis) {
    json value = to_json(node);
    std::string error;
    if (!check_param_value(param, value, error)) {
      if (in_axis && param.type == ParamType::IntList && !value.is_array())
        error += fmt::format(" (a grid axis of a list-valued parameter is a list of lists, e.g. {} = [[5], [5, 15]])",
                             param.name);
      fail(node, fmt::format("method '{}': {}", method.name, error));
    }
    return value;
  }

  std::vector<std::string> param_names(const MethodDef& method) {
    std::vector<std::string> names;
    for (const auto& p : method.params) names.push_back(p.name);
    return names;
  }

  void read_methods(const toml::table& root, CampaignSpec& spec) {
    const toml::node* node = root.get("methods");
    if (!node) fail(SourceLocation{path_, 1, 1}, "missing required [[methods]] (at least one method)");
    if (!node->is_array_of_tables())
      fail(*node, fmt::format("'methods' must be an array of tables ([[methods]]), got {}", node_type_name(*node)));
    const toml::array& list = *node->as_array();
    if (list.empty()) fail(*node, "'methods' must hold at least one method");
    std::map<std::string, SourceLocation> seen;
    for (const toml::node& item : list) {
      const toml::table& table = *item.as_table();
      MethodEntry entry;
      entry.location = at(table);
      const toml::node* name_node = required(table, "name", "[[methods]]");
      std::string name = string_value(*name_node, "methods.name");
      entry.method = find_method(name);
      if (!entry.method)
        fail(*name_node, fmt::format("unknown method '{}' (registered: {})", name, join(method_names())));
      entry.id = name;
      const toml::node* id_node = name_node;
      if (const toml::node* label = table.get("label")) {
        entry.id = string_value(*label, "methods.label");
        id_node = label;
        if (!is_valid_name(entry.id))
          fail(*label, fmt::format("method label '{}' may only contain letters, digits, '_', '.' and '-'",
                                   entry.id));
        // A grid block's own keys would be ambiguous with a qualified axis of such a method.
        if (entry.id == "methods" || entry.id == "zip")
          fail(*label, fmt::format("method label '{}' is reserved (a [[grid]] key)", entry.id));
      }
      if (auto it = seen.find(entry.id); it != seen.end())
        fail(*id_node, fmt::format("duplicate method id '{}' (first at line {}); give one a distinct 'label'",
                                   entry.id, it->second.line));
      seen.emplace(entry.id, at(*id_node));
      for (auto&& [key, value] : table) {
        std::string param(key.str());
        if (param == "name" || param == "label") continue;
        const ParamSpec* ps = entry.method->find_param(param);
        if (!ps)
          fail(key, fmt::format("method '{}' has no parameter '{}' (valid: name, label, {})", name, param,
                                join(param_names(*entry.method))));
        entry.fixed[param] = checked_value(*entry.method, *ps, value, false);
      }
      spec.methods.push_back(std::move(entry));
    }
  }

  // ---- [[grid]] ------------------------------------------------------------------------------

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
  std::vector<json> axis_values(const toml::node& node, const std::string& label, const std::string& param,
                                const std::vector<const MethodEntry*>& targets) {
    if (!node.is_array())
      fail(node, fmt::format("grid axis '{}' must be a list of values, got {}", label, node_type_name(node)));
    const toml::array& list = *node.as_array();
    if (list.empty()) fail(node, fmt::format("grid axis '{}' has no values", label));
    std::vector<json> values;
    for (const toml::node& item : list) {
      json value;
      for (const MethodEntry* m : targets)
        value = checked_value(*m->method, *m->method->find_param(param), item, true);
      values.push_back(value);
    }
    return values;
  }

  // Reads the axes of a [[grid]] block or of one of its [[grid.zip]] groups. Keys that are
  // not axes (`methods`, `zip`) are handled by the caller and skipped here.
  std::vector<GridAxis> read_axes(const toml::table& table, const CampaignSpec& spec,
                                  const std::vector<const MethodEntry*>& block,
                                  const std::vector<std::string>& skip, const std::string& where) {
    std::vector<GridAxis> axes;
    for (auto&& [key, node] : table) {
      std::string name(key.str());
      if (contains(skip, name)) continue;
      if (node.is_table()) {  // method-qualified axes: <id>.<param> = [...]
        const MethodEntry* entry = find_entry(spec, name);
        if (!entry)
          fail(key, fmt::format("'{}' in {} is neither a parameter list nor a method id (method ids: {})", name,
                                where, join(method_ids(spec))));
        if (std::find(block.begin(), block.end(), entry) == block.end()) {
          std::vector<std::string> ids;
          for (const MethodEntry* m : block) ids.push_back(m->id);
          fail(key, fmt::format("method '{}' is not one of this grid block's methods ({})", name, join(ids)));
        }
        for (auto&& [pkey, pnode] : *node.as_table()) {
          std::string param(pkey.str());
          if (!entry->method->find_param(param))
            fail(pkey, fmt::format("method '{}' has no parameter '{}' (valid: {})", entry->method->name, param,
                                   join(param_names(*entry->method))));
          GridAxis axis;
          axis.method_id = name;
          axis.param = param;
          axis.location = at(pkey);
          axis.values = axis_values(pnode, name + "." + param, param, {entry});
          axes.push_back(std::move(axis));
        }
        continue;
      }
      std::vector<const MethodEntry*> targets;
      for (const MethodEntry* m : block)
        if (m->method->find_param(name)) targets.push_back(m);
      if (targets.empty()) {
        std::set<std::string> known;
        for (const MethodEntry* m : block)
          for (const auto& p : m->method->params) known.insert(p.name);
        fail(key, fmt::format("no method of this grid block has a parameter '{}' (their parameters: {})", name,
                              join(std::vector<std::string>(known.begin(), known.end()))));
      }
      GridAxis axis;
      axis.param = name;
      axis.location = at(key);
      axis.values = axis_values(node, name, name, targets);
      axes.push_back(std::move(axis));
    }
    // TOML++ tables are sorted by key; the product order follows the file instead.
    std::stable_sort(axes.begin(), axes.end(),
                     [](const GridAxis& a, const GridAxis& b) { return before(a.location, b.location); });
    return axes;
  }

  void read_grid(const toml::node& node, CampaignSpec& spec) {
    if (!node.is_array_of_tables())
      fail(node, fmt::format("'grid' must be an array of tables ([[grid]]), got {}", node_type_name(node)));
    for (const toml::node& item : *node.as_array()) {
      const toml::table& table = *item.as_table();
      GridBlock block;
      block.location = at(table);
      std::vector<const MethodEntry*> members;
      if (const toml::node* methods = table.get("methods")) {
        block.methods = string_list(*methods, "grid.methods");
        if (block.methods.empty()) fail(*methods, "'grid.methods' must not be empty (leave it out for all methods)");
        const toml::array& list = *methods->as_array();
        for (size_t i = 0; i < block.methods.size(); ++i) {
          const MethodEntry* entry = find_entry(spec, block.methods[i]);
          if (!entry)
            fail(*list.get(i), fmt::format("unknown method id '{}' in grid.methods (method ids: {})",
                                           block.methods[i], join(method_ids(spec))));
          members.push_back(entry);
        }
      } else {
        for (const auto& m : spec.methods) members.push_back(&m);
      }
      block.axes = read_axes(table, spec, members, {"methods", "zip"}, "[[grid]]");
      if (const toml::node* zips = table.get("zip")) {
        if (!zips->is_array_of_tables())
          fail(*zips, fmt::format("'grid.zip' must be an array of tables ([[grid.zip]]), got {}",
                                  node_type_name(*zips)));
        for (const toml::node& z : *zips->as_array()) {
          ZipGroup group;
          group.location = at(z);
          group.axes = read_axes(*z.as_table(), spec, members, {}, "[[grid.zip]]");
          if (group.axes.empty()) fail(z, "a [[grid.zip]] group needs at least one axis");
          const GridAxis& first = group.axes.front();
          for (const GridAxis& axis : group.axes)
            if (axis.values.size() != first.values.size())
              fail(axis.location, fmt::format("zip axes must have equal lengths: '{}' has {} values, '{}' has {}",
                                              axis_label(axis), axis.values.size(), axis_label(first),
                                              first.values.size()));
          block.zips.push_back(std::move(group));
        }
      }
      if (block.axes.empty() && block.zips.empty())
        fail(table, "a [[grid]] block needs at least one axis (a parameter list or a [[grid.zip]] group)");
      check_no_parameter_swept_twice(block, members);
      spec.grid.push_back(std::move(block));
    }
  }

  static std::string axis_label(const GridAxis& axis) {
    return axis.method_id.empty() ? axis.param : axis.method_id + "." + axis.param;
  }

  // Two axes of one block setting the same parameter of one method would make the point's
  // value depend on axis order; refuse it rather than pick one silently.
  void check_no_parameter_swept_twice(const GridBlock& block, const std::vector<const MethodEntry*>& members) {
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
          fail(a->location, fmt::format("parameter '{}' of method '{}' is swept twice in this grid block "
                                        "(also at line {})",
                                        a->param, m->id, it->second.line));
      }
    }
  }
};

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

CampaignSpec parse_spec(const std::string& text, const std::string& path) {
  CampaignSpec spec;
  spec.path = path;
  spec.text = text;
  SpecReader(path).parse(text, spec);
  return spec;
}

CampaignSpec load_spec(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("{}: is a directory, not a sweep file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open sweep file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: cannot read sweep file", path));
  return parse_spec(buffer.str(), path);
}

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
