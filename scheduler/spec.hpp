// Sweep specs (docs/spec/MISSION.md R1): a campaign file in TOML, read with TOML++, validated against the method
// registry before anything runs. Every mistake is reported as "file:line:col: message" via
// ckv::InputError. docs/sweep-files.md is the reference.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cache/synthetic.hpp"
#include "common/canonical_json.hpp"
#include "configuration/configuration.hpp"

namespace ckv {

struct SourceLocation {
  std::string file;
  int line = 0, column = 0;
  std::string str() const;  // "file:line:col"
};

struct MethodEntry {
  std::string id;  // `label`, or the method name when no label is given
  const MethodDef* method = nullptr;
  json fixed = json::object();  // fixed parameters as given (validated)
  SourceLocation location;
};

struct GridAxis {
  std::string method_id;  // "" = applies to every method of the block that has `param`
  std::string param;
  std::vector<json> values;  // validated values
  SourceLocation location;
};

struct ZipGroup {              // linked axes, advanced together
  std::vector<GridAxis> axes;  // equal lengths
  SourceLocation location;
};

struct GridBlock {
  std::vector<std::string> methods;  // method ids; empty = all methods of the campaign
  std::vector<GridAxis> axes;        // cartesian product
  std::vector<ZipGroup> zips;        // each zip group is one more product axis
  SourceLocation location;
};

struct DataSpec {
  std::string cache_dir;
  std::vector<std::string> tasks;         // empty = every task in the cache
  int samples_per_task = 0;               // 0 = all
  std::vector<int> layers;                // empty = every captured layer
  std::optional<SynthOptions> synthetic;  // generate the cache when it does not exist
};

struct RunSpec {
  int threads = 0;            // embedded worker threads; 0 = hardware concurrency
  int batch_units = 64;       // most units in one batch (same sample)
  int max_attempts = 3;       // retry budget for lost units
  double unit_timeout = 600;  // seconds before an in-flight unit is declared lost
  double commit_interval = 1.0;
};

struct CampaignSpec {
  std::string path;  // as given
  std::string text;  // the file's content (stored in the database)
  std::string name;
  std::string database;
  std::string description;
  DataSpec data;
  int topk = EvalSettings::kDefaultTopk;  // [metrics] topk
  RunSpec run;
  std::vector<MethodEntry> methods;
  std::vector<GridBlock> grid;
  // "file:line:col: message" for what is read but deprecated (a parameter's former name), one
  // per former name; parse_spec also logs each as a warning.
  std::vector<std::string> warnings;
};

CampaignSpec load_spec(const std::string& path);
CampaignSpec parse_spec(const std::string& text, const std::string& path);

// One point of a campaign's grid: its configuration (configuration/configuration.hpp owns the
// identity, docs/spec/MISSION.md R2) and the method entry (label) it came from.
struct GridPoint : Configuration {
  std::string method_id;
};

// The union over grid blocks of each block's cartesian product, deduplicated by hash, in a
// deterministic order. Throws InputError (with the grid block's location) for a point whose
// resolved parameters break a method's cross-parameter rules.
std::vector<GridPoint> expand_grid(const CampaignSpec& spec);

// [data] layers and [metrics] topk as the configurations' evaluation settings.
EvalSettings eval_settings(const CampaignSpec& spec);
GridPoint make_grid_point(const MethodEntry& entry, const json& values, const EvalSettings& eval);

}  // namespace ckv
