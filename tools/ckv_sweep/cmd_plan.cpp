// `ckv-sweep plan SPEC.toml`: what a run would do, without running anything.
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "configuration/configuration.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "kernels/registry.hpp"
#include "scheduler/campaign.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int plan_command(int argc, char** argv) {
  po::options_description options("plan options");
  std::string spec_path;
  bool list = false;
  PlanOptions plan_options;
  options.add_options()("spec", po::value(&spec_path)->required(), "the campaign file (TOML)")("list", po::bool_switch(&list), "list every configuration with its hash")("trust-recorded-digests", po::bool_switch(&plan_options.trust_recorded_digests),
                                                                                                                                                                         "identify samples by the content_sha256 their metadata records instead of hashing their data");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep plan SPEC.toml [--list]", options, positional, vm)) return kExitOk;

  CampaignSpec spec = load_spec(spec_path);
  std::vector<GridPoint> configurations = expand_grid(spec);
  namespace fs = std::filesystem;
  const bool have_cache = fs::exists(fs::path(spec.data.cache_dir) / "index.jsonl");
  std::vector<PlannedSample> samples;
  if (have_cache) {
    samples = plan_samples(spec, plan_options);
    check_runnable(spec, configurations, samples);  // refused here as `run` would refuse it
  }
  std::map<std::string, int> per_method;
  for (const auto& c : configurations) ++per_method[c.method_id];
  fmt::print("campaign:        {}\n", spec.name);
  fmt::print("database:        {}\n", spec.database);
  fmt::print("numerics:        {} ({})\n", kNumericsVersion, numerics_description(kNumericsVersion));
  fmt::print("configurations:  {}\n", configurations.size());
  for (const auto& [id, count] : per_method) fmt::print("  {:<24} {}\n", id, count);
  if (list)
    // Parameters under their current names: a renamed one is hashed under its former name.
    for (const auto& c : configurations)
      fmt::print("  {}  {}\n", c.hash.substr(0, 12), canonical_json(display_document(c.document)));

  if (!have_cache) {
    fmt::print("samples:         cache '{}' does not exist yet{}\n", spec.data.cache_dir,
               spec.data.synthetic ? " (it will be generated: [data.synthetic])" : "");
    return kExitOk;
  }
  std::map<std::string, int> per_task;
  for (const auto& s : samples) ++per_task[s.entry.task];
  fmt::print("samples:         {}\n", samples.size());
  for (const auto& [task, count] : per_task) fmt::print("  {:<24} {}\n", task, count);
  const long long units = (long long)samples.size() * (long long)configurations.size();
  fmt::print("units:           {}\n", units);

  long long done = 0;
  std::vector<NumericsRecompute> recomputes;
  if (fs::exists(spec.database)) {
    Database db = Database::open(spec.database, Database::Mode::ReadOnly);
    std::vector<UnitKey> keys;
    keys.reserve(size_t(units));
    for (const auto& c : configurations)
      for (const auto& s : samples) keys.push_back({c.hash, s.entry.task, s.entry.id, s.fingerprint});
    for (const auto& state : unit_states(db, keys)) done += state == UnitState::Done;
    recomputes = numerics_recomputes(db, configurations, samples);
  }
  fmt::print("already done:    {}\n", done);
  fmt::print("to run:          {}\n", units - done);
  // What an upgrade costs: units done by an earlier build whose numerics this one does not have.
  for (const NumericsRecompute& recompute : recomputes) fmt::print("  {}\n", numerics_recompute_text(recompute));
  return kExitOk;
}

}  // namespace ckv::cli
