// `include` in sweep files: other TOML files' tables merged into the including document.
#include "scheduler/spec_include.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace ckv::spec_detail {

namespace {

class IncludeResolver {
 public:
  IncludeResolver(const TomlReader& in, std::string& resolved_text) : in_(in), resolved_text_(resolved_text) {}

  toml::table document(const std::string& path, const std::string& text) {
    stack_.push_back(fs::path(path).lexically_normal().string());
    toml::table root = TomlReader(path).parse_document(text);
    if (toml::node* include = root.get("include")) {
      std::vector<const toml::node*> names;
      if (include->is_string()) {
        names.push_back(include);
      } else if (include->is_array()) {
        for (const toml::node& item : *include->as_array()) names.push_back(&item);
        if (names.empty()) in_.fail(*include, "'include' must name at least one file");
      } else {
        in_.fail(*include, fmt::format("'include' must be a file name or a list of file names, got {}",
                                       node_type_name(*include)));
      }
      std::vector<toml::table> included;
      included.reserve(names.size());
      for (const toml::node* name : names) included.push_back(read_included(path, *name));
      root.erase("include");
      for (toml::table& other : included) merge(root, other, "");
    }
    stack_.pop_back();
    return root;
  }

 private:
  const TomlReader& in_;
  std::string& resolved_text_;
  std::vector<std::string> stack_;  // the files being read, outermost first (cycle detection)

  toml::table read_included(const std::string& including, const toml::node& name_node) {
    if (!name_node.is_string())
      in_.fail(name_node, fmt::format("'include' must hold file names (strings), got {}", node_type_name(name_node)));
    const std::string name = name_node.as_string()->get();
    if (name.empty()) in_.fail(name_node, "'include' names an empty file name");
    fs::path target = fs::path(name);
    if (target.is_relative()) target = fs::path(including).parent_path() / target;
    const std::string path = target.lexically_normal().string();
    for (size_t i = 0; i < stack_.size(); ++i)
      if (stack_[i] == path) {
        std::string chain;
        for (size_t j = i; j < stack_.size(); ++j) chain += stack_[j] + " -> ";
        in_.fail(name_node, fmt::format("include cycle: {}{}", chain, path));
      }
    std::error_code ec;
    if (fs::is_directory(path, ec)) in_.fail(name_node, fmt::format("included file '{}' is a directory", path));
    // A device or a pipe would be read forever (/dev/zero) or block (a FIFO with no writer).
    if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
      in_.fail(name_node, fmt::format("included file '{}' is not a regular file", path));
    std::ifstream file(path, std::ios::binary);
    if (!file) in_.fail(name_node, fmt::format("cannot open included file '{}'", path));
    std::stringstream buffer;
    buffer << file.rdbuf();
    if (file.bad()) in_.fail(name_node, fmt::format("cannot read included file '{}'", path));
    resolved_text_ += fmt::format("\n# ---- included from {} ----\n{}", path, buffer.str());
    return document(path, buffer.str());
  }

  // Moves every entry of `from` into `into`; tables present in both are merged, anything else
  // present in both is refused. Moving (not copying) keeps each node's source file and position.
  void merge(toml::table& into, toml::table& from, const std::string& prefix) {
    for (auto&& [key, node] : from) {
      const std::string name = prefix + std::string(key.str());
      toml::node* existing = into.get(key.str());
      if (existing && existing->is_table() && node.is_table()) {
        merge(*existing->as_table(), *node.as_table(), name + ".");
        continue;
      }
      if (existing)
        in_.fail(*existing, fmt::format("'{}' is set both here and in {} (an included file's keys may not be "
                                        "set again)",
                                        name, in_.at(key).str()));
      // `from` is consumed: each value is an lvalue of it, moved on purpose.
      node.visit([&, key = key](auto& value) { into.insert(key, std::move(value)); });
    }
  }
};

}  // namespace

toml::table read_with_includes(const TomlReader& in, const std::string& text, std::string& resolved_text) {
  resolved_text = text;
  return IncludeResolver(in, resolved_text).document(in.path(), text);
}

}  // namespace ckv::spec_detail
