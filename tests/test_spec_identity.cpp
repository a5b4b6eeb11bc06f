// Configuration identity (docs/spec/MISSION.md R2) and the parts of spec reading that the data-driven cases in
// test_spec_files.cpp do not show: fixed hashes, independence from key order and from how a
// number is written, list-valued and float-or-string parameters (generic over ParamType, with
// a method defined here so the test does not depend on which CircuitKV methods exist yet),
// and the parsed [data], [data.synthetic] and [run] values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "configuration/configuration.hpp"
#include "kernels/registry.hpp"
#include "scheduler/spec.hpp"

using namespace ckv;

namespace {

// Shaped like circuitkv_walk: every ParamType that sweeps must handle.
enum class ToyTemperature { adaptive };
enum class ToyDirection { backward,
                          forward };

struct ToyParams {
  long long walkers = 0;
  NumberOrChoice<ToyTemperature> temperature;
  std::vector<int> scales;
  ToyDirection direction = ToyDirection::backward;
  bool exact = false;
  std::string validate() const { return walkers == 13 ? "walkers 13 is unlucky" : ""; }
};

Scores toy_score(LayerContext&, const ToyParams&) { return {}; }

MethodDef toy_method() {
  ParamSchema<ToyParams> s;
  s.integer(&ToyParams::walkers, "walkers", 1000, 1, 1e7, "walkers");
  s.number_or_choice(&ToyParams::temperature, "temperature", 1.0, 0.01, 100,
                     ChoiceNames<ToyTemperature>{{"adaptive", ToyTemperature::adaptive}}, "");
  s.int_list(&ToyParams::scales, "scales", {10}, 1, 1000, "");
  s.choice(&ToyParams::direction, "direction", ToyDirection::backward,
           {{"backward", ToyDirection::backward}, {"forward", ToyDirection::forward}}, "direction");
  s.flag(&ToyParams::exact, "exact", false, "exact");
  return define_method<ToyParams>("toy", "", "", std::move(s), toy_score);
}

const EvalSettings kAllLayersEval{};

MethodEntry toy_entry(const MethodDef& def, json fixed = json::object()) {
  MethodEntry e;
  e.id = def.name;
  e.method = &def;
  e.fixed = std::move(fixed);
  e.location = {"toy.toml", 3, 1};
  return e;
}

const char* kHeader = R"(
[campaign]
name = "identity"
database = "results/test.sqlite"

[data]
cache = "cache/test"
)";

std::vector<std::string> hashes(const std::string& body) {
  std::vector<std::string> out;
  for (const auto& c : expand_grid(parse_spec(kHeader + body, "identity.toml"))) out.push_back(c.hash);
  return out;
}

}  // namespace

TEST_CASE("a configuration's canonical JSON and hash are fixed", "[spec]") {
  const MethodDef toy = toy_method();
  GridPoint c = make_grid_point(toy_entry(toy, {{"walkers", 100}}), json{{"temperature", 1}},
                                kAllLayersEval);
  // Computed independently:
  //   printf '%s' '<the string below>' | sha256sum
  // Each numerics version (kernels/numerics.hpp) changed every new configuration's hash by
  // design; the same point under an older version keeps the hash it had then (under numerics 1,
  // "numerics" left out).
  CHECK(c.canonical ==
        R"({"eval":{"layers":"all","numerics":4,"topk":32},"method":"toy","params":{"direction":"backward",)"
        R"("exact":false,"scales":[10],"temperature":1.0,"walkers":100}})");
  CHECK(c.hash == "7c6cab2cf4e1beb88eb5412f26559a0a1392fb22ab1d6bd5e9c6363178ebf4e3");
  CHECK(c.numerics() == 4);
  CHECK(c.hash_under_numerics(4) == c.hash);
  // printf '%s' '{"eval":{"layers":"all","numerics":3,"topk":32},"method":"toy",...}' | sha256sum
  CHECK(c.hash_under_numerics(3) == "ae74a69a90220d94ea86c8f353e8ff0e3ec05d8f897cdfb6b35b3d9d0a3d4276");
  // printf '%s' '{"eval":{"layers":"all","numerics":2,"topk":32},"method":"toy",...}' | sha256sum
  CHECK(c.hash_under_numerics(2) == "ad2ae17b8982d2cf42f4fafcfd54489a57fcd4c723f1425494c853641eff582d");
  // printf '%s' '{"eval":{"layers":"all","topk":32},"method":"toy",...}' | sha256sum
  CHECK(c.hash_under_numerics(1) == "724c1580c830f62cbcdbab25261e154afd28a204838fc00fed6e333139e597ee");
  CHECK(c.method_id == "toy");
  CHECK(c.params == c.document.at("params"));
}

TEST_CASE("an integer given for a float parameter hashes like the float", "[spec]") {
  const MethodDef toy = toy_method();
  const MethodEntry entry = toy_entry(toy);
  GridPoint as_int = make_grid_point(entry, json{{"temperature", 2}}, kAllLayersEval);
  GridPoint as_float = make_grid_point(entry, json{{"temperature", 2.0}}, kAllLayersEval);
  CHECK(as_int.hash == as_float.hash);
  CHECK(as_int.params.at("temperature").is_number_float());
  CHECK(as_int.canonical.find("\"temperature\":2.0") != std::string::npos);
  // An Int parameter stays an integer.
  GridPoint walkers = make_grid_point(entry, json{{"walkers", 7}}, kAllLayersEval);
  CHECK(walkers.params.at("walkers").is_number_integer());
  CHECK(walkers.canonical.find("\"walkers\":7}") != std::string::npos);  // the last key, no ".0"
  // A string choice and a number are different points.
  GridPoint adaptive = make_grid_point(entry, json{{"temperature", "adaptive"}}, kAllLayersEval);
  CHECK(adaptive.hash != as_int.hash);
  CHECK(adaptive.params.at("temperature") == "adaptive");
}

TEST_CASE("the same configuration written differently has one hash", "[spec]") {
  // Key order inside a method entry, fixed parameter vs grid axis, default written out or not.
  const auto a = hashes(R"(
[[methods]]
name = "h2o"
budget = 256
window = 32
)");
  const auto b = hashes(R"(
[[methods]]
window = 32
budget = 256
name = "h2o"
rows = "all"
)");
  const auto c = hashes(R"(
[[methods]]
name = "h2o"
label = "elsewhere"

[[grid]]
window = [32]
budget = [256]
)");
  REQUIRE(a.size() == 1);
  CHECK(a == b);
  CHECK(a == c);
  // A different value is a different configuration.
  CHECK(hashes("[[methods]]\nname = \"h2o\"\nbudget = 512\nwindow = 32\n") != a);

  // Layer order is not part of the identity; the layer set and topk are.
  auto eval_of = [](const std::string& data_and_metrics) {
    const std::string text = R"(
[campaign]
name = "identity"
database = "results/test.sqlite"
)" + data_and_metrics + "\n[[methods]]\nname = \"full\"\n";
    return expand_grid(parse_spec(text, "eval.toml")).at(0).document.at("eval");
  };
  CHECK(eval_of("[data]\ncache = \"c\"\nlayers = [3, 1]\n") == eval_of("[data]\ncache = \"c\"\nlayers = [1, 3]\n"));
  CHECK(eval_of("[data]\ncache = \"c\"\nlayers = [1, 3]\n") == json{{"layers", {1, 3}}, {"numerics", kNumericsVersion}, {"topk", 32}});
  CHECK(eval_of("[data]\ncache = \"c\"\nlayers = [1]\n") != eval_of("[data]\ncache = \"c\"\nlayers = [1, 3]\n"));
  CHECK(eval_of("[data]\ncache = \"c\"\n[metrics]\ntopk = 8\n") == json{{"layers", "all"}, {"numerics", kNumericsVersion}, {"topk", 8}});
}

TEST_CASE("every expanded configuration is fully resolved and keyed by its SHA-256", "[spec]") {
  CampaignSpec spec = load_spec(std::string(CKV_TEST_DATA_DIR) + "/spec/good/qualified.toml");
  const auto configs = expand_grid(spec);
  REQUIRE(configs.size() == 9);
  for (const auto& c : configs) {
    CHECK(c.document.at("method") == c.method->name);
    CHECK(c.document.at("eval") == eval_settings(spec).to_json());
    // Every parameter is written, except a convention (expanded into the others) and one
    // holding its legacy value (identity across versions, docs/database.md).
    for (const auto& p : c.method->params) {
      if (p.is_preset())
        CHECK_FALSE(c.params.contains(p.name));
      else if (c.params.contains(p.name))
        CHECK((p.legacy.is_null() || c.params.at(p.name) != p.legacy));
      else
        CHECK_FALSE(p.legacy.is_null());
    }
    CHECK(c.canonical == canonical_json(c.document));
    CHECK(c.hash == sha256_hex(c.canonical));
    CHECK(c.hash.size() == 64);
  }
  // Expansion is deterministic.
  const auto again = expand_grid(spec);
  REQUIRE(again.size() == configs.size());
  for (size_t i = 0; i < configs.size(); ++i) CHECK(again[i].hash == configs[i].hash);
}

TEST_CASE("list-valued and float-or-string axes expand like any other", "[spec]") {
  // No registered method has an IntList parameter yet, so the spec is assembled here the way
  // parse_spec would produce it from `scales = [[5], [5, 15, 50]]`.
  const MethodDef toy = toy_method();
  CampaignSpec spec;
  spec.methods.push_back(toy_entry(toy, {{"direction", "forward"}}));
  GridBlock block;
  block.location = {"toy.toml", 10, 1};
  block.axes.push_back({"", "scales", {json::array({5}), json::array({5, 15, 50})}, {"toy.toml", 11, 1}});
  block.axes.push_back({"toy", "temperature", {json(1), json(0.5), json("adaptive")}, {"toy.toml", 12, 1}});
  spec.grid.push_back(block);
  const auto configs = expand_grid(spec);
  REQUIRE(configs.size() == 6);
  std::vector<json> got;
  got.reserve(configs.size());
  for (const auto& c : configs) got.push_back(json::array({c.params.at("scales"), c.params.at("temperature")}));
  const json one = json::array({5}), three = json::array({5, 15, 50});
  const std::vector<json> expected = {
      json::array({one, 1.0}),
      json::array({one, 0.5}),
      json::array({one, "adaptive"}),
      json::array({three, 1.0}),
      json::array({three, 0.5}),
      json::array({three, "adaptive"}),
  };
  CHECK(got == expected);
  for (const auto& c : configs) CHECK(c.params.at("direction") == "forward");
  CHECK(configs[0].canonical.find("\"scales\":[5],\"temperature\":1.0") != std::string::npos);

  // A zip group touching the method, and one that does not (it adds no dimension).
  ZipGroup zip;
  zip.axes.push_back({"", "walkers", {json(100), json(1000)}, {"toy.toml", 14, 1}});
  zip.axes.push_back({"", "exact", {json(false), json(true)}, {"toy.toml", 15, 1}});
  ZipGroup other;
  other.axes.push_back({"someone-else", "walkers", {json(1), json(2), json(3)}, {"toy.toml", 17, 1}});
  spec.grid[0].zips = {zip, other};
  CHECK(expand_grid(spec).size() == 12);
  CHECK(expand_grid(spec).back().params.at("exact") == true);
  CHECK(expand_grid(spec).back().params.at("walkers") == 1000);
}

TEST_CASE("check_param_value handles list and float-or-string parameters", "[spec]") {
  const MethodDef toy = toy_method();
  const ParamSpec& scales = *toy.find_param("scales");
  const ParamSpec& temperature = *toy.find_param("temperature");
  std::string error;
  CHECK(check_param_value(scales, json::array({5, 15, 50}), error) == json::array({5, 15, 50}));
  CHECK_FALSE(check_param_value(scales, json::array(), error));
  CHECK(error == "parameter 'scales' must be a non-empty list of integers, got []");
  CHECK_FALSE(check_param_value(scales, json(5), error));
  CHECK_FALSE(check_param_value(scales, json::array({5, 1.5}), error));
  CHECK_FALSE(check_param_value(scales, json::array({0}), error));
  CHECK(check_param_value(temperature, json(2), error)->is_number_float());
  CHECK(check_param_value(temperature, json("adaptive"), error) == json("adaptive"));
  CHECK_FALSE(check_param_value(temperature, json("hot"), error));
  CHECK_FALSE(check_param_value(temperature, json(0.0), error));
}

TEST_CASE("a grid point breaking a cross-parameter rule names the block and the point", "[spec]") {
  const MethodDef toy = toy_method();
  CampaignSpec spec;
  spec.methods.push_back(toy_entry(toy));
  GridBlock block;
  block.location = {"toy.toml", 10, 1};
  block.axes.push_back({"", "walkers", {json(12), json(13)}, {"toy.toml", 11, 1}});
  spec.grid.push_back(block);
  try {
    expand_grid(spec);
    FAIL("expected an InputError");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()) == "toy.toml:10:1: method 'toy', grid point walkers = 13: walkers 13 is unlucky");
  }
  // make_grid_point itself reports a plain Error (it has no location to give).
  CHECK_THROWS_AS(make_grid_point(toy_entry(toy), json{{"walkers", 13}}, kAllLayersEval), Error);
}

TEST_CASE("data, synthetic and run settings are read with their defaults", "[spec]") {
  const std::string path = std::string(CKV_TEST_DATA_DIR) + "/spec/good/synthetic.toml";
  CampaignSpec spec = load_spec(path);
  CHECK(spec.path == path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(spec.text == text.str());
  CHECK(spec.name == "synthetic_demo");
  CHECK(spec.database == "results/demo.sqlite");
  CHECK(spec.data.cache_dir == "cache/demo");
  CHECK(spec.data.tasks == std::vector<std::string>{"synth-multihop", "synth-needle"});
  CHECK(spec.data.samples_per_task == 3);
  CHECK(spec.data.layers == std::vector<int>{0, 1});
  CHECK(spec.topk == 8);
  CHECK(spec.run.threads == 2);
  CHECK(spec.run.batch_units == 16);
  CHECK(spec.run.max_attempts == 5);
  CHECK(spec.run.unit_timeout == 30.0);
  CHECK(spec.run.commit_interval == 0.5);
  REQUIRE(spec.data.synthetic);
  const SynthOptions& s = *spec.data.synthetic;
  CHECK(s.out_dir == "cache/demo");
  CHECK(s.tasks == spec.data.tasks);  // defaulted from [data]
  CHECK(s.samples_per_task == 3);     // defaulted from [data]
  CHECK(s.tokens == 512);
  CHECK(s.heads == 8);
  CHECK(s.kv_heads == 2);
  CHECK(s.head_dim == 32);
  CHECK(s.layers == std::vector<int>{0, 1, 2});
  CHECK(s.num_layers_model == 4);
  CHECK(s.answer_tokens == 8);
  CHECK(s.seed == 7);
  CHECK(s.dtype == DType::F32);

  // Without [run], [metrics] or [data.synthetic]: the documented defaults.
  CampaignSpec plain = parse_spec(std::string(kHeader) + "[[methods]]\nname = \"full\"\n", "plain.toml");
  CHECK(plain.description.empty());
  CHECK(plain.data.tasks.empty());
  CHECK(plain.data.samples_per_task == 0);
  CHECK(plain.data.layers.empty());
  CHECK_FALSE(plain.data.synthetic);
  CHECK(plain.topk == 32);
  CHECK(plain.run.threads == 0);
  CHECK(plain.run.batch_units == 64);
  CHECK(plain.run.max_attempts == 3);
  CHECK(plain.run.unit_timeout == 600.0);
  CHECK(plain.run.commit_interval == 1.0);
  REQUIRE(plain.methods.size() == 1);
  CHECK(plain.methods[0].location.str() == "plain.toml:8:1");
}

TEST_CASE("a sweep file that cannot be read is an error naming it", "[spec]") {
  const std::string path = std::string(CKV_TEST_DATA_DIR) + "/spec/no-such-file.toml";
  try {
    load_spec(path);
    FAIL("expected an Error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == path + ": cannot open sweep file");
  }
}

TEST_CASE("renamed parameters: the former names read the same configurations, hashes unchanged", "[spec]") {
  // One vocabulary: rc's `walkers` (per source position) is now `walkers_per_source`, its
  // `max_steps` (positions, start included) `max_positions`, circuitkv_neumann's `alpha` (a rank
  // weight) `qi_weight`. The canonical JSON keeps the former keys, so the hashes are those the
  // build before the rename computed (`ckv-sweep plan --list`, then
  //   printf '%s' '<canonical>' | sha256sum).
  const std::string former = std::string(kHeader) + R"(
[[methods]]
name = "rc"
walkers = 64
max_steps = 20

[[methods]]
name = "circuitkv_neumann"
combination = "weighted"
alpha = 0.25

[[grid]]
budget = [128]
)";
  std::string renamed = former;
  for (auto [from, to] : {std::pair{"walkers = 64", "walkers_per_source = 64"},
                          std::pair{"max_steps = 20", "max_positions = 20"},
                          std::pair{"alpha = 0.25", "qi_weight = 0.25"}})
    renamed.replace(renamed.find(from), std::string(from).size(), to);
  const CampaignSpec old_spec = parse_spec(former, "former.toml");
  const CampaignSpec new_spec = parse_spec(renamed, "renamed.toml");
  const auto a = expand_grid(old_spec), b = expand_grid(new_spec);
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  // The hashes these points had before the rename (numerics 2, the version of that time).
  CHECK(a[0].hash_under_numerics(2) == "7cc35e6df345db9a6b8f86dcada9294fa835d1e2dc1074963835a415efe57645");
  CHECK(a[1].hash_under_numerics(2) == "67b76589849d900b494940caacce58cfe069d6c09f95d54ec99c7eb4fbfc59d6");
  CHECK(b[0].hash == a[0].hash);
  CHECK(b[1].hash == a[1].hash);
  CHECK(a[0].canonical == b[0].canonical);
  CHECK(a[0].params.at("walkers") == 64);  // the stored key is the former name
  CHECK(a[0].params.at("max_steps") == 20);
  CHECK_FALSE(a[0].params.contains("walkers_per_source"));
  // The former names are warned about once each, with file:line and the new name.
  CHECK(new_spec.warnings.empty());
  REQUIRE(old_spec.warnings.size() == 3);
  // (in TOML++'s key order within a table, not file order)
  auto warned = [&](const std::string& prefix) {
    return std::count_if(old_spec.warnings.begin(), old_spec.warnings.end(),
                         [&](const std::string& w) { return w.rfind(prefix, 0) == 0; });
  };
  CHECK(warned("former.toml:11:1: 'walkers' is the former name of rc's parameter 'walkers_per_source'; read as "
               "'walkers_per_source' for now, it will be refused in a later version") == 1);
  CHECK(warned("former.toml:12:1: 'max_steps' is the former name of rc's parameter 'max_positions'") == 1);
  CHECK(warned("former.toml:17:1: 'alpha' is the former name of circuitkv_neumann's parameter 'qi_weight'") == 1);
  // A stored document (former keys) reads back to the same configuration.
  CHECK(Configuration::from_document(a[0].document).hash == a[0].hash);
  // Both names at once is one parameter given twice.
  CHECK_THROWS_WITH(parse_spec(std::string(kHeader) + "[[methods]]\nname = \"rc\"\nwalkers = 8\nwalkers_per_source = 8\n", "twice.toml"),
                    Catch::Contains("parameter 'walkers_per_source' is given twice"));
}

TEST_CASE("an unqualified axis that would sweep parameters of different meaning is refused", "[spec]") {
  const std::string methods = R"(
[[methods]]
name = "circuitkv_walk"

[[methods]]
name = "rc"
)";
  // `max_steps` counts transitions in circuitkv_walk and was rc's name for positions per walk.
  CHECK_THROWS_WITH(parse_spec(std::string(kHeader) + methods + "\n[[grid]]\nmax_steps = [10, 20]\n", "axis.toml"),
                    "axis.toml:16:1: grid axis 'max_steps' would sweep parameters of different meaning: "
                    "circuitkv_walk.max_steps, rc.max_positions (formerly 'max_steps'); qualify it with the "
                    "method id (circuitkv_walk.max_steps = [...]) or use the parameter's new name");
  // Qualified, or by the new name, each axis sweeps one quantity.
  const auto qualified = expand_grid(parse_spec(
      std::string(kHeader) + methods + "\n[[grid]]\ncircuitkv_walk.max_steps = [10, 20]\nrc.max_positions = [30]\n", "q.toml"));
  REQUIRE(qualified.size() == 3);
  CHECK(qualified[0].params.at("max_steps") == 10);
  CHECK(qualified[1].params.at("max_steps") == 20);
  CHECK(qualified[2].method->name == "rc");
  CHECK(qualified[2].params.at("max_steps") == 30);
  // The new name alone applies to rc only; circuitkv_walk keeps its own point.
  const auto by_new_name = expand_grid(parse_spec(std::string(kHeader) + methods + "\n[[grid]]\nmax_positions = [30, 40]\n", "n.toml"));
  REQUIRE(by_new_name.size() == 3);
  CHECK(by_new_name[0].method->name == "circuitkv_walk");
  CHECK(by_new_name[2].params.at("max_steps") == 40);
  // A former name that means one thing in the block (rc alone) is read, with a warning.
  const CampaignSpec rc_only = parse_spec(std::string(kHeader) + "[[methods]]\nname = \"rc\"\n\n[[grid]]\nwalkers = [16, 32]\n", "r.toml");
  CHECK(expand_grid(rc_only).size() == 2);
  REQUIRE(rc_only.warnings.size() == 1);
  CHECK(rc_only.warnings[0].rfind("r.toml:12:1: 'walkers' is the former name of rc's parameter 'walkers_per_source'", 0) == 0);
  // A name both methods share with one meaning still applies to both.
  CHECK(expand_grid(parse_spec(std::string(kHeader) + methods + "\n[[grid]]\nseed = [1, 2]\n", "s.toml")).size() == 4);
}

TEST_CASE("--set reads a former name as the new one, with the sweep file's warning once", "[spec]") {
  // One parser for every command's --set (inspect, export-keep, keep-view, the benchmarks).
  std::vector<std::string> warnings;
  const json given = parse_settings({"walkers=64", "max_steps=20", "walkers=32", "budget=128"}, "rc", &warnings);
  CHECK(given == json{{"walkers_per_source", 32}, {"max_positions", 20}, {"budget", 128}});
  REQUIRE(warnings.size() == 2);  // once per former name
  CHECK(warnings[0] ==
        "walkers=64: 'walkers' is the former name of rc's parameter 'walkers_per_source'; read as "
        "'walkers_per_source' for now, it will be refused in a later version");
  CHECK(warnings[1].rfind("max_steps=20: 'max_steps' is the former name of rc's parameter 'max_positions'", 0) == 0);
  // The configuration is the one the sweep file's former names give (hash pinned above).
  EvalSettings eval;
  eval.topk = EvalSettings::kDefaultTopk;
  CHECK(Configuration::make("rc", given, eval).hash ==
        Configuration::make("rc", json{{"walkers", 32}, {"max_steps", 20}, {"budget", 128}}, eval).hash);
  // The new names and other methods' own parameters of those names: no warning, keys as given.
  warnings.clear();
  CHECK(parse_settings({"walkers_per_source=8"}, "rc", &warnings) == json{{"walkers_per_source", 8}});
  CHECK(parse_settings({"walkers=8", "max_steps=5"}, "circuitkv_walk", &warnings) ==
        json{{"walkers", 8}, {"max_steps", 5}});
  CHECK(parse_settings({"alpha=0.3"}, "rwr", &warnings) == json{{"alpha", 0.3}});
  CHECK(parse_settings({"alpha=0.3"}, "no_such_method", &warnings) == json{{"alpha", 0.3}});
  CHECK(warnings.empty());
  std::vector<std::string> neumann;
  CHECK(parse_settings({"alpha=0.3"}, "circuitkv_neumann", &neumann) == json{{"qi_weight", 0.3}});
  REQUIRE(neumann.size() == 1);
  CHECK(neumann[0].rfind("alpha=0.3: 'alpha' is the former name of circuitkv_neumann's parameter 'qi_weight'", 0) == 0);
}

TEST_CASE("renamed parameters are shown under their new names; the stored key stays", "[spec]") {
  CHECK(param_display_name("rc", "walkers") == "walkers_per_source");
  CHECK(param_display_name("rc", "max_steps") == "max_positions");
  CHECK(param_display_name("circuitkv_neumann", "alpha") == "qi_weight");
  CHECK(param_display_name("circuitkv_walk", "walkers") == "walkers");
  CHECK(param_display_name("rwr", "alpha") == "alpha");
  CHECK(param_display_name("rc", "budget") == "budget");
  CHECK(param_display_name("no_such_method", "walkers") == "walkers");
  EvalSettings eval;
  const Configuration rc = Configuration::make("rc", json{{"walkers_per_source", 16}, {"budget", 128}}, eval);
  REQUIRE(rc.params.contains("walkers"));  // hashed under the former key
  const json shown = display_document(rc.document);
  CHECK(shown.at("params").at("walkers_per_source") == 16);
  CHECK(shown.at("params").contains("max_positions"));
  CHECK_FALSE(shown.at("params").contains("walkers"));
  CHECK_FALSE(shown.at("params").contains("max_steps"));
  CHECK(shown.at("params").size() == rc.params.size());
  CHECK(shown.at("eval") == rc.document.at("eval"));
  CHECK(Configuration::from_document(rc.document).hash == rc.hash);
}
