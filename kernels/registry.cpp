#include "kernels/registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/method_factories.hpp"

namespace ckv {

const ParamSpec* MethodDef::find_param(const std::string& param) const {
  for (const auto& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

const ParamSpec* MethodDef::find_renamed_param(const std::string& former) const {
  for (const auto& p : params)
    if (p.renamed() && p.stored_as == former) return &p;
  return nullptr;
}

std::string MethodDef::full_rows_reason(const MethodParams& params) const {
  return full_rows_reason_ ? full_rows_reason_(params) : std::string();
}

Scores MethodDef::score(LayerContext& context, const MethodParams& params) const {
  if (context.device().is_cuda() && cuda_) return cuda_(context, params);
  return cpu_(context, params);
}

Scores MethodDef::score_cuda(LayerContext& context, const MethodParams& params) const {
  CKV_CHECK(cuda_, "method '{}' has no CUDA twin in this binary", name);
  return cuda_(context, params);
}

namespace {

// A convention may only set declared parameters to valid values, and a conditional default may
// only depend on a declared parameter whose own default is unconditional: mistakes here are
// programming errors, caught on first use of the registry (and by every test).
void check_method_definition(const MethodDef& m) {
  for (const ParamSpec& p : m.params) {
    if (p.renamed())
      for (const ParamSpec& other : m.params)
        CKV_CHECK(&other == &p || (other.name != p.stored_as && other.stored_as != p.stored_as),
                  "method '{}': the former name '{}' of '{}' is taken", m.name, p.stored_as, p.name);
    for (const auto& [choice, values] : p.presets)
      for (const auto& [name, value] : values.items()) {
        const ParamSpec* target = m.find_param(name);
        CKV_CHECK(target && !target->is_preset(),
                  "method '{}': convention '{}' sets unknown "
                  "parameter '{}'",
                  m.name, choice, name);
        std::string error;
        CKV_CHECK(check_param_value(*target, value, error), "method '{}': convention '{}': {}",
                  m.name, choice, error);
      }
    for (const auto& c : p.conditional_defaults) {
      const ParamSpec* when = m.find_param(c.when);
      CKV_CHECK(when && when->conditional_defaults.empty(),
                "method '{}': the default of '{}' depends on '{}', which is not a parameter with "
                "an unconditional default",
                m.name, p.name, c.when);
    }
  }
}

}  // namespace

const std::vector<MethodDef>& method_registry() {
  // One line per implemented method (docs/spec/METHODS.md registry names).
  static const std::vector<MethodDef> methods = [] {
    std::vector<MethodDef> list;
    list.push_back(make_full_method());
    list.push_back(make_random_method());
    list.push_back(make_streaming_llm_method());
    list.push_back(make_h2o_method());
    list.push_back(make_snapkv_method());
    list.push_back(make_pyramidkv_method());
    list.push_back(make_tova_method());
    list.push_back(make_knorm_method());
    list.push_back(make_circuitkv_neumann_method());
    list.push_back(make_circuitkv_walk_method());
    list.push_back(make_circuitkv_influence_method());
    list.push_back(make_rc_method());
    list.push_back(make_rwr_method());
    for (const MethodDef& m : list) check_method_definition(m);
    return list;
  }();
  return methods;
}

const MethodDef* find_method(const std::string& name) {
  for (const auto& m : method_registry())
    if (m.name == name) return &m;
  return nullptr;
}

const MethodDef& method_named(const std::string& name) {
  const MethodDef* m = find_method(name);
  if (!m) CKV_FAIL("unknown method '{}' (valid: {})", name, fmt::join(method_names(), ", "));
  return *m;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : method_registry()) names.push_back(m.name);
  return names;
}

MethodParams parse_params(const MethodDef& method, const json& given) {
  CKV_CHECK(given.is_object(), "parameters of method '{}' must be a table", method.name);
  // `checked` is keyed by each parameter's key() (its former name when it was renamed); a given
  // name is the parameter's name or, for a renamed one, its former name (stored documents).
  json checked = json::object();
  for (const auto& [name, value] : given.items()) {
    const ParamSpec* spec = method.find_param(name);
    if (!spec) spec = method.find_renamed_param(name);
    if (!spec) {
      std::vector<std::string> valid;
      for (const auto& p : method.params) valid.push_back(p.name);
      CKV_FAIL("method '{}' has no parameter '{}' (valid: {})", method.name, name,
               valid.empty() ? std::string("none") : fmt::format("{}", fmt::join(valid, ", ")));
    }
    std::string error;
    auto value_checked = check_param_value(*spec, value, error);
    if (!value_checked) CKV_FAIL("method '{}': {}", method.name, error);
    CKV_CHECK(!checked.contains(spec->key()), "method '{}': parameter '{}' is given twice (as '{}' and as '{}')",
              method.name, spec->name, spec->name, spec->stored_as);
    checked[spec->key()] = *value_checked;
  }
  // A convention sets the parameters of its reference that were not given explicitly.
  for (const auto& p : method.params) {
    if (!p.is_preset() || !checked.contains(p.key())) continue;
    for (const auto& [choice, values] : p.presets)
      if (checked.at(p.key()) == choice)
        for (const auto& [name, value] : values.items()) {
          const std::string& key = method.find_param(name)->key();  // checked at registration
          if (!checked.contains(key)) checked[key] = value;
        }
  }
  // Defaults: conditional ones read the other parameter's given value or its plain default.
  auto resolved_value = [&](const std::string& name) -> json {
    const ParamSpec* spec = method.find_param(name);
    if (!spec) return json();
    if (checked.contains(spec->key())) return checked.at(spec->key());
    return spec->default_value;
  };
  json defaults = json::object();
  for (const auto& p : method.params) {
    if (checked.contains(p.key())) continue;
    json value = p.default_value;
    for (const auto& c : p.conditional_defaults)
      if (resolved_value(c.when) == c.equals) {
        value = c.value;
        break;
      }
    defaults[p.key()] = value;
  }
  checked.update(defaults);
  MethodParams typed = method.parse(checked);
  std::string error = method.validate(typed);
  if (!error.empty()) CKV_FAIL("method '{}': {}", method.name, error);
  return typed;
}

std::string param_display_name(const std::string& method, const std::string& key) {
  const MethodDef* m = find_method(method);
  const ParamSpec* renamed = m ? m->find_renamed_param(key) : nullptr;
  return renamed ? renamed->name : key;
}

json display_params(const std::string& method, const json& params) {
  if (!params.is_object()) return params;
  json out = json::object();
  for (const auto& [key, value] : params.items()) out[param_display_name(method, key)] = value;
  return out;
}

json display_document(const json& document) {
  if (!document.is_object() || !document.contains("method") || !document["method"].is_string() ||
      !document.contains("params"))
    return document;
  json out = document;
  out["params"] = display_params(document["method"].get<std::string>(), document["params"]);
  return out;
}

std::string former_name_warning(const MethodDef& method, const ParamSpec& param) {
  return fmt::format(
      "'{}' is the former name of {}'s parameter '{}'; read as '{}' for now, it will be refused in "
      "a later version",
      param.stored_as, method.name, param.name, param.name);
}

Params resolve_params(const MethodDef& method, const json& given) {
  return method.to_json(parse_params(method, given));
}

std::string score_key(const MethodDef& method, const Params& resolved) {
  json key = json::object();
  for (const auto& p : method.params)
    if (p.affects_scores && resolved.contains(p.key())) key[p.key()] = resolved.at(p.key());
  return method.name + ":" + canonical_json(key);
}

}  // namespace ckv
