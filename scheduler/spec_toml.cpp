// Typed reading of sweep-file TOML values with file:line:col messages (scheduler/spec_toml.hpp).
#include "scheduler/spec_toml.hpp"

#include <algorithm>
#include <cmath>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "common/suggest.hpp"

namespace ckv::spec_detail {

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

std::string suggest_or_list(const std::string& word, const std::vector<std::string>& valid,
                            const std::string& label) {
  if (auto name = closest_name(word, valid)) return fmt::format("did you mean '{}'?", *name);
  return fmt::format("{}: {}", label, join(valid));
}

SourceLocation TomlReader::at(const toml::source_region& region) const {
  // A node read from an included file names that file (scheduler/spec_include.hpp).
  const std::string& file = region.path && !region.path->empty() ? *region.path : path_;
  return SourceLocation{file, int(region.begin.line), int(region.begin.column)};
}

void TomlReader::fail(const SourceLocation& where, const std::string& message) const {
  throw InputError(fmt::format("{}: {}", where.str(), message));
}

toml::table TomlReader::parse_document(const std::string& text) const {
  try {
    return toml::parse(std::string_view(text), std::string_view(path_));
  } catch (const toml::parse_error& e) {
    fail(e.source(), std::string(e.description()));
  }
}

const toml::table& TomlReader::require_table(const toml::table& root, const std::string& name) const {
  const toml::node* node = root.get(name);
  if (!node) fail(file_start(), fmt::format("missing required table [{}]", name));
  if (!node->is_table())
    fail(*node, fmt::format("'{}' must be a table ([{}]), got {}", name, name, node_type_name(*node)));
  return *node->as_table();
}

const toml::table* TomlReader::optional_table(const toml::table& parent, const std::string& name,
                                              const std::string& prefix) const {
  const toml::node* node = parent.get(name);
  if (!node) return nullptr;
  if (!node->is_table())
    fail(*node, fmt::format("'{}{}' must be a table ([{}{}]), got {}", prefix, name, prefix, name,
                            node_type_name(*node)));
  return node->as_table();
}

void TomlReader::check_keys(const toml::table& table, const std::vector<std::string>& valid,
                            const std::string& where) const {
  for (auto&& [key, node] : table)
    if (!contains(valid, std::string(key.str())))
      fail(key, fmt::format("unknown key '{}' in {} ({})", key.str(), where,
                            suggest_or_list(std::string(key.str()), valid)));
}

const toml::node* TomlReader::required(const toml::table& table, const std::string& key,
                                       const std::string& where) const {
  const toml::node* node = table.get(key);
  if (!node) fail(table, fmt::format("missing required key '{}' in {}", key, where));
  return node;
}

std::string TomlReader::string_value(const toml::node& node, const std::string& name) const {
  if (!node.is_string()) fail(node, fmt::format("'{}' must be a string, got {}", name, node_type_name(node)));
  return node.as_string()->get();
}

long long TomlReader::int_value(const toml::node& node, const std::string& name, long long min,
                                long long max) const {
  if (!node.is_integer()) fail(node, fmt::format("'{}' must be an integer, got {}", name, node_type_name(node)));
  long long v = node.as_integer()->get();
  if (v < min || v > max) {
    if (max == std::numeric_limits<long long>::max())
      fail(node, fmt::format("'{}' = {} must be at least {}", name, v, min));
    fail(node, fmt::format("'{}' = {} is out of range [{}, {}]", name, v, min, max));
  }
  return v;
}

double TomlReader::positive_float_value(const toml::node& node, const std::string& name) const {
  double v = 0;
  if (node.is_floating_point()) v = node.as_floating_point()->get();
  else if (node.is_integer()) v = double(node.as_integer()->get());
  else fail(node, fmt::format("'{}' must be a number, got {}", name, node_type_name(node)));
  if (!(v > 0) || !std::isfinite(v)) fail(node, fmt::format("'{}' = {} must be a positive number", name, v));
  return v;
}

const toml::array& TomlReader::array_value(const toml::node& node, const std::string& name) const {
  if (!node.is_array()) fail(node, fmt::format("'{}' must be a list, got {}", name, node_type_name(node)));
  return *node.as_array();
}

std::vector<std::string> TomlReader::string_list(const toml::node& node, const std::string& name) const {
  std::vector<std::string> out;
  for (const toml::node& item : array_value(node, name)) {
    if (!item.is_string()) fail(item, fmt::format("'{}' must hold strings, got {}", name, node_type_name(item)));
    std::string s = item.as_string()->get();
    if (contains(out, s)) fail(item, fmt::format("'{}' lists '{}' twice", name, s));
    out.push_back(s);
  }
  return out;
}

std::vector<int> TomlReader::layer_list(const toml::node& node, const std::string& name) const {
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

json TomlReader::to_json(const toml::node& node) const {
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
    default: fail(node, fmt::format("a parameter value cannot be a {}", node_type_name(node)));
  }
}

}  // namespace ckv::spec_detail
