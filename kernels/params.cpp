#include "kernels/params.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ckv {

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::IntList: return "int list";
    case ParamType::FloatOrString: return "float or string";
  }
  return "?";
}

namespace {

std::string range_text(const ParamSpec& spec) {
  auto bound = [&](double v) {
    if (std::isinf(v)) return std::string(v < 0 ? "-inf" : "inf");
    if (spec.type == ParamType::Int || spec.type == ParamType::IntList)
      return fmt::format("{}", static_cast<long long>(v));
    return fmt::format("{}", v);
  };
  return fmt::format("[{}, {}]", bound(spec.min), bound(spec.max));
}

bool in_range(const ParamSpec& spec, double v) { return v >= spec.min && v <= spec.max; }

std::optional<json> check_number(const ParamSpec& spec, const json& value, bool want_int,
                                 std::string& error) {
  if (want_int) {
    if (!value.is_number_integer()) {
      error = fmt::format("parameter '{}' must be an integer, got {}", spec.name, value.dump());
      return std::nullopt;
    }
    long long v = value.get<long long>();
    if (!in_range(spec, double(v))) {
      error = fmt::format("parameter '{}' = {} is out of range {}", spec.name, v, range_text(spec));
      return std::nullopt;
    }
    return json(v);
  }
  if (!value.is_number()) {
    error = fmt::format("parameter '{}' must be a number, got {}", spec.name, value.dump());
    return std::nullopt;
  }
  double v = value.get<double>();
  if (!std::isfinite(v) || !in_range(spec, v)) {
    error = fmt::format("parameter '{}' = {} is out of range {}", spec.name, value.dump(),
                        range_text(spec));
    return std::nullopt;
  }
  return json(v);
}

bool is_choice(const ParamSpec& spec, const std::string& s) {
  for (const auto& c : spec.choices)
    if (c == s) return true;
  return false;
}

}  // namespace

std::optional<json> check_param_value(const ParamSpec& spec, const json& value, std::string& error) {
  switch (spec.type) {
    case ParamType::Bool:
      if (!value.is_boolean()) {
        error = fmt::format("parameter '{}' must be true or false, got {}", spec.name, value.dump());
        return std::nullopt;
      }
      return value;
    case ParamType::Int:
      return check_number(spec, value, true, error);
    case ParamType::Float:
      return check_number(spec, value, false, error);
    case ParamType::String:
      if (!value.is_string() || !is_choice(spec, value.get<std::string>())) {
        error = fmt::format("parameter '{}' = {} is not one of: {}", spec.name, value.dump(),
                            fmt::join(spec.choices, ", "));
        return std::nullopt;
      }
      return value;
    case ParamType::FloatOrString:
      if (value.is_string()) {
        if (!is_choice(spec, value.get<std::string>())) {
          error = fmt::format("parameter '{}' = {} must be a number or one of: {}", spec.name,
                              value.dump(), fmt::join(spec.choices, ", "));
          return std::nullopt;
        }
        return value;
      }
      return check_number(spec, value, false, error);
    case ParamType::IntList: {
      // An empty list is accepted only where the default is empty (it means "not set", e.g.
      // scales = [] is a single walk length).
      const bool empty_ok = spec.default_value.is_array() && spec.default_value.empty();
      if (!value.is_array() || (value.empty() && !empty_ok)) {
        error = fmt::format("parameter '{}' must be a non-empty list of integers, got {}", spec.name,
                            value.dump());
        return std::nullopt;
      }
      json out = json::array();
      for (const auto& item : value) {
        if (!item.is_number_integer() || !in_range(spec, double(item.get<long long>()))) {
          error = fmt::format("parameter '{}': element {} must be an integer in {}", spec.name,
                              item.dump(), range_text(spec));
          return std::nullopt;
        }
        out.push_back(item.get<long long>());
      }
      return out;
    }
  }
  error = "unknown parameter type";
  return std::nullopt;
}

}  // namespace ckv
