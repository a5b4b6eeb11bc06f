// Parameter schemas (R1, R2 in docs/spec/MISSION.md): every method declares its parameters
// (name, type, range, default, help) once, bound to the fields of its typed parameter struct.
// Sweep validation, `--help`, `inspect`, docs/methods.md and the canonical identity all read
// these declarations; the kernels read only the typed struct, never JSON.
#pragma once
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/canonical_json.hpp"
#include "common/error.hpp"

namespace ckv {

enum class ParamType {
  Bool,
  Int,
  Float,
  String,         // one of `choices`
  IntList,        // e.g. scales = [5, 15, 50]
  FloatOrString,  // a number, or one of `choices` (temperature = "adaptive")
};

const char* param_type_name(ParamType type);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  json default_value;
  double min = -std::numeric_limits<double>::infinity();  // inclusive bounds for numbers
  double max = std::numeric_limits<double>::infinity();   // (and for IntList elements)
  std::vector<std::string> choices;
  std::string help;
  // false for parameters that only change which tokens are kept, not the scores (budget,
  // budget_mode, ...): configurations that differ only in these share one scoring pass.
  bool affects_scores = true;

  // Identity across versions (docs/database.md): the value that reproduces the behaviour from
  // before the parameter existed. The canonical JSON leaves the parameter out while it holds this
  // value (so configurations that existed before keep their hash), and a stored configuration
  // document without the parameter reads it. null: none, the parameter is always written.
  json legacy;

  // A default that depends on another parameter: when this parameter is not given and
  // parameter `when` resolves to `equals`, the default is `value` (the first that holds wins).
  struct ConditionalDefault {
    json value;
    std::string when;
    json equals;
  };
  std::vector<ConditionalDefault> conditional_defaults;

  // A shorthand (`convention`) that sets other parameters to a named reference's values; it is
  // expanded when parameters are resolved, is not a field of the method's struct and never
  // appears in the canonical JSON (the parameters it sets do). choice -> {parameter: value}.
  std::vector<std::pair<std::string, json>> presets;
  bool is_preset() const { return !presets.empty(); }

  // One vocabulary: a parameter renamed so that no name means two things across the registry
  // keeps its former name as its key in the canonical JSON (`stored_as`), so configurations keep
  // their hash (docs/database.md, "Identity across versions"), and the former name is still read
  // (sweep files warn). Empty: the key is `name`.
  std::string stored_as;
  const std::string& key() const { return stored_as.empty() ? name : stored_as; }
  bool renamed() const { return !stored_as.empty(); }
};

// Checks one value against its spec. Returns the value in canonical type (an integer-valued
// float given for an Int is rejected, an integer given for a Float becomes a float), or
// std::nullopt with `error` set to a message without location, e.g.
// "parameter 'walkers' = 0 is out of range [1, 10000000]".
std::optional<json> check_param_value(const ParamSpec& spec, const json& value, std::string& error);

// The names of an enum's values, in the order docs and messages list them.
template <class E>
using ChoiceNames = std::vector<std::pair<const char*, E>>;

template <class E>
const char* choice_name(const ChoiceNames<E>& names, E value) {
  for (const auto& [name, v] : names)
    if (v == value) return name;
  CKV_FAIL("choice value {} has no name", static_cast<long long>(value));
}

// A number, or one of a parameter's named choices (ParamType::FloatOrString).
template <class E>
struct NumberOrChoice {
  std::optional<E> choice;  // set: the named choice; unset: `number`
  double number = 0.0;
  auto operator<=>(const NumberOrChoice&) const = default;
};

// A method's parameter struct P bound to its specs. Declaration order is the order of docs and
// `methods`; each binding moves a checked value between JSON and its field. The canonical JSON
// of a configuration is written from the struct (to_json), so what a kernel reads and what the
// database keys are the same values by construction.
template <class P>
class ParamSchema {
 public:
  struct Binding {
    ParamSpec spec;
    std::function<void(P&, const json&)> read;  // value already checked against spec
    std::function<json(const P&)> write;
  };

  template <class T>
  ParamSchema& integer(T P::*field, std::string name, long long def, double min, double max,
                       std::string help) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    CKV_CHECK(min >= double(std::numeric_limits<T>::min()) &&
                  max <= double(std::numeric_limits<T>::max()),
              "parameter '{}': range [{}, {}] does not fit its field", name, min, max);
    ParamSpec s = make_spec(std::move(name), ParamType::Int, json(def), min, max, {}, std::move(help));
    return add(
        std::move(s), [field](P& p, const json& v) { p.*field = v.get<T>(); },
        [field](const P& p) { return json(p.*field); });
  }

  ParamSchema& real(double P::*field, std::string name, double def, double min, double max,
                    std::string help) {
    ParamSpec s = make_spec(std::move(name), ParamType::Float, json(def), min, max, {}, std::move(help));
    return add(
        std::move(s), [field](P& p, const json& v) { p.*field = v.get<double>(); },
        [field](const P& p) { return json(p.*field); });
  }

  ParamSchema& flag(bool P::*field, std::string name, bool def, std::string help) {
    ParamSpec s = make_spec(std::move(name), ParamType::Bool, json(def), 0, 0, {}, std::move(help));
    return add(
        std::move(s), [field](P& p, const json& v) { p.*field = v.get<bool>(); },
        [field](const P& p) { return json(p.*field); });
  }

  template <class E>
  ParamSchema& choice(E P::*field, std::string name, E def, ChoiceNames<E> names,
                      std::string help) {
    ParamSpec s = make_spec(std::move(name), ParamType::String, json(choice_name(names, def)), 0, 0,
                            names_of(names), std::move(help));
    return add(
        std::move(s),
        [field, names](P& p, const json& v) { p.*field = value_of(names, v.get<std::string>()); },
        [field, names](const P& p) { return json(choice_name(names, p.*field)); });
  }

  template <class E>
  ParamSchema& number_or_choice(NumberOrChoice<E> P::*field, std::string name, double def,
                                double min, double max, ChoiceNames<E> names, std::string help) {
    ParamSpec s = make_spec(std::move(name), ParamType::FloatOrString, json(def), min, max, names_of(names),
                            std::move(help));
    return add(
        std::move(s),
        [field, names](P& p, const json& v) {
          NumberOrChoice<E> x;
          if (v.is_string()) x.choice = value_of(names, v.get<std::string>());
          else x.number = v.get<double>();
          p.*field = x;
        },
        [field, names](const P& p) {
          const NumberOrChoice<E>& x = p.*field;
          return x.choice ? json(choice_name(names, *x.choice)) : json(x.number);
        });
  }

  // A list of integers; an empty default means "not set" and is the only way an empty list is
  // accepted (check_param_value).
  ParamSchema& int_list(std::vector<int> P::*field, std::string name, std::vector<int> def,
                        double min, double max, std::string help) {
    ParamSpec s = make_spec(std::move(name), ParamType::IntList, json(def), min, max, {}, std::move(help));
    return add(
        std::move(s),
        [field](P& p, const json& v) { p.*field = v.get<std::vector<int>>(); },
        [field](const P& p) { return json(p.*field); });
  }

  // The parameters of a nested struct (e.g. the selection parameters every method shares).
  template <class S>
  ParamSchema& include(S P::*member, const ParamSchema<S>& sub) {
    for (const auto& b : sub.bindings())
      add(
          b.spec, [member, read = b.read](P& p, const json& v) { read(p.*member, v); },
          [member, write = b.write](const P& p) { return write(p.*member); });
    return *this;
  }

  // The last declared parameter only changes which tokens are kept, not the scores.
  ParamSchema& selection_only() {
    bindings_.back().spec.affects_scores = false;
    return *this;
  }

  // The last declared parameter was called `former` before it was renamed (ParamSpec::stored_as):
  // that stays its key in the canonical JSON, and the former name is still accepted.
  ParamSchema& renamed_from(std::string former) {
    ParamSpec& spec = bindings_.back().spec;
    for (const auto& b : bindings_)
      CKV_CHECK(b.spec.name != former, "parameter '{}': former name '{}' is another parameter", spec.name, former);
    spec.stored_as = std::move(former);
    return *this;
  }

  // The last declared parameter was added after configurations without it were stored; `value`
  // reproduces the behaviour from before (ParamSpec::legacy).
  ParamSchema& legacy(const json& value) {
    ParamSpec& spec = bindings_.back().spec;
    std::string error;
    CKV_CHECK(check_param_value(spec, value, error), "legacy value of '{}': {}", spec.name, error);
    spec.legacy = value;
    return *this;
  }

  // The last declared parameter defaults to `value` when parameter `when` resolves to `equals`
  // (ParamSpec::conditional_defaults).
  ParamSchema& default_when(const json& value, const std::string& when, const json& equals) {
    return default_when(bindings_.back().spec.name, value, when, equals);
  }
  // The same for an already declared parameter (e.g. an included selection parameter).
  ParamSchema& default_when(const std::string& name, const json& value, const std::string& when,
                            const json& equals) {
    for (auto& b : bindings_)
      if (b.spec.name == name) {
        std::string error;
        CKV_CHECK(check_param_value(b.spec, value, error), "default of '{}': {}", name, error);
        b.spec.conditional_defaults.push_back({value, when, equals});
        return *this;
      }
    CKV_FAIL("default_when: no parameter '{}'", name);
  }

  // A `convention` shorthand: each named reference sets the listed parameters (checked when the
  // method is registered, registry.cpp). "none" sets nothing and is the default.
  ParamSchema& convention(std::vector<std::pair<std::string, json>> references, std::string help) {
    ParamSpec s = make_spec("convention", ParamType::String, json("none"), 0, 0, {"none"}, std::move(help));
    for (const auto& [name, values] : references) s.choices.push_back(name);
    s.presets = std::move(references);
    s.affects_scores = false;  // expanded before scoring: the parameters it sets carry the effect
    return add(
        std::move(s), [](P&, const json&) {}, [](const P&) { return json(); });
  }

  // Changes the default of an already declared parameter (pyramidkv: budget_mode = pyramid).
  ParamSchema& set_default(const std::string& name, const json& value) {
    for (auto& b : bindings_)
      if (b.spec.name == name) {
        std::string error;
        CKV_CHECK(check_param_value(b.spec, value, error), "default of '{}': {}", name, error);
        b.spec.default_value = value;
        return *this;
      }
    CKV_FAIL("set_default: no parameter '{}'", name);
  }

  const std::vector<Binding>& bindings() const { return bindings_; }

  std::vector<ParamSpec> specs() const {
    std::vector<ParamSpec> out;
    for (const auto& b : bindings_) out.push_back(b.spec);
    return out;
  }

  // `resolved` holds every declared parameter (presets aside) under its key(), each checked
  // against its spec, or is a canonical form that leaves out parameters holding their legacy value.
  P parse(const json& resolved) const {
    P p{};
    for (const auto& b : bindings_) {
      if (b.spec.is_preset()) continue;
      const auto it = resolved.find(b.spec.key());
      b.read(p, it != resolved.end() || b.spec.legacy.is_null() ? resolved.at(b.spec.key())
                                                                : b.spec.legacy);
    }
    return p;
  }

  // The canonical parameters, each under its key(): every declared parameter but presets and
  // those holding their legacy value.
  json to_json(const P& p) const {
    json out = json::object();
    for (const auto& b : bindings_) {
      if (b.spec.is_preset()) continue;
      json value = b.write(p);
      if (!b.spec.legacy.is_null() && value == b.spec.legacy) continue;
      out[b.spec.key()] = std::move(value);
    }
    return out;
  }

 private:
  static ParamSpec make_spec(std::string name, ParamType type, json def, double min, double max,
                             std::vector<std::string> choices, std::string help) {
    ParamSpec s;
    s.name = std::move(name);
    s.type = type;
    s.default_value = std::move(def);
    s.min = min;
    s.max = max;
    s.choices = std::move(choices);
    s.help = std::move(help);
    return s;
  }

  template <class E>
  static std::vector<std::string> names_of(const ChoiceNames<E>& names) {
    std::vector<std::string> out;
    for (const auto& [name, value] : names) out.emplace_back(name);
    return out;
  }
  template <class E>
  static E value_of(const ChoiceNames<E>& names, const std::string& name) {
    for (const auto& [n, value] : names)
      if (name == n) return value;
    CKV_FAIL("'{}' is not a choice", name);  // unreachable: checked by check_param_value
  }

  ParamSchema& add(ParamSpec spec, std::function<void(P&, const json&)> read,
                   std::function<json(const P&)> write) {
    for (const auto& b : bindings_)
      CKV_CHECK(b.spec.name != spec.name, "parameter '{}' declared twice", spec.name);
    bindings_.push_back({std::move(spec), std::move(read), std::move(write)});
    return *this;
  }

  std::vector<Binding> bindings_;
};

}  // namespace ckv
