#include "scheduler/run_setup.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "common/exit_codes.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/stages/threads.hpp"
#include "scheduler/campaign.hpp"
#include "scheduler/embedded_transport.hpp"
#include "scheduler/launch.hpp"
#include "scheduler/signals.hpp"

namespace ckv {

namespace {

// "0, 2, 4" or "0-199": worker indices for one log line.
std::string index_list(const std::vector<int>& indices) {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") +
           (j >= i + 2 ? fmt::format("{}-{}", indices[i], indices[j]) : fmt::format("{}", indices[i]));
    if (j == i + 1) out += fmt::format(", {}", indices[j]);
    i = j + 1;
  }
  return out;
}

// World size 1: the scheduler and its worker threads in this process.
int run_embedded(const RunRequest& request) {
  std::optional<EmbeddedTransport> transport;
  const int code = schedule_campaign(request, [&](const CampaignSpec& spec) -> Transport& {
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    const int workers = spec.run.threads > 0 ? spec.run.threads : cores;
    // The worker threads share the cores: a unit gets cores / (batches in flight) kernel threads
    // (kernels/stages/threads.hpp), all of them when it runs alone.
    set_default_kernel_threads(cores);
    const int visible = request.device == DeviceChoice::Cpu ? 0 : cuda_device_count();
    std::vector<EvaluatorOptions> per_worker(static_cast<size_t>(workers));
    std::map<std::string, std::vector<int>> by_device;  // one log line per device, naming its workers
    for (int w = 0; w < workers; ++w) {
      per_worker[size_t(w)].device = choose_device(request.device, visible, w);
      by_device[describe_device(request.device, per_worker[size_t(w)].device, visible)].push_back(w);
    }
    for (const auto& [device, list] : by_device)
      spdlog::info("embedded worker{} {}: {}", list.size() == 1 ? "" : "s", index_list(list), device);
    transport.emplace(per_worker);
    return *transport;
  });
  if (transport) {
    // The database is closed and the summary printed. Workers still inside a kernel are not
    // waited for beyond a moment: the run ends within its drain grace, as an MPI run does.
    transport->stop();
    if (const int left = transport->wait_for_workers(2.0); left > 0) {
      spdlog::warn(
          "{} worker thread(s) still inside a kernel are not waited for; their batches were recorded "
          "lost and run again next time",
          left);
      spdlog::default_logger()->flush();
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(code);  // static destructors must not run under threads that still compute
    }
  }
  return code;
}

}  // namespace

int run_campaign_command(const RunRequest& request) {
  const LaunchContext launch = detect_launch();
  if (launch.world_size > 1) return run_distributed(launch, request);
  return run_embedded(request);
}

int schedule_campaign(const RunRequest& request, const TransportProvider& transport_for) {
  install_drain_handlers();
  CampaignSpec spec = load_spec(request.spec_path);
  if (request.threads >= 0) spec.run.threads = request.threads;
  {
    // Absolute paths: a batch log read later (or on another node) says which files were used.
    std::error_code ec;
    auto absolute = [&](const std::string& p) { return std::filesystem::absolute(p, ec).lexically_normal().string(); };
    spdlog::info("campaign '{}': spec {}, database {}, cache {}", spec.name, absolute(spec.path),
                 absolute(spec.database), absolute(spec.data.cache_dir));
  }
  // Workers first (their devices chosen, MPI ranks heard from): a run that could not compute
  // anything stops before it plans or writes.
  Transport& transport = transport_for(spec);
  int usable = 0;
  for (int w = 0; w < transport.worker_count(); ++w) usable += transport.usable(w);
  CKV_CHECK(usable > 0, "no worker could start ({} of {} failed; their errors are logged above)",
            transport.worker_count(), transport.worker_count());
  CampaignPlan plan = prepare_campaign(spec, request.plan);  // validates and plans before anything is written
  Database db = Database::open(spec.database, Database::Mode::Writer);
  ResultStore store(db, spec.run.commit_interval);
  register_campaign(spec, plan, store, request.redefine);
  spdlog::info("campaign '{}': {} configurations x {} samples = {} units; {}", spec.name,
               plan.configurations.size(), plan.samples.size(), plan.units.size(), transport.description());
  // Units an earlier numerics computed are new units now (docs/database.md, "Numerics versions").
  for (const NumericsRecompute& recompute : numerics_recomputes(db, plan.configurations, plan.samples))
    spdlog::info("campaign '{}': {}", spec.name, numerics_recompute_text(recompute));
  store.set_commit_retry(request.commit_retry);
  store.set_retry_abort(&stop_now_requested);  // a second signal does not wait for the disk
  try {
    const RunSummary summary = run_campaign(spec, plan, store, transport, request.options);
    store.flush();
    return report_run_summary(spec, summary);
  } catch (const CommitError& e) {
    // One true account: what is lost is what the next run redoes; what was committed stays.
    store.abandon();
    fmt::print(stderr,
               "ckv-sweep: {}: results could not be committed for {:.0f} s ({}). The results of {} unit(s) "
               "finished since the last commit are not recorded: those units run again next time; everything "
               "committed before is kept. Run the same command again once the database can be written "
               "(exit {}).\n",
               spec.database, e.seconds, e.reason, e.finishes, kExitIncomplete);
    return kExitIncomplete;
  }
}

std::string run_summary_text(const CampaignSpec& spec, const RunSummary& s) {
  std::string out = fmt::format("campaign '{}': {} units, {} done before, {} run now ({} done, {} failed, {} lost) in {:.1f}s\n",
                                spec.name, s.total, s.already_done, s.ran, s.done, s.failed, s.lost, s.seconds);
  if (s.complete()) return out + fmt::format("campaign '{}' is complete; results in {}\n", spec.name, spec.database);
  if (s.drained)
    return out + fmt::format("drained on signal {}{}: {} units remain. Run the same command again to resume (exit {}).\n",
                             s.drain_signal, s.stopped_now ? ", stopped at once by a second signal" : "", s.remaining,
                             kExitIncomplete);
  // Each kind of unfinished unit with the one thing that finishes it: never "run again" for units
  // a rerun would skip.
  out += fmt::format("{} units are not done (exit {}):\n", s.remaining, kExitIncomplete);
  if (s.remaining_retryable > 0)
    out += fmt::format("  {} lost or not started, with attempts left: run the same command again\n", s.remaining_retryable);
  if (s.remaining_failed > 0)
    out += fmt::format(
        "  {} failed (errors: ckv-sweep status {} --failures {}): once the cause is fixed, run again "
        "with --retry-failed\n",
        s.remaining_failed, spec.database, spec.name);
  if (s.remaining_exhausted > 0)
    out += fmt::format(
        "  {} lost with every attempt used (max_attempts = {}; a worker vanished or timed out each time): "
        "run again with --retry-lost, or raise [run] max_attempts in {}\n",
        s.remaining_exhausted, s.max_attempts, spec.path);
  return out;
}

int report_run_summary(const CampaignSpec& spec, const RunSummary& s) {
  fmt::print(stderr, "{}", run_summary_text(spec, s));
  return s.complete() ? kExitOk : kExitIncomplete;
}

}  // namespace ckv
