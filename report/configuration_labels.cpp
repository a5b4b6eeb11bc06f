#include "report/configuration_labels.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "kernels/numerics.hpp"
#include "kernels/registry.hpp"

namespace ckv {

std::map<std::string, json> flat_parameters(const json& document) {
  std::map<std::string, json> out;
  // Parameters under the names readers know: a renamed one is stored under its former name.
  const auto method = document.find("method");
  const std::string method_name = method != document.end() && method->is_string() ? method->get<std::string>() : "";
  if (auto params = document.find("params"); params != document.end() && params->is_object())
    for (const auto& [key, value] : params->items()) out[param_display_name(method_name, key)] = value;
  if (auto eval = document.find("eval"); eval != document.end() && eval->is_object())
    for (const auto& [key, value] : eval->items()) out["eval." + key] = value;
  out.emplace("eval.numerics", kLegacyNumerics);
  return out;
}

int numerics_of(const json& document) {
  // A copy: a reference into the temporary map would dangle at the end of this statement.
  const json n = flat_parameters(document).at("eval.numerics");
  return n.is_number_integer() ? n.get<int>() : kLegacyNumerics;
}

std::string parameter_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    if (v.empty()) return "-";
    std::string s;
    for (const auto& item : v) s += (s.empty() ? "" : "+") + parameter_text(item);
    return s;
  }
  return v.dump();
}

std::vector<std::string> varying_parameters(const std::vector<ConfigurationRef>& configurations) {
  std::vector<std::string> order;
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // method -> key -> values
  for (const auto& c : configurations)
    for (const auto& [key, value] : flat_parameters(c.document)) {
      if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
      values[c.method][key].insert(canonical_json(value));
    }
  std::vector<std::string> out;
  for (const auto& key : order)
    for (const auto& [method, keys] : values)
      if (auto it = keys.find(key); it != keys.end() && it->second.size() > 1) {
        out.push_back(key);
        break;
      }
  return out;
}

std::vector<std::string> configuration_labels(const std::vector<ConfigurationRef>& configurations) {
  const std::vector<std::string> varying = varying_parameters(configurations);
  std::vector<std::string> labels;
  for (const auto& c : configurations) {
    const auto params = flat_parameters(c.document);
    std::string label = c.method;
    for (const auto& key : varying)
      if (auto it = params.find(key); it != params.end()) label += " " + key + "=" + parameter_text(it->second);
    labels.push_back(label);
  }
  std::map<std::string, int> seen;
  for (const auto& l : labels) ++seen[l];
  for (size_t i = 0; i < labels.size(); ++i)
    if (seen[labels[i]] > 1) labels[i] += " [" + configurations[i].hash.substr(0, 12) + "]";
  return labels;
}

std::vector<size_t> match_configurations(const std::vector<ConfigurationRef>& configurations,
                                         const std::string& given) {
  std::vector<size_t> out;
  const bool hex = given.size() >= 4 && given.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hex) {
    for (size_t i = 0; i < configurations.size(); ++i)
      if (configurations[i].hash.compare(0, given.size(), given) == 0) out.push_back(i);
    if (!out.empty()) return out;
  }
  // "METHOD key=value ...", also with a trailing " [hash]" as configuration_labels writes it.
  std::istringstream words(given);
  std::string method, word;
  words >> method;
  std::vector<std::pair<std::string, std::string>> wanted;
  std::string hash_prefix;
  while (words >> word) {
    if (word.size() > 2 && word.front() == '[' && word.back() == ']') {
      hash_prefix = word.substr(1, word.size() - 2);
      continue;
    }
    const auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0) return {};
    wanted.emplace_back(param_display_name(method, word.substr(0, eq)), word.substr(eq + 1));
  }
  if (method.empty()) return {};
  for (size_t i = 0; i < configurations.size(); ++i) {
    const ConfigurationRef& c = configurations[i];
    if (c.method != method || c.hash.compare(0, hash_prefix.size(), hash_prefix) != 0) continue;
    const auto params = flat_parameters(c.document);
    bool all = true;
    for (const auto& [key, value] : wanted) {
      auto it = params.find(key);
      if (it == params.end()) it = params.find("eval." + key);
      all = all && it != params.end() && parameter_text(it->second) == value;
    }
    if (all) out.push_back(i);
  }
  return out;
}

}  // namespace ckv
