#include "scheduler/runner.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "scheduler/signals.hpp"

namespace ckv {

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

struct InFlight {
  Batch batch;
  int worker = 0;
  double deadline = 0;
};

bool runnable(const UnitRow& unit, const RunSpec& run, const RunOptions& options) {
  switch (unit.state) {
    case UnitState::Pending: return true;
    case UnitState::Lost: return unit.attempts < run.max_attempts || options.retry_lost;
    case UnitState::Failed: return options.retry_failed;
    default: return false;
  }
}

}  // namespace

RunSummary run_campaign(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store,
                        Transport& transport, const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RunSummary summary;
  summary.total = plan.units.size();

  // A previous run that died left units `running`: they are lost, and requeued below.
  const int recovered = store.recover_interrupted(plan.campaign_id);
  if (recovered > 0) spdlog::warn("{} units of an interrupted run were marked lost and are requeued", recovered);
  for (auto& unit : plan.units)
    if (unit.state == UnitState::Running) unit.state = UnitState::Lost;

  std::map<int64_t, const Configuration*> config_of;
  for (size_t i = 0; i < plan.configurations.size(); ++i)
    config_of[plan.configuration_ids[i]] = &plan.configurations[i];
  std::map<int64_t, const PlannedSample*> sample_of;
  for (const auto& s : plan.samples) sample_of[s.sample_id] = &s;

  // Batches grouped by sample: a worker loads a sample once for many configurations.
  std::map<int64_t, std::vector<const UnitRow*>> by_sample;
  long long exhausted = 0;
  for (const auto& unit : plan.units) {
    if (unit.state == UnitState::Done) {
      ++summary.already_done;
    } else if (runnable(unit, spec.run, options)) {
      by_sample[unit.sample_id].push_back(&unit);
    } else if (unit.state == UnitState::Lost) {
      ++exhausted;
    }
  }
  if (exhausted)
    spdlog::warn("{} lost units have used their retry budget (max_attempts = {}) and are not rerun: use "
                 "--retry-lost to run them once more, or raise [run] max_attempts",
                 exhausted, spec.run.max_attempts);
  std::deque<Batch> queue;
  int64_t next_batch = 1;
  for (const auto& [sample_id, units] : by_sample) {
    const PlannedSample& sample = *sample_of.at(sample_id);
    for (size_t i = 0; i < units.size(); i += spec.run.batch_units) {
      Batch batch;
      batch.batch_id = next_batch++;
      batch.sample_path = sample.absolute_path;
      batch.sample_label = sample.entry.task + "/" + sample.entry.id;
      batch.sample_fingerprint = sample.fingerprint;
      for (size_t k = i; k < std::min(units.size(), i + size_t(spec.run.batch_units)); ++k)
        batch.units.push_back(UnitTask{units[k]->unit_id, config_of.at(units[k]->configuration_id)->document});
      queue.push_back(std::move(batch));
    }
  }
  long long to_run = 0;
  for (const auto& b : queue) to_run += b.units.size();

  Progress progress(spec.name, to_run, summary.already_done, summary.total, options.progress,
                    options.progress_interval);
  std::map<int64_t, InFlight> in_flight;
  std::map<std::string, std::string> noted;  // sample label -> its first note (logged once per sample)
  std::vector<int> load(transport.worker_count(), 0);
  std::vector<bool> dead(transport.worker_count(), false);
  for (int w = 0; w < transport.worker_count(); ++w) dead[w] = !transport.usable(w);
  double drain_deadline = 0;

  // Breadth first: every idle worker gets a batch before any gets a second one, so a campaign
  // with few batches is spread over all workers rather than piled on the first ones.
  auto dispatch = [&] {
    for (int level = 1; level <= options.batches_in_flight && !queue.empty(); ++level) {
      for (int w = 0; w < transport.worker_count() && !queue.empty(); ++w) {
        if (!dead[w] && load[w] < level) {
          Batch batch = std::move(queue.front());
          queue.pop_front();
          const WorkerIdentity who = transport.identity(w);
          const double t = now_seconds();
          for (const auto& u : batch.units) store.begin_attempt(u.unit_id, who.rank, who.host, who.pid, t);
          summary.ran += batch.units.size();
          // A batch queued behind others on the worker starts only when they are done.
          const double deadline = t + spec.run.unit_timeout * double(batch.units.size()) *
                                          double(load[w] + 1);
          transport.send(w, batch);
          ++load[w];
          const auto batch_id = batch.batch_id;  // read before the batch is moved into the map
          in_flight.emplace(batch_id, InFlight{std::move(batch), w, deadline});
        }
      }
    }
  };

  // A worker presumed dead holds nothing any more: every batch it was given is lost at once
  // (not one deadline after another), and it gets no new work. The next run requeues them.
  auto lose_worker = [&](int w, const std::string& why) {
    const double t = now_seconds();
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (it->second.worker != w) {
        ++it;
        continue;
      }
      for (const auto& u : it->second.batch.units) {
        store.finish_lost(u.unit_id, t, why);
        ++summary.lost;
      }
      it = in_flight.erase(it);
    }
    dead[w] = true;
    load[w] = 0;
  };

  for (;;) {
    if (drain_requested() && !summary.drained) {
      summary.drained = true;
      summary.drain_signal = drain_signal();
      drain_deadline = now_seconds() + options.drain_grace;
      spdlog::warn("signal {} received: draining ({} batches in flight, grace {:.0f}s); {} batches not started",
                   summary.drain_signal, in_flight.size(), options.drain_grace, queue.size());
      queue.clear();
    }
    if (summary.drained && stop_now_requested() && !summary.stopped_now) {
      summary.stopped_now = true;
      spdlog::warn("second signal: stopping now; {} batches in flight are recorded lost and rerun next time",
                   in_flight.size());
      break;
    }
    if (!summary.drained) dispatch();
    if (in_flight.empty()) break;
    if (summary.drained && now_seconds() > drain_deadline) break;

    if (auto got = transport.receive(0.2)) {
      const int worker = got->worker;
      if (!got->result) {
        const WorkerIdentity who = transport.identity(worker);
        const std::string why = fmt::format("worker rank {} on {} (pid {}) stopped: {}", who.rank,
                                            who.host, who.pid, got->worker_error);
        spdlog::error("{}; its units are lost and rerun by the next run", why);
        lose_worker(worker, why);
      } else {
        const BatchResult& result = *got->result;
        auto it = in_flight.find(result.batch_id);
        if (it == in_flight.end() || it->second.worker != worker) {
          spdlog::warn("ignoring a late result of batch {} (its units were declared lost)", result.batch_id);
        } else {
          for (const std::string& note : result.notes)
            if (noted.emplace(it->second.batch.sample_label, note).second) spdlog::warn("{}", note);
          for (const auto& u : result.units) {
            if (u.ok) {
              store.finish_done(u.unit_id, u.ended, u.metrics);
              ++summary.done;
            } else {
              store.finish_failed(u.unit_id, u.ended, u.error);
              ++summary.failed;
              spdlog::error("unit {} failed: {}", u.unit_id, u.error);
            }
          }
          --load[worker];
          in_flight.erase(it);
        }
      }
    }
    // A worker that holds a batch past its deadline is presumed dead: its units are lost.
    const double t = now_seconds();
    for (auto it = in_flight.begin(); it != in_flight.end(); ++it) {
      if (t > it->second.deadline) {
        const int w = it->second.worker;
        const WorkerIdentity who = transport.identity(w);
        spdlog::error("worker {} (rank {} on {}) exceeded the unit timeout ({}s per unit) on batch {} ({}): "
                      "its units are lost",
                      w, who.rank, who.host, spec.run.unit_timeout, it->first, it->second.batch.sample_label);
        lose_worker(w, fmt::format("unit timeout exceeded ({}s per unit) on rank {} ({})",
                                   spec.run.unit_timeout, who.rank, who.host));
        break;  // lose_worker changed in_flight; the next pass checks the others
      }
    }
    if (std::all_of(dead.begin(), dead.end(), [](bool d) { return d; }) && !queue.empty()) {
      spdlog::error("every worker is gone; {} batches not run", queue.size());
      queue.clear();
    }
    store.maybe_flush();
    progress.update(summary.done, summary.failed, summary.lost);
  }
  // Whatever is still in flight after a drain is lost; the next run requeues it.
  const double t = now_seconds();
  for (const auto& [id, flight] : in_flight)
    for (const auto& u : flight.batch.units) {
      store.finish_lost(u.unit_id, t,
                        summary.stopped_now
                            ? fmt::format("stopped on a second signal before the result arrived (first: {})", summary.drain_signal)
                            : fmt::format("drained on signal {} before the result arrived", summary.drain_signal));
      ++summary.lost;
    }
  in_flight.clear();
  store.flush();
  progress.update(summary.done, summary.failed, summary.lost);
  progress.finish();
  summary.remaining = summary.total - summary.already_done - summary.done;
  // What the remaining units need: the same command, --retry-failed, or --retry-lost.
  summary.max_attempts = spec.run.max_attempts;
  for (const UnitRow& unit : store.campaign_units(plan.campaign_id)) {
    if (unit.state == UnitState::Failed) ++summary.remaining_failed;
    else if (unit.state == UnitState::Lost && unit.attempts >= spec.run.max_attempts) ++summary.remaining_exhausted;
    else if (unit.state != UnitState::Done) ++summary.remaining_retryable;
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace ckv
