// Configurations as a reader tells them apart: the method and the parameters that vary among
// the configurations shown (two budgets of snapkv read "snapkv budget=256" and "snapkv
// budget=512"), and the reverse — a label or a hash prefix given on the command line resolved to
// one configuration. `compare` and `compare-e2e` use it; the rule for "varies" is the ablation
// table's (report/report_table.hpp): a parameter that takes two values among one method's
// configurations.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/canonical_json.hpp"

namespace ckv {

struct ConfigurationRef {
  std::string hash, method;
  json document;  // the canonical document {"method", "params", "eval"}
};

// params.* by name, eval.* as "eval.<key>", and "eval.numerics" always (a document without it
// was computed under kLegacyNumerics, kernels/numerics.hpp).
std::map<std::string, json> flat_parameters(const json& document);
int numerics_of(const json& document);
// A parameter's value as shown: strings bare, lists joined by '+', "-" for an empty list.
std::string parameter_text(const json& value);

// The parameters that take two values among the configurations of one method, first-seen order.
std::vector<std::string> varying_parameters(const std::vector<ConfigurationRef>& configurations);

// One label per configuration: "method key=value ..." over the varying parameters it has (the
// method alone when none varies); a label two configurations would share gets their hash prefix.
std::vector<std::string> configuration_labels(const std::vector<ConfigurationRef>& configurations);

// The configurations `given` names: a hash prefix (hex digits, at least 4), or a label —
// "METHOD [key=value ...]" matching the configurations of that method whose parameters have
// those values (as parameter_text shows them; any parameter may be given, varying or not).
// Returns the indices of every match (empty when none).
std::vector<size_t> match_configurations(const std::vector<ConfigurationRef>& configurations,
                                         const std::string& given);

}  // namespace ckv
