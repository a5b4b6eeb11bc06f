// The numerics version in a configuration's identity (kernels/numerics.hpp, docs/database.md
// "Numerics versions"): new configurations carry this build's version and so a new hash; a stored
// document without one is numerics 1 and keeps its canonical form and hash; `plan` and `run`
// count the units an earlier numerics computed, and a campaign re-run under the new numerics is
// made of the new units only while the old rows stay in the database.
#include <catch2/catch.hpp>

#include <string>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"
#include "kernels/numerics.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/spec.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::scalar_int;
using ckv_test::TempDir;

namespace {

// The document as a build before the numerics version stored it: "numerics" left out.
json legacy_document(const Configuration& c) {
  json doc = c.document;
  doc["eval"].erase("numerics");
  return doc;
}

const char* kSpec = R"(
[campaign]
name = "upgrade"
database = "unused.sqlite"
[data]
cache = "cache"
[[methods]]
name = "snapkv"
[[methods]]
name = "h2o"
[[grid]]
budget = [96, 128]
)";

std::vector<PlannedSample> samples(int n) {
  std::vector<PlannedSample> out;
  for (int i = 0; i < n; ++i) {
    PlannedSample s;
    s.entry.task = "synth-needle";
    s.entry.id = std::to_string(i);
    s.entry.n_tokens = 256;
    s.entry.m_answer = 4;
    s.absolute_path = "/cache/synth-needle/" + s.entry.id + ".safetensors";
    s.fingerprint = std::string(64, char('a' + i));
    out.push_back(s);
  }
  return out;
}

// A database as the build before numerics 2 left it: campaign "upgrade" (spec a.toml) with every
// point's numerics-1 units on `n` samples, all done except the first point's on sample 0 (failed).
void legacy_database(Database& db, const std::vector<GridPoint>& points, const std::vector<PlannedSample>& planned) {
  ResultStore store(db, 3600.0);
  const int64_t campaign = store.upsert_campaign("upgrade", "/specs/a.toml", kSpec);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (const auto& s : planned) {
    const int64_t sample = store.upsert_sample({s.entry.task, s.entry.id, s.absolute_path, 256, 4, s.fingerprint});
    for (const auto& c : points) {
      const json doc = legacy_document(c);
      pairs.emplace_back(store.upsert_configuration(sha256_hex(canonical_json(doc)), c.method->name, canonical_json(doc)),
                         sample);
    }
  }
  const auto units = store.ensure_units(campaign, pairs);
  for (size_t i = 0; i < units.size(); ++i) {
    store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
    if (i == 0)
      store.finish_failed(units[i].unit_id, 2.0, "broken");
    else
      store.finish_done(units[i].unit_id, 2.0, {{"attn_recall", 0.5}});
  }
  store.flush();
}

}  // namespace

TEST_CASE("new configurations carry this build's numerics version", "[spec]") {
  CHECK(kNumericsVersion == 4);
  CHECK(kLegacyNumerics == 1);
  const Configuration c = Configuration::make("h2o", {{"budget", 128}});
  CHECK(c.numerics() == kNumericsVersion);
  CHECK(c.document.at("eval").at("numerics") == kNumericsVersion);
  CHECK_THAT(c.canonical, Contains(R"("eval":{"layers":"all","numerics":4,"topk":32})"));
  // make() builds a configuration of this build, whatever the settings passed in say.
  EvalSettings old;
  old.numerics = kLegacyNumerics;
  CHECK(Configuration::make("h2o", {{"budget", 128}}, old).hash == c.hash);
  // Every grid point of a spec.
  for (const auto& point : expand_grid(parse_spec(kSpec, "upgrade.toml"))) CHECK(point.numerics() == kNumericsVersion);
  // Its own document reads back as itself.
  const Configuration again = Configuration::from_document(json::parse(c.canonical));
  CHECK(again.canonical == c.canonical);
  CHECK(again.hash == c.hash);
  CHECK(again.numerics() == kNumericsVersion);
  // Each version has its one-line description.
  CHECK(numerics_description(1) != nullptr);
  CHECK(numerics_description(2) != nullptr);
  CHECK(numerics_description(3) != nullptr);
  CHECK(numerics_description(4) != nullptr);
  CHECK(numerics_description(5) == nullptr);
  CHECK_THAT(numerics_label(1), Contains("numerics 1 (the kernels up to 0.1"));
}

TEST_CASE("a stored document without numerics is numerics 1 and keeps its canonical form and hash", "[spec]") {
  const Configuration c = Configuration::make("snapkv", {{"budget", 96}, {"pool", "avg"}});
  const std::string stored = canonical_json(legacy_document(c));
  CHECK(stored.find("numerics") == std::string::npos);
  const Configuration old = Configuration::from_document(json::parse(stored));
  CHECK(old.numerics() == kLegacyNumerics);
  CHECK(old.canonical == stored);
  CHECK(old.hash == sha256_hex(stored));
  CHECK(old.hash != c.hash);
  CHECK(old.hash == c.hash_under_numerics(kLegacyNumerics));
  CHECK(old.hash_under_numerics(kNumericsVersion) == c.hash);
  CHECK(old.score_key() == c.score_key());  // the same point, only the numerics differ
  // Written out, numerics 1 is the same document (the canonical form leaves it out).
  json explicit_legacy = json::parse(stored);
  explicit_legacy["eval"]["numerics"] = 1;
  CHECK(Configuration::from_document(explicit_legacy).canonical == stored);
  // A document without "eval" at all is a numerics-1 document too.
  CHECK(Configuration::from_document(json{{"method", "h2o"}, {"params", {{"budget", 64}}}}).numerics() == 1);
}

TEST_CASE("an unknown or malformed numerics value is refused", "[spec]") {
  auto error_of = [](const json& numerics) {
    json doc = {{"method", "h2o"}, {"params", {{"budget", 64}}}, {"eval", {{"topk", 32}, {"numerics", numerics}}}};
    try {
      Configuration::from_document(doc);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  for (const json& bad : {json("2"), json(2.0), json(2.5), json(0), json(-1), json(true), json(nullptr), json::array({2})})
    CHECK(error_of(bad) ==
          "eval.numerics must be a numerics version, an integer from 1 to 4 (docs/database.md, "
          "\"Numerics versions\"), got " +
              bad.dump());
  CHECK_THAT(error_of(5), Contains("eval.numerics 5 is newer than this ckv-sweep knows (it computes numerics 4: "));
  CHECK_THAT(error_of(5), Contains("read it with the ckv-sweep that wrote it"));
  CHECK(error_of(4) == "(accepted)");
  CHECK(error_of(3) == "(accepted)");
  CHECK(error_of(2) == "(accepted)");
  CHECK(error_of(1) == "(accepted)");
}

TEST_CASE("plan counts the units an earlier numerics computed; a rerun makes the campaign the new units", "[spec]") {
  TempDir dir;
  const std::string path = dir.file("ckv.sqlite");
  const CampaignSpec spec = parse_spec(kSpec, "/specs/a.toml");
  std::vector<GridPoint> points = expand_grid(spec);
  REQUIRE(points.size() == 4);
  const std::vector<PlannedSample> planned = samples(3);
  {
    Database db = Database::open(path, Database::Mode::Writer);
    legacy_database(db, points, planned);
  }
  {
    Database db = Database::open(path, Database::Mode::ReadOnly);
    // 12 units, 11 done under numerics 1 (the failed one is simply to run).
    const auto recomputes = numerics_recomputes(db, points, planned);
    REQUIRE(recomputes.size() == 1);
    CHECK(recomputes[0].numerics == 1);
    CHECK(recomputes[0].units == 11);
    CHECK(numerics_recompute_text(recomputes[0]) ==
          "11 units done under numerics 1 will be recomputed under numerics 4 (old results stay in the database, "
          "never averaged with new ones)");
    // A sample the old build never saw, or another point, is not counted.
    CHECK(numerics_recomputes(db, points, samples(4)).at(0).units == 11);
    CHECK(numerics_recomputes(db, {}, planned).empty());
  }

  // The run: the same campaign, from a copy of its spec in another file (not a redefinition:
  // only the numerics changed), registers the numerics-4 units.
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  CampaignSpec copy = spec;
  copy.path = "/specs/copy-of-a.toml";
  CampaignPlan plan;
  plan.configurations = points;
  plan.samples = planned;
  REQUIRE_NOTHROW(register_campaign(copy, plan, store));
  REQUIRE(plan.units.size() == 12);
  for (const auto& unit : plan.units) CHECK(unit.state == UnitState::Pending);
  // The campaign is now exactly the numerics-4 units; the numerics-1 rows stay in the database.
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaign_units") == 12);
  CHECK(scalar_int(db,
                   "SELECT COUNT(*) FROM campaign_units cu JOIN units u ON u.id = cu.unit_id "
                   "JOIN configurations cf ON cf.id = u.configuration_id "
                   "WHERE json_extract(cf.canonical_json, '$.eval.numerics') = 4") == 12);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM units WHERE state = 'done'") == 11);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM results") == 11);
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM configurations") == 8);
  // Half of the new units done: those no longer count as recomputed.
  for (size_t i = 0; i < plan.units.size(); i += 2) {
    store.begin_attempt(plan.units[i].unit_id, 1, "h", 1, 3.0);
    store.finish_done(plan.units[i].unit_id, 4.0, {{"attn_recall", 0.25}});
  }
  store.flush();
  // Unit 0 (the first sample's first point) was failed under numerics 1 and is done now: of the
  // 6 still open, all were done under numerics 1.
  CHECK(numerics_recomputes(db, points, planned).at(0).units == 6);

  // Another spec file that changes the points is still a redefinition.
  CampaignSpec other = parse_spec(std::string(kSpec) + "\n[[grid]]\nmethods = [\"h2o\"]\nbudget = [160]\n",
                                  "/specs/other.toml");
  CampaignPlan other_plan;
  other_plan.configurations = expand_grid(other);
  other_plan.samples = planned;
  try {
    register_campaign(other, other_plan, store);
    FAIL("expected a redefinition error");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Contains("configurations 1 added, 0 removed (4 before, 5 after)"));
  }
}
