// `ckv-sweep methods`: the registry, the single source for sweep validation, --help and docs.
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "kernels/methods_doc.hpp"
#include "kernels/registry.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int methods_command(int argc, char** argv) {
  po::options_description options("methods options");
  std::string name;
  bool markdown = false;
  options.add_options()("method", po::value(&name), "show one method")("markdown", po::bool_switch(&markdown), "print the registry section of docs/methods.md");
  po::positional_options_description positional;
  positional.add("method", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep methods [NAME] [--markdown]", options, positional, vm)) return kExitOk;
  if (markdown) {
    std::cout << methods_markdown();
    return kExitOk;
  }
  for (const auto& m : method_registry()) {
    if (!name.empty() && m.name != name) continue;
    fmt::print("{:<20} {}{}\n", m.name, m.summary, m.has_cuda ? "  [CPU+CUDA]" : "  [CPU]");
    if (name.empty()) continue;
    for (const auto& p : m.params) {
      std::string range;
      if (!p.choices.empty()) range = fmt::format("{{{}}}", fmt::join(p.choices, ", "));
      else if (p.type != ParamType::Bool && p.type != ParamType::String)
        range = fmt::format("[{}, {}]", p.min, p.max);
      fmt::print("  {:<20} {:<16} default {:<10} {:<22} {}\n", p.name, param_type_name(p.type),
                 p.default_value.dump(), range, p.help);
    }
  }
  if (!name.empty() && !find_method(name))
    CKV_FAIL("unknown method '{}' (valid: {})", name, fmt::format("{}", fmt::join(method_names(), ", ")));
  return kExitOk;
}

}  // namespace ckv::cli
