// The scheduler loop's fault handling (docs/spec/MISSION.md R8) on the embedded transport with injected evaluators:
// failed units are not retried unless asked, timed-out and crashed workers lose their units to
// the next run within the retry budget, a drain signal stops dispatching, and every attempt is
// recorded. The MPI and SIGKILL paths are exercised end to end by tests/faults/*.sh.
#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "db_test_helpers.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/embedded_transport.hpp"
#include "scheduler/runner.hpp"
#include "scheduler/signals.hpp"

using namespace ckv;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;

namespace {

// 2 tasks x 2 samples x (2 budgets x 2 methods) = 16 units, batches of 4 (one sample each).
CampaignSpec write_spec(const TempDir& dir, const std::string& run_extra = "") {
  const std::string path = dir.file("faults.toml");
  std::ofstream(path) << "[campaign]\nname = \"faults\"\ndatabase = \"" << dir.file("faults.sqlite")
                      << "\"\n[data]\ncache = \"" << dir.file("cache") << "\"\nsamples_per_task = 2\ntasks = [\"synth-multihop\", \"synth-needle\"]\n"
                      << "[data.synthetic]\ntokens = 256\nsamples_per_task = 2\nheads = 2\nkv_heads = 1\n"
                      << "head_dim = 32\nlayers = [0]\nnum_layers_model = 2\nanswer_tokens = 2\nseed = 3\n"
                      << "[run]\nthreads = 2\nbatch_units = 4\n"
                      << run_extra
                      << "[[methods]]\nname = \"h2o\"\n[[methods]]\nname = \"snapkv\"\n"
                      << "[[grid]]\nbudget = [96, 128]\n";
  CampaignSpec spec = load_spec(path);
  ensure_cache(spec);
  return spec;
}

UnitResult ok_unit(int64_t unit_id) {
  UnitResult u;
  u.unit_id = unit_id;
  u.ok = true;
  u.metrics = {{"attn_recall", 0.5}, {"kept", std::nullopt}};
  return u;
}

BatchResult all_ok(const Batch& batch, const EvaluatorOptions&) {
  BatchResult result{batch.batch_id, {}, {}};
  for (const auto& task : batch.units) result.units.push_back(ok_unit(task.unit_id));
  return result;
}

// One run of the campaign as `ckv-sweep run` does it, with the given evaluator.
RunSummary run_once(const CampaignSpec& spec, BatchEvaluator evaluator, RunOptions options = {}) {
  options.progress = Progress::Mode::Off;
  Database db = Database::open(spec.database, Database::Mode::Writer);
  ResultStore store(db, spec.run.commit_interval);
  CampaignPlan plan = register_campaign(spec, store);
  EmbeddedTransport transport(spec.run.threads, EvaluatorOptions{}, std::move(evaluator));
  RunSummary summary = run_campaign(spec, plan, store, transport, options);
  transport.stop();
  return summary;
}

int64_t count(const CampaignSpec& spec, const std::string& sql) {
  Database db = Database::open(spec.database, Database::Mode::ReadOnly);
  return scalar_int(db, sql);
}

}  // namespace

TEST_CASE("a unit that fails keeps its message and is rerun only with retry_failed", "[faults]") {
  TempDir dir;
  CampaignSpec spec = write_spec(dir);
  auto fail_odd = [](const Batch& batch, const EvaluatorOptions& o) {
    BatchResult result = all_ok(batch, o);
    for (auto& u : result.units)
      if (u.unit_id % 2) {
        u.ok = false;
        u.metrics.clear();
        u.error = "planted failure of unit " + std::to_string(u.unit_id);
      }
    return result;
  };
  RunSummary first = run_once(spec, fail_odd);
  CHECK(first.ran == 16);
  CHECK(first.failed == 8);
  CHECK(first.done == 8);
  CHECK(!first.complete());
  CHECK(count(spec, "select count(*) from units where state='failed' and last_error like 'planted failure of unit %'") == 8);
  CHECK(count(spec, "select count(*) from attempts where outcome='failed' and error like 'planted%'") == 8);

  RunSummary second = run_once(spec, all_ok);
  CHECK(second.ran == 0);  // failed units wait for --retry-failed
  CHECK(second.remaining == 8);

  RunOptions retry;
  retry.retry_failed = true;
  RunSummary third = run_once(spec, all_ok, retry);
  CHECK(third.ran == 8);
  CHECK(third.complete());
  CHECK(count(spec, "select count(*) from attempts") == 24);
  CHECK(count(spec, "select count(*) from units where state='done' and attempts=2") == 8);
}

TEST_CASE("a worker past the unit timeout loses its units; later runs requeue them within max_attempts",
          "[faults]") {
  TempDir dir;
  // 0.05 s per unit: a batch of 4 is declared lost after 0.2 s (0.4 s when queued second).
  CampaignSpec spec = write_spec(dir, "unit_timeout = 0.05\nmax_attempts = 2\n");
  auto stall_needle = [](const Batch& batch, const EvaluatorOptions& o) {
    if (batch.sample_label.rfind("synth-needle/", 0) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    return all_ok(batch, o);
  };
  RunSummary first = run_once(spec, stall_needle);
  CHECK(first.lost > 0);
  CHECK(first.done + first.lost == first.ran);
  CHECK(!first.complete());
  const int64_t lost = count(spec, "select count(*) from units where state='lost'");
  CHECK(lost == first.lost);
  CHECK(count(spec, "select count(*) from attempts where outcome='lost' and error like 'unit timeout exceeded%'") == lost);

  // Second attempt stalls again: the units reach max_attempts = 2 and a third run leaves them.
  RunSummary second = run_once(spec, stall_needle);
  CHECK(second.ran >= lost);
  const int64_t exhausted = count(spec, "select count(*) from units where state='lost' and attempts=2");
  CHECK(exhausted > 0);
  const int64_t runnable = count(spec, "select count(*) from units where state='pending' or (state='lost' and attempts<2)");
  RunSummary third = run_once(spec, all_ok);
  CHECK(third.ran == runnable);
  CHECK(count(spec, "select count(*) from units where state='lost' and attempts=2") == exhausted);
  CHECK(!third.complete());
  // Every attempt is on record: one row per dispatched unit over the three runs.
  CHECK(count(spec, "select count(*) from attempts") == first.ran + second.ran + third.ran);
}

TEST_CASE("an error outside evaluate_batch ends that worker and loses its units with the message",
          "[faults]") {
  TempDir dir;
  CampaignSpec spec = write_spec(dir);
  auto crash_needle = [](const Batch& batch, const EvaluatorOptions& o) -> BatchResult {
    if (batch.sample_label.rfind("synth-needle/", 0) == 0) throw std::runtime_error("device exploded");
    return all_ok(batch, o);
  };
  RunSummary first = run_once(spec, crash_needle);
  CHECK(first.lost > 0);
  CHECK(count(spec, "select count(*) from units where state='lost' and last_error like '%stopped: device exploded'") == first.lost);
  // The other worker went on until it, too, met a needle batch; nothing was left hanging.
  CHECK(first.done + first.lost == first.ran);
  RunSummary second = run_once(spec, all_ok);
  CHECK(second.complete());
  CHECK(count(spec, "select count(*) from units where state='done'") == 16);
  CHECK(count(spec, "select count(*) from results where metric='attn_recall'") == 16);
}

TEST_CASE("a drain signal stops dispatching, records in-flight work, and the next run finishes",
          "[faults]") {
  TempDir dir;
  CampaignSpec spec = write_spec(dir);
  install_drain_handlers();
  reset_drain_state();
  auto signal_then_slow = [](const Batch& batch, const EvaluatorOptions& o) {
    std::raise(SIGUSR1);  // as srun --signal=USR1 would, while batches are in flight
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return all_ok(batch, o);
  };
  RunOptions options;
  options.drain_grace = 5;
  options.batches_in_flight = 1;  // 2 of the 4 batches start before the signal
  RunSummary first = run_once(spec, signal_then_slow, options);
  CHECK(first.drained);
  CHECK(first.drain_signal == SIGUSR1);
  CHECK(first.ran < 16);  // dispatch stopped
  CHECK(first.done + first.lost == first.ran);
  reset_drain_state();
  RunSummary second = run_once(spec, all_ok);
  CHECK(second.complete());
  CHECK(count(spec, "select count(*) from units where state='done'") == 16);
  CHECK(count(spec, "select count(*) from attempts where outcome is null") == 0);
}
