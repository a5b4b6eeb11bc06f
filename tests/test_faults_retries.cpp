// Units whose retries are used up: the run says so and how to proceed (--retry-lost, or
// raise max_attempts) instead of "run again" forever, and --retry-lost runs them once more. Every
// kind of unfinished unit gets the one instruction that finishes it.
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "db_test_helpers.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/embedded_transport.hpp"
#include "scheduler/run_setup.hpp"
#include "scheduler/runner.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::scalar_int;
using ckv_test::TempDir;

namespace {

// 2 tasks x 2 samples x 2 budgets x 1 method = 8 units, one batch per sample; the needle batches
// are dispatched first (spec order), so a stalling multihop batch never takes one down with it.
CampaignSpec write_spec(const TempDir& dir) {
  const std::string path = dir.file("retries.toml");
  std::ofstream(path) << "[campaign]\nname = \"retries\"\ndatabase = \"" << dir.file("retries.sqlite")
                      << "\"\n[data]\ncache = \"" << dir.file("cache")
                      << "\"\ntasks = [\"synth-needle\", \"synth-multihop\"]\n"
                      << "[data.synthetic]\ntokens = 256\nsamples_per_task = 2\nheads = 2\nkv_heads = 1\n"
                      << "head_dim = 32\nlayers = [0]\nnum_layers_model = 2\nanswer_tokens = 2\nseed = 3\n"
                      << "[run]\nthreads = 2\nbatch_units = 4\nunit_timeout = 0.5\nmax_attempts = 1\n"
                      << "[[methods]]\nname = \"h2o\"\n[[grid]]\nbudget = [96, 128]\n";
  CampaignSpec spec = load_spec(path);
  ensure_cache(spec);
  return spec;
}

BatchResult outcome(const Batch& batch, bool fail) {
  BatchResult result{batch.batch_id, {}, {}};
  for (const auto& task : batch.units) {
    UnitResult u;
    u.unit_id = task.unit_id;
    u.ok = !fail;
    if (fail) u.error = batch.sample_label + ": broken";
    else u.metrics = {{"attn_recall", 0.5}};
    result.units.push_back(u);
  }
  return result;
}

// Set once the run under test has returned: a stalling evaluator waits for it, so that its batch
// is overdue however slow the machine (a fixed sleep raced the deadline under the sanitizers).
std::atomic<bool> g_run_returned{false};

RunSummary run_once(const CampaignSpec& spec, BatchEvaluator evaluator, RunOptions options = {}) {
  options.progress = Progress::Mode::Off;
  Database db = Database::open(spec.database, Database::Mode::Writer);
  ResultStore store(db, spec.run.commit_interval);
  CampaignPlan plan = register_campaign(spec, store);
  g_run_returned = false;
  EmbeddedTransport transport(spec.run.threads, EvaluatorOptions{}, std::move(evaluator));
  RunSummary summary = run_campaign(spec, plan, store, transport, options);
  g_run_returned = true;
  transport.stop();
  return summary;
}

}  // namespace

TEST_CASE("lost units with no attempt left are named with --retry-lost, and rerun by it", "[faults]") {
  TempDir dir;
  CampaignSpec spec = write_spec(dir);
  // multihop samples stall until the run has given up on them (lost: unit_timeout 0.5 s, a batch
  // of 2 units on an idle worker is overdue after 1 s); needle samples fail at once.
  auto stall_or_fail = [](const Batch& batch, const EvaluatorOptions&) {
    const bool needle = batch.sample_label.rfind("synth-needle/", 0) == 0;
    for (int i = 0; !needle && !g_run_returned && i < 12000; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return outcome(batch, needle);
  };
  RunSummary first = run_once(spec, stall_or_fail);
  CHECK(first.lost == 4);
  CHECK(first.failed == 4);
  CHECK(first.remaining_exhausted == 4);  // max_attempts = 1: none left
  CHECK(first.remaining_failed == 4);
  CHECK(first.remaining_retryable == 0);
  const std::string text = run_summary_text(spec, first);
  CHECK_THAT(text, Contains("8 units are not done (exit 3)"));
  CHECK_THAT(text, Contains("4 failed (errors: ckv-sweep status " + spec.database + " --failures retries)") &&
                       Contains("run again with --retry-failed"));
  CHECK_THAT(text, Contains("4 lost with every attempt used (max_attempts = 1") &&
                       Contains("run again with --retry-lost, or raise [run] max_attempts in " + spec.path));
  CHECK_THAT(text, !Contains("run the same command again"));  // it would do nothing

  // The same command does nothing, and says so the same way.
  RunSummary again = run_once(spec, stall_or_fail);
  CHECK(again.ran == 0);
  CHECK(again.remaining_exhausted == 4);

  // --retry-lost runs the lost units once more (not the failed ones).
  RunOptions retry_lost;
  retry_lost.retry_lost = true;
  auto all_ok = [](const Batch& batch, const EvaluatorOptions&) { return outcome(batch, false); };
  RunSummary third = run_once(spec, all_ok, retry_lost);
  CHECK(third.ran == 4);
  CHECK(third.done == 4);
  CHECK(third.remaining == 4);
  CHECK(third.remaining_failed == 4);
  CHECK(third.remaining_exhausted == 0);
  Database db = Database::open(spec.database, Database::Mode::ReadOnly);
  CHECK(scalar_int(db, "select count(*) from units where state='done' and attempts=2") == 4);
}

TEST_CASE("units lost with attempts left are for the same command", "[faults]") {
  TempDir dir;
  CampaignSpec spec = write_spec(dir);
  RunSummary s;
  s.total = 8;
  s.remaining = 3;
  s.remaining_retryable = 3;
  s.max_attempts = 3;
  const std::string text = run_summary_text(spec, s);
  CHECK_THAT(text, Contains("3 lost or not started, with attempts left: run the same command again"));
  CHECK_THAT(text, !Contains("--retry-lost") && !Contains("--retry-failed"));
}
