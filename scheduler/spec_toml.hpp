// Typed reading of sweep-file TOML values (docs/sweep-files.md): every accessor checks the
// node's type and range and, on a mistake, throws ckv::InputError as "file:line:col: message"
// naming the key. Internal to the sweep-file reader (scheduler/spec_*.cpp).
#pragma once
#include <limits>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "common/canonical_json.hpp"
#include "scheduler/spec.hpp"

namespace ckv::spec_detail {

const char* node_type_name(const toml::node& node);
std::string join(const std::vector<std::string>& items);  // "a, b, c" or "none"
bool is_valid_name(const std::string& s);                 // [A-Za-z0-9_.-]+
bool contains(const std::vector<std::string>& items, const std::string& s);
bool before(const SourceLocation& a, const SourceLocation& b);  // file order
// For an unknown name: "did you mean 'budget'?" when one of `valid` is a slip of the keyboard
// away, else "<label>: a, b, c" (the whole list).
std::string suggest_or_list(const std::string& word, const std::vector<std::string>& valid,
                            const std::string& label = "valid");

// The reader of one sweep file's values. Tables are std::maps in TOML++, so wherever file
// order matters it is recovered from source positions (before()).
class TomlReader {
 public:
  explicit TomlReader(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  SourceLocation at(const toml::source_region& region) const;
  SourceLocation at(const toml::node& node) const { return at(node.source()); }
  SourceLocation at(const toml::key& key) const { return at(key.source()); }
  SourceLocation file_start() const { return SourceLocation{path_, 1, 1}; }

  [[noreturn]] void fail(const SourceLocation& where, const std::string& message) const;
  template <class Located>
  [[noreturn]] void fail(const Located& where, const std::string& message) const {
    fail(at(where), message);
  }

  // The document itself; a syntax error is reported where TOML++ found it.
  toml::table parse_document(const std::string& text) const;

  const toml::table& require_table(const toml::table& root, const std::string& name) const;
  const toml::table* optional_table(const toml::table& parent, const std::string& name,
                                    const std::string& prefix = "") const;
  void check_keys(const toml::table& table, const std::vector<std::string>& valid,
                  const std::string& where) const;
  const toml::node* required(const toml::table& table, const std::string& key, const std::string& where) const;

  std::string string_value(const toml::node& node, const std::string& name) const;
  long long int_value(const toml::node& node, const std::string& name, long long min,
                      long long max = std::numeric_limits<long long>::max()) const;
  // A float key accepts an integer too (TOML writes 600 and 600.0 differently).
  double positive_float_value(const toml::node& node, const std::string& name) const;
  const toml::array& array_value(const toml::node& node, const std::string& name) const;
  std::vector<std::string> string_list(const toml::node& node, const std::string& name) const;
  std::vector<int> layer_list(const toml::node& node, const std::string& name) const;
  // A parameter value as JSON, keeping TOML's integer/float distinction (docs/spec/MISSION.md R2 identity).
  json to_json(const toml::node& node) const;

 private:
  std::string path_;
};

}  // namespace ckv::spec_detail
