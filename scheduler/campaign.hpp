// Turning a validated spec into units in the database: the cache (generated when the spec asks
// for a synthetic one and none exists), the chosen samples, the configurations.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cache/cache_index.hpp"
#include "db/result_store.hpp"
#include "scheduler/spec.hpp"

namespace ckv {

struct PlannedSample {
  IndexEntry entry;
  std::string absolute_path;
  std::string fingerprint;  // sample_fingerprint(): samples of different caches never mix
  int64_t sample_id = 0;    // database id, once registered
  int query_rows = -1;      // r of its queries (SampleFileIdentity::query_rows); -1: unknown
};

// Generates the synthetic cache if the spec has [data.synthetic] and the cache has no index.
// Returns true when it generated one.
bool ensure_cache(const CampaignSpec& spec);

struct PlanOptions {
  // Identify samples by the content_sha256 their metadata records instead of hashing their data
  // (docs/database.md, "Sample identity"); workers verify it either way.
  bool trust_recorded_digests = false;
};

// The samples of the campaign: tasks filter (unknown task → error listing the cache's tasks),
// the first `samples_per_task` samples of each task in id order, each identified by its content
// (sample_fingerprint, hashed on several threads). Refuses (ckv::InputError), before anything
// runs, what planning can know: a sample whose index line disagrees with its file's metadata
// (task, id, n_tokens, m_answer, layers), and [data] layers a sample did not capture. A file that
// cannot be read is not refused here: its units fail with the reader's message (docs/spec/MISSION.md R13).
std::vector<PlannedSample> plan_samples(const CampaignSpec& spec, const PlanOptions& options = {});

// Refuses (ckv::InputError), before anything runs, configurations that read every attention row
// (MethodDef::full_rows_reason) when a planned sample holds window rows only (query_rows <
// n_tokens): each named by its method id (label) and method, with the reason and the sweep
// file's [[methods]] entry. Such units would only fail, one by one.
void check_runnable(const CampaignSpec& spec, const std::vector<GridPoint>& configurations,
                    const std::vector<PlannedSample>& samples);

struct CampaignPlan {
  int64_t campaign_id = 0;
  std::vector<GridPoint> configurations;
  std::vector<PlannedSample> samples;
  std::vector<int64_t> configuration_ids;  // parallel to configurations
  std::vector<UnitRow> units;              // every unit of the campaign
};

// Everything a run needs before it writes anything: the configurations (expansion validates
// every grid point, so a bad spec fails here), the cache (generated when the spec asks for a
// synthetic one and none exists) and the samples.
CampaignPlan prepare_campaign(const CampaignSpec& spec, const PlanOptions& options = {});

// Registers campaign, configurations, samples and units (pending when new) of a prepared plan.
// A campaign name already defined by another spec file with other units is a redefinition: it
// is refused (ckv::InputError saying what would change) unless `redefine`. The same spec file,
// edited, may change its campaign (that is how a sweep grows); another file with the same units
// (a copy, a moved spec) may run it.
void register_campaign(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store, bool redefine = false);

// prepare_campaign + register_campaign.
CampaignPlan register_campaign(const CampaignSpec& spec, ResultStore& store);

// Units of a plan that an earlier numerics version already computed (kernels/numerics.hpp,
// docs/database.md "Numerics versions"): the unit is not done under its configuration's hash,
// while the same configuration under an older numerics (Configuration::hash_under_numerics) is
// done on the same sample. Those units are computed anew; the old rows stay in the database under
// their own hash, never averaged with the new ones.
struct NumericsRecompute {
  int numerics = 0;     // the older version the units were done under (the newest one, if several)
  long long units = 0;  // how many of the plan's units
};
// One entry per older version with units, newest first; empty when nothing is recomputed. Works
// on a reader or the writer's connection.
std::vector<NumericsRecompute> numerics_recomputes(Database& db, const std::vector<GridPoint>& configurations,
                                                   const std::vector<PlannedSample>& samples);
// "1440 units done under numerics 1 will be recomputed under numerics 2 (old results stay in the
// database, never averaged with new ones)": `plan` prints it, `run` logs it.
std::string numerics_recompute_text(const NumericsRecompute& recompute);

}  // namespace ckv
