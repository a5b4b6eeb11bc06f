#include "configuration/configuration.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "kernels/registry.hpp"

namespace ckv {

json EvalSettings::to_json() const {
  json eval = json::object();
  if (layers) {
    std::vector<int> sorted = *layers;  // layer order is not part of what is measured
    std::sort(sorted.begin(), sorted.end());
    eval["layers"] = sorted;
  } else {
    eval["layers"] = "all";
  }
  eval["topk"] = topk;
  // Left out at the legacy version: documents stored before the numerics version existed keep
  // their canonical form and hash (docs/database.md, "Identity across versions").
  if (numerics != kLegacyNumerics) eval["numerics"] = numerics;
  return eval;
}

EvalSettings EvalSettings::from_json(const json& eval) {
  CKV_CHECK(eval.is_object(), "eval must be an object {{\"layers\", \"topk\", \"numerics\"}}, got {}",
            eval.dump());
  EvalSettings out;
  out.numerics = kLegacyNumerics;  // a document without "numerics" was stored before it existed
  for (const auto& [key, value] : eval.items()) {
    if (key == "layers") {
      if (value.is_string() && value == "all") continue;
      CKV_CHECK(value.is_array(), "eval.layers must be \"all\" or a list of layers, got {}",
                value.dump());
      std::vector<int> list;
      for (const auto& layer : value) {
        CKV_CHECK(layer.is_number_integer() && layer.get<long long>() >= 0 &&
                      layer.get<long long>() <= 1000000,
                  "eval.layers: {} is not a layer index", layer.dump());
        list.push_back(layer.get<int>());
      }
      std::sort(list.begin(), list.end());
      CKV_CHECK(std::adjacent_find(list.begin(), list.end()) == list.end(),
                "eval.layers lists a layer twice: {}", value.dump());
      CKV_CHECK(!list.empty(), "eval.layers is empty (leave it out for all layers)");
      out.layers = std::move(list);
    } else if (key == "topk") {
      CKV_CHECK(value.is_number_integer() && value.get<long long>() >= 1 &&
                    value.get<long long>() <= kMaxTopk,
                "eval.topk must be an integer in [1, {}], got {}", kMaxTopk, value.dump());
      out.topk = value.get<int>();
    } else if (key == "numerics") {
      CKV_CHECK(value.is_number_integer() && value.get<long long>() >= kLegacyNumerics,
                "eval.numerics must be a numerics version, an integer from {} to {} (docs/database.md, "
                "\"Numerics versions\"), got {}",
                kLegacyNumerics, kNumericsVersion, value.dump());
      CKV_CHECK(value.get<long long>() <= kNumericsVersion,
                "eval.numerics {} is newer than this ckv-sweep knows (it computes numerics {}: {}); read "
                "it with the ckv-sweep that wrote it",
                value.dump(), kNumericsVersion, numerics_description(kNumericsVersion));
      out.numerics = value.get<int>();
    } else {
      CKV_FAIL("eval: unknown key '{}' (valid: layers, topk, numerics)", key);
    }
  }
  return out;
}

std::vector<int> EvalSettings::layers_of(const std::vector<int>& captured) const {
  return layers ? *layers : captured;
}

Configuration Configuration::make(const MethodDef& method, const json& given_params,
                                  const EvalSettings& eval) {
  // compression_ratio sets each sample's budget (round((1 - r) n)): a fixed budget beside it
  // would be ignored, so giving both is an error (a stored document holds both: from_document).
  if (given_params.is_object() && given_params.contains("budget") && given_params.contains("compression_ratio") &&
      given_params.at("compression_ratio") != json("none"))
    CKV_FAIL(
        "method '{}': give budget or compression_ratio, not both (compression_ratio r sets the budget of each "
        "sample of n tokens to round((1 - r) n))",
        method.name);
  EvalSettings current = eval;
  current.numerics = kNumericsVersion;  // a new configuration is computed by this build
  return build(method, given_params, current);
}

Configuration Configuration::build(const MethodDef& method, const json& given_params,
                                   const EvalSettings& eval) {
  Configuration c;
  c.method = &method;
  c.typed = parse_params(method, given_params);
  c.params = method.to_json(c.typed);
  c.eval = EvalSettings::from_json(eval.to_json());  // re-checked and sorted
  c.document = json{{"method", method.name}, {"params", c.params}, {"eval", c.eval.to_json()}};
  c.canonical = canonical_json(c.document);
  c.hash = sha256_hex(c.canonical);
  return c;
}

Configuration Configuration::make(const std::string& method, const json& given_params,
                                  const EvalSettings& eval) {
  return make(method_named(method), given_params, eval);
}

Configuration Configuration::from_document(const json& document) {
  CKV_CHECK(document.is_object() && document.contains("method") && document["method"].is_string(),
            "a configuration is a JSON object {{\"method\", \"params\", \"eval\"}}");
  for (const auto& [key, value] : document.items())
    CKV_CHECK(key == "method" || key == "params" || key == "eval",
              "configuration: unknown key '{}' (valid: method, params, eval)", key);
  const MethodDef& method = method_named(document["method"].get<std::string>());
  json params = document.value("params", json::object());
  CKV_CHECK(params.is_object(), "configuration: params must be an object, got {}", params.dump());
  // A parameter the canonical form leaves out holds its legacy value (identity across versions,
  // docs/database.md): a document stored before the parameter existed keeps its meaning.
  for (const ParamSpec& spec : method.params)
    if (!spec.legacy.is_null() && !params.contains(spec.key())) params[spec.key()] = spec.legacy;
  // The numerics the document names (legacy when it names none): a stored document keeps its
  // identity; whether this build can compute it is the caller's question (the worker refuses).
  return build(method, params, EvalSettings::from_json(document.value("eval", json::object())));
}

std::string Configuration::score_key() const { return ckv::score_key(*method, params); }

std::string Configuration::hash_under_numerics(int version) const {
  EvalSettings other = eval;
  other.numerics = version;
  json doc = document;
  doc["eval"] = other.to_json();
  return sha256_hex(canonical_json(doc));
}

json parse_settings(const std::vector<std::string>& settings, const std::string& method,
                    std::vector<std::string>* warnings) {
  const MethodDef* def = find_method(method);
  std::set<std::string> warned;
  json params = json::object();
  for (const std::string& text : settings) {
    const auto eq = text.find('=');
    CKV_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '{}'", text);
    std::string key = text.substr(0, eq);
    const std::string value = text.substr(eq + 1);
    if (const ParamSpec* renamed = def ? def->find_renamed_param(key) : nullptr) {
      if (warned.insert(key).second) {
        std::string warning = fmt::format("{}: {}", text, former_name_warning(*def, *renamed));
        if (warnings)
          warnings->push_back(std::move(warning));
        else
          fmt::print(stderr, "warning: {}\n", warning);  // stdout may be the command's output (inspect)
      }
      key = renamed->name;
    }
    json parsed = json::parse(value, nullptr, /*allow_exceptions=*/false);
    params[key] = parsed.is_discarded() ? json(value) : std::move(parsed);
  }
  return params;
}

std::string numerics_label(int version) {
  const char* description = numerics_description(version);
  return description ? fmt::format("numerics {} ({})", version, description)
                     : fmt::format("numerics {} (not known to this ckv-sweep)", version);
}

}  // namespace ckv
