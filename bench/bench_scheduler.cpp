// Scheduler throughput (docs/spec/MISSION.md R12): units per second dispatched, returned and committed to SQLite,
// with a trivial evaluator so the figure is the scheduler's (JSON batches, MPI or threads,
// bookkeeping, batched commits), not the kernels'. One row per run:
//   mpirun --oversubscribe -np 4 build/bench/bench_scheduler [--units N] [--batch-units B]
//   build/bench/bench_scheduler --threads 3        (embedded: no launcher)
// docs/benchmarks.md has the commands and figures.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/canonical_json.hpp"
#include "common/clock.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/embedded_transport.hpp"
#include "scheduler/launch.hpp"
#include "scheduler/runner.hpp"
#ifdef CKV_HAVE_MPI
#include "scheduler/mpi/mpi_transport.hpp"
#endif

namespace fs = std::filesystem;
using namespace ckv;

namespace {

struct Options {
  int units = 8000;
  int batch_units = 16;
  int samples = 50;
  int threads = 2;  // embedded only
  double commit_interval = 1.0;
  bool header = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] {
      if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", argv[i]));
      return std::string(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--units")) o.units = std::stoi(next());
    else if (!std::strcmp(argv[i], "--batch-units")) o.batch_units = std::stoi(next());
    else if (!std::strcmp(argv[i], "--samples")) o.samples = std::stoi(next());
    else if (!std::strcmp(argv[i], "--threads")) o.threads = std::stoi(next());
    else if (!std::strcmp(argv[i], "--commit-interval")) o.commit_interval = std::stod(next());
    else if (!std::strcmp(argv[i], "--no-header")) o.header = false;
    else throw std::runtime_error(fmt::format("unknown option {} (--units --batch-units --samples --threads --commit-interval --no-header)", argv[i]));
  }
  return o;
}

// What a kernel-free worker returns: every unit done with a handful of metrics, as many as
// the real evaluator writes, so the database work per unit is realistic.
BatchResult trivial_evaluator(const Batch& batch, const EvaluatorOptions&) {
  BatchResult result{batch.batch_id, {}, {}};
  const double now = now_seconds();
  for (const auto& task : batch.units) {
    UnitResult u;
    u.unit_id = task.unit_id;
    u.ok = true;
    u.started = u.ended = now;
    u.metrics = {{"attn_recall", 0.5}, {"evidence_recall", 0.25}, {"evidence_recall_min", 0.125}, {"kept", 64.0}, {"output_error", 0.01}, {"score_ms", 0.0}, {"topk_recall", 0.75}};
    result.units.push_back(std::move(u));
  }
  return result;
}

// A campaign of `units` fake units (configurations x samples) in a fresh database; the sample
// paths are never opened by the trivial evaluator.
CampaignPlan make_plan(const Options& o, ResultStore& store, CampaignSpec& spec) {
  spec.name = "bench";
  spec.run.batch_units = o.batch_units;
  spec.run.commit_interval = o.commit_interval;
  spec.run.unit_timeout = 600;
  CampaignPlan plan;
  plan.campaign_id = store.upsert_campaign(spec.name, "bench_scheduler", "");
  const int configs = std::max(1, o.units / o.samples);
  for (int c = 0; c < configs; ++c) {
    GridPoint conf;
    static_cast<Configuration&>(conf) = Configuration::make("h2o", {{"budget", 64 + c}});
    conf.method_id = "h2o";
    plan.configuration_ids.push_back(store.upsert_configuration(conf.hash, "h2o", conf.canonical));
    plan.configurations.push_back(std::move(conf));
  }
  for (int s = 0; s < o.samples; ++s) {
    PlannedSample sample;
    sample.entry.task = "synth-needle";
    sample.entry.id = fmt::format("bench-{:04d}", s);
    sample.absolute_path = "/nonexistent/" + sample.entry.id + ".safetensors";
    SampleRow row;
    row.task = sample.entry.task;
    row.sample_key = sample.entry.id;
    row.path = sample.absolute_path;
    row.n_tokens = 256;
    row.m_answer = 4;
    sample.sample_id = store.upsert_sample(row);
    plan.samples.push_back(std::move(sample));
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (const auto& s : plan.samples)
    for (int64_t c : plan.configuration_ids) pairs.emplace_back(c, s.sample_id);
  plan.units = store.ensure_units(plan.campaign_id, pairs);
  return plan;
}

void print_row(const Options& o, const std::string& mode, int ranks, int workers, const RunSummary& s) {
  if (o.header) {
    fmt::print("| mode | ranks | workers | units | batch | commit s | seconds | units/s | units/s/worker |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|\n");
  }
  const double rate = s.seconds > 0 ? double(s.done) / s.seconds : 0;
  fmt::print("| {} | {} | {} | {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.0f} |\n", mode, ranks, workers,
             s.done, o.batch_units, o.commit_interval, s.seconds, rate, rate / std::max(1, workers));
  std::fflush(stdout);
}

int run_scheduler(const Options& o, Transport& transport, const std::string& mode, int ranks) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ckv_bench_scheduler_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  RunSummary summary;
  {
    CampaignSpec spec;
    spec.database = (dir / "bench.sqlite").string();
    Database db = Database::open(spec.database, Database::Mode::Writer);
    ResultStore store(db, o.commit_interval);
    CampaignPlan plan = make_plan(o, store, spec);
    RunOptions run;
    run.progress = Progress::Mode::Off;
    summary = run_campaign(spec, plan, store, transport, run);  // ends with the final commit
  }
  fs::remove_all(dir);
  print_row(o, mode, ranks, transport.worker_count(), summary);
  return summary.complete() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  try {
    const Options o = parse(argc, argv);
    const LaunchContext launch = detect_launch();
    if (launch.world_size > 1) {
#ifdef CKV_HAVE_MPI
      MpiSession session;
      session.check_world(launch);
      if (session.rank() != 0) return run_mpi_worker(session, &trivial_evaluator);
      int code = 1;
      {
        MpiTransport transport(session);
        code = run_scheduler(o, transport, "mpi", session.size());
        transport.stop();
        if (!transport.all_stopped()) session.abort(1);
      }
      return code;
#else
      throw std::runtime_error("started under a launcher, but built without MPI");
#endif
    }
    EmbeddedTransport transport(o.threads, EvaluatorOptions{}, &trivial_evaluator);
    const int code = run_scheduler(o, transport, "embedded", 1);
    transport.stop();
    return code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scheduler: %s\n", e.what());
    return 1;
  }
}
