#include "scheduler/campaign.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "db/queries.hpp"
#include "kernels/numerics.hpp"

namespace ckv {

namespace fs = std::filesystem;

bool ensure_cache(const CampaignSpec& spec) {
  const fs::path index = fs::path(spec.data.cache_dir) / "index.jsonl";
  if (fs::exists(index)) return false;
  if (!spec.data.synthetic)
    CKV_FAIL(
        "{}: cache directory '{}' has no index.jsonl (capture a cache, or add [data.synthetic] "
        "to generate one)",
        spec.path, spec.data.cache_dir);
  SynthOptions options = *spec.data.synthetic;
  options.out_dir = spec.data.cache_dir;
  spdlog::info("generating synthetic cache in {} ...", options.out_dir);
  int written = generate_synthetic_cache(options);
  spdlog::info("wrote {} synthetic samples", written);
  return true;
}

namespace {

// Identifies every sample, on up to 8 threads (hashing is CPU-bound on a fast disk; on a slow
// one the threads overlap the reads). Falls back to this thread when threads cannot be started.
std::vector<SampleFileIdentity> identify_all(const std::vector<PlannedSample>& samples, bool trust_recorded) {
  std::vector<SampleFileIdentity> out(samples.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < samples.size();)
      out[i] = identify_safetensors_file(samples[i].absolute_path, trust_recorded);
  };
  const size_t threads =
      std::min<size_t>({samples.size(), 8, size_t(std::max(1u, std::thread::hardware_concurrency()))});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads, same result
    }
  }
  work();
  for (auto& thread : pool) thread.join();
  return out;
}

}  // namespace

std::vector<PlannedSample> plan_samples(const CampaignSpec& spec, const PlanOptions& options) {
  std::vector<IndexEntry> entries = read_cache_index(spec.data.cache_dir);
  const std::string index_path = (fs::path(spec.data.cache_dir) / "index.jsonl").string();
  std::map<std::string, std::vector<IndexEntry>> by_task;
  for (auto& e : entries) by_task[e.task].push_back(e);
  std::vector<std::string> tasks = spec.data.tasks;
  if (tasks.empty())
    for (const auto& [task, list] : by_task) tasks.push_back(task);
  std::vector<std::string> available;
  available.reserve(by_task.size());
  for (const auto& [task, list] : by_task) available.push_back(task);
  std::vector<PlannedSample> samples;
  for (const auto& task : tasks) {
    auto it = by_task.find(task);
    if (it == by_task.end())
      CKV_FAIL("{}: task '{}' is not in cache '{}' (available: {})", spec.path, task,
               spec.data.cache_dir, fmt::join(available, ", "));
    auto list = it->second;
    std::sort(list.begin(), list.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.id < b.id; });
    if (spec.data.samples_per_task > 0 && int(list.size()) > spec.data.samples_per_task)
      list.resize(spec.data.samples_per_task);
    for (auto& e : list) {
      // Every layer the spec evaluates must have been captured: known from the index alone.
      for (int layer : spec.data.layers)
        if (std::find(e.layers.begin(), e.layers.end(), layer) == e.layers.end())
          throw InputError(fmt::format(
              "{}: [data] layers asks for layer {}, which sample {}/{} did not capture (captured: {}; {}:{})",
              spec.path, layer, e.task, e.id, fmt::join(e.layers, ", "), index_path, e.line));
      PlannedSample s;
      s.entry = e;
      s.absolute_path = fs::absolute(fs::path(spec.data.cache_dir) / e.path).lexically_normal();
      samples.push_back(std::move(s));
    }
  }
  const std::vector<SampleFileIdentity> identities = identify_all(samples, options.trust_recorded_digests);
  for (size_t i = 0; i < samples.size(); ++i) {
    PlannedSample& s = samples[i];
    const SampleFileIdentity& identity = identities[i];
    s.fingerprint = identity.fingerprint;
    s.query_rows = identity.query_rows;
    if (identity.header_ok) {
      const std::string disagreement = index_disagreement(s.entry.task, s.entry.id, s.entry.n_tokens,
                                                          s.entry.m_answer, s.entry.layers, identity.metadata);
      if (!disagreement.empty())
        throw InputError(fmt::format(
            "{}:{}: sample {}/{}: {} ({}); the index and the file must describe "
            "the same capture",
            index_path, s.entry.line, s.entry.task, s.entry.id, disagreement,
            s.absolute_path));
    }
    if (identity.recorded_digest_mismatch)
      spdlog::warn(
          "{} ({}): its tensor data does not match the {} recorded in its metadata (modified or "
          "damaged after it was written): its units will fail",
          s.absolute_path, s.entry.task + "/" + s.entry.id, kContentDigestKey);
  }
  return samples;
}

void check_runnable(const CampaignSpec& spec, const std::vector<GridPoint>& configurations,
                    const std::vector<PlannedSample>& samples) {
  const PlannedSample* window_only = nullptr;
  for (const auto& s : samples)
    if (s.query_rows >= 0 && s.query_rows < s.entry.n_tokens) {
      window_only = &s;
      break;
    }
  if (!window_only) return;
  std::vector<std::string> refused;  // one line per method id and reason
  for (const GridPoint& c : configurations) {
    const std::string reason = c.method->full_rows_reason(c.typed);
    if (reason.empty()) continue;
    SourceLocation where{spec.path, 0, 0};
    for (const MethodEntry& m : spec.methods)
      if (m.id == c.method_id) where = m.location;
    const std::string who = c.method_id == c.method->name
                                ? fmt::format("method '{}'", c.method->name)
                                : fmt::format("method '{}' ({})", c.method_id, c.method->name);
    const std::string line = fmt::format("  {}: {}: {}", where.str(), who, reason);
    if (std::find(refused.begin(), refused.end(), line) == refused.end()) refused.push_back(line);
  }
  if (refused.empty()) return;
  throw InputError(fmt::format(
      "{}: cache '{}' holds window rows only (sample {}/{}: {} of {} query rows), and these configurations "
      "need every attention row:\n{}\ncapture with `ckv-capture --query-rows all`, or leave them out (h2o "
      "with rows = \"window\" and the graph methods with graph = \"window_prefix\" need the window rows only)",
      spec.path, spec.data.cache_dir, window_only->entry.task, window_only->entry.id, window_only->query_rows,
      window_only->entry.n_tokens, fmt::join(refused, "\n")));
}

CampaignPlan prepare_campaign(const CampaignSpec& spec, const PlanOptions& options) {
  CampaignPlan plan;
  plan.configurations = expand_grid(spec);
  ensure_cache(spec);
  plan.samples = plan_samples(spec, options);
  check_runnable(spec, plan.configurations, plan.samples);
  return plan;
}

CampaignPlan register_campaign(const CampaignSpec& spec, ResultStore& store) {
  CampaignPlan plan = prepare_campaign(spec);
  register_campaign(spec, plan, store);
  return plan;
}

namespace {

std::string real_path(const std::string& path) {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : real.string();
}

// "3 configurations added, 5 removed; samples unchanged (24)".
std::string describe_change(const std::set<std::string>& before, const std::set<std::string>& after, const char* what) {
  size_t added = 0, removed = 0;
  for (const auto& x : after) added += !before.count(x);
  for (const auto& x : before) removed += !after.count(x);
  if (added == 0 && removed == 0) return fmt::format("{} unchanged ({})", what, after.size());
  return fmt::format("{} {} added, {} removed ({} before, {} after)", what, added, removed, before.size(), after.size());
}

// Refuses a second spec file redefining a campaign, unless asked (see campaign.hpp).
void check_definition(const CampaignSpec& spec, const CampaignPlan& plan, ResultStore& store, bool redefine) {
  const auto existing = store.campaign_definition(spec.name);
  if (!existing) return;
  std::set<std::string> configurations, samples;
  for (const auto& c : plan.configurations) configurations.insert(c.hash);
  for (const auto& s : plan.samples) samples.insert(s.entry.task + "/" + s.entry.id + "/" + s.fingerprint);
  // A configuration the campaign holds under an older numerics is the same grid point: after an
  // upgrade every hash changes, yet the spec (or a copy of it) defines the same campaign. The
  // recompute is logged on its own (numerics_recomputes).
  std::map<std::string, std::string> current_of;  // older-numerics hash -> this build's hash
  for (const auto& c : plan.configurations)
    for (int v = kLegacyNumerics; v < kNumericsVersion; ++v) current_of.emplace(c.hash_under_numerics(v), c.hash);
  std::set<std::string> before;
  for (const auto& hash : existing->configurations) {
    auto it = current_of.find(hash);
    before.insert(it == current_of.end() ? hash : it->second);
  }
  const bool same_units = configurations == before && samples == existing->samples;
  const bool same_file = real_path(existing->spec_path) == real_path(spec.path);
  if (same_units) return;
  const std::string change = describe_change(before, configurations, "configurations") + "; " +
                             describe_change(existing->samples, samples, "samples");
  if (same_file) {
    spdlog::info("campaign '{}': its spec changed since the last run: {}", spec.name, change);
    return;
  }
  if (redefine) {
    spdlog::warn("campaign '{}' was defined by {}; --redefine makes {} its definition: {}", spec.name,
                 existing->spec_path, spec.path, change);
    return;
  }
  throw InputError(fmt::format(
      "{}: campaign '{}' is already defined by another spec, {}, in {}; this spec would redefine it: {}. Give "
      "this campaign another name, or run with --redefine to make this spec its definition (units and results "
      "of both stay in the database)",
      spec.path, spec.name, existing->spec_path, spec.database, change));
}

}  // namespace

void register_campaign(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store, bool redefine) {
  check_definition(spec, plan, store, redefine);
  plan.configuration_ids.clear();
  // The spec's absolute path: later runs tell an edit of this file from another file.
  plan.campaign_id = store.upsert_campaign(spec.name, real_path(spec.path), spec.text);
  for (const auto& c : plan.configurations)
    plan.configuration_ids.push_back(store.upsert_configuration(c.hash, c.method->name, c.canonical));
  std::vector<std::string> changed;
  for (auto& s : plan.samples) {
    SampleRow row;
    row.task = s.entry.task;
    row.sample_key = s.entry.id;
    row.path = s.absolute_path;
    row.n_tokens = s.entry.n_tokens;
    row.m_answer = s.entry.m_answer;
    row.fingerprint = s.fingerprint;
    if (store.sample_known_otherwise(row)) changed.push_back(row.task + "/" + row.sample_key);
    s.sample_id = store.upsert_sample(row);
  }
  if (!changed.empty())
    spdlog::warn(
        "{} sample(s) of campaign '{}' are in the database under another content fingerprint ({}{}): "
        "their content changed, or an earlier ckv-sweep identified them differently; their units run "
        "again and the earlier rows stay in the database",
        changed.size(), spec.name, fmt::join(changed.begin(), changed.begin() + std::min<size_t>(changed.size(), 5), ", "),
        changed.size() > 5 ? ", ..." : "");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  pairs.reserve(plan.samples.size() * plan.configuration_ids.size());
  for (const auto& s : plan.samples)
    for (int64_t c : plan.configuration_ids) pairs.emplace_back(c, s.sample_id);
  plan.units = store.ensure_units(plan.campaign_id, pairs);
}

std::vector<NumericsRecompute> numerics_recomputes(Database& db, const std::vector<GridPoint>& configurations,
                                                   const std::vector<PlannedSample>& samples) {
  std::vector<NumericsRecompute> out;
  if (configurations.empty() || samples.empty()) return out;
  // Units not done under their own hash; each older version, newest first, claims those it has done.
  std::vector<std::pair<size_t, size_t>> open;  // (configuration, sample)
  {
    std::vector<UnitKey> keys;
    for (const auto& c : configurations)
      for (const auto& s : samples) keys.push_back({c.hash, s.entry.task, s.entry.id, s.fingerprint});
    const auto states = unit_states(db, keys);
    for (size_t i = 0; i < states.size(); ++i)
      if (states[i] != UnitState::Done) open.emplace_back(i / samples.size(), i % samples.size());
  }
  for (int v = kNumericsVersion - 1; v >= kLegacyNumerics && !open.empty(); --v) {
    std::vector<std::string> older(configurations.size());
    for (size_t c = 0; c < configurations.size(); ++c) older[c] = configurations[c].hash_under_numerics(v);
    std::vector<UnitKey> keys;
    keys.reserve(open.size());
    for (const auto& [c, s] : open)
      keys.push_back({older[c], samples[s].entry.task, samples[s].entry.id, samples[s].fingerprint});
    const auto states = unit_states(db, keys);
    std::vector<std::pair<size_t, size_t>> still_open;
    long long done = 0;
    for (size_t i = 0; i < open.size(); ++i) {
      if (states[i] == UnitState::Done)
        ++done;
      else
        still_open.push_back(open[i]);
    }
    if (done > 0) out.push_back({v, done});
    open = std::move(still_open);
  }
  return out;
}

std::string numerics_recompute_text(const NumericsRecompute& recompute) {
  return fmt::format(
      "{} unit{} done under numerics {} will be recomputed under numerics {} (old results stay in the "
      "database, never averaged with new ones)",
      recompute.units, recompute.units == 1 ? "" : "s", recompute.numerics, kNumericsVersion);
}

}  // namespace ckv
