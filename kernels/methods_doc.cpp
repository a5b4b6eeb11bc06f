#include "kernels/methods_doc.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/registry.hpp"

namespace ckv {

namespace {

// Table cells must not contain a bare '|'.
std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string bound(const ParamSpec& p, double v) {
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (p.type == ParamType::Int || p.type == ParamType::IntList)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string range(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::Bool: return "true, false";
    case ParamType::String: return fmt::format("{}", fmt::join(p.choices, ", "));
    case ParamType::FloatOrString:
      return fmt::format("[{}, {}] or {}", bound(p, p.min), bound(p, p.max),
                         fmt::join(p.choices, ", "));
    default: return fmt::format("[{}, {}]", bound(p, p.min), bound(p, p.max));
  }
}

// The default, with the conditional ones: "`x` (`y` when per_head = true)".
std::string default_text(const ParamSpec& p) {
  std::string out = fmt::format("`{}`", p.default_value.dump());
  for (const auto& c : p.conditional_defaults)
    out += fmt::format(" (`{}` when `{}` = `{}`)", c.value.dump(), c.when, c.equals.dump());
  return out;
}

// The help, plus what identity across versions and conventions add.
std::string help_text(const ParamSpec& p) {
  std::string out = p.help;
  if (!p.legacy.is_null())
    out += fmt::format(
        " [added later: `{}` reproduces the earlier behaviour and is left out of "
        "the canonical JSON]",
        p.legacy.dump());
  for (const auto& [choice, values] : p.presets) {
    std::vector<std::string> sets;
    for (const auto& [name, value] : values.items())
      sets.push_back(fmt::format("{} = {}", name, value.dump()));
    out += fmt::format(" `{}`: {}.", choice, fmt::join(sets, ", "));
  }
  return out;
}

}  // namespace

std::string methods_markdown() {
  std::string out;
  for (const MethodDef& m : method_registry()) {
    out += fmt::format("### `{}`\n\n{}\n\nSource: {}.", m.name, m.summary, m.source);
    out += m.uses_selection ? " Keep-sets by the common selection rules.\n\n" : " Evicts nothing.\n\n";
    if (m.params.empty()) {
      out += "No parameters.\n\n";
      continue;
    }
    out += "| parameter | type | default | range | scores | help |\n";
    out += "|---|---|---|---|---|---|\n";
    for (const ParamSpec& p : m.params)
      out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", p.name, param_type_name(p.type),
                         cell(default_text(p)), cell(range(p)),
                         p.is_preset() ? "—" : p.affects_scores ? "yes"
                                                                : "no",
                         cell(help_text(p)));
    out += "\n";
  }
  return out;
}

}  // namespace ckv
