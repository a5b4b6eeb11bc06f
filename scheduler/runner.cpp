#include "scheduler/runner.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "scheduler/signals.hpp"

namespace ckv {

namespace {

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

// One run of a campaign: the steps of run_campaign, in the order it takes them, over the state
// they share (the queue of batches, what is in flight on which worker, the summary).
class CampaignRun {
 public:
  CampaignRun(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store, Transport& transport,
              const RunOptions& options)
      : spec_(spec), plan_(plan), store_(store), transport_(transport), options_(options), load_(transport.worker_count(), 0), dead_(transport.worker_count(), false) {
    summary_.total = plan.units.size();
    for (int w = 0; w < transport.worker_count(); ++w) dead_[w] = !transport.usable(w);
  }

  // A previous run that died left units `running`: they are lost, and requeued by queue_batches.
  void recover_interrupted() {
    const int recovered = store_.recover_interrupted(plan_.campaign_id);
    if (recovered > 0) spdlog::warn("{} units of an interrupted run were marked lost and are requeued", recovered);
    for (auto& unit : plan_.units)
      if (unit.state == UnitState::Running) unit.state = UnitState::Lost;
  }

  // Batches of the runnable units grouped by sample (a worker loads a sample once for many
  // configurations), at most [run] batch_units each.
  void queue_batches() {
    std::map<int64_t, std::vector<const UnitRow*>> by_sample;
    long long exhausted = 0;
    for (const auto& unit : plan_.units) {
      if (unit.state == UnitState::Done) {
        ++summary_.already_done;
      } else if (runnable(unit, spec_.run, options_)) {
        by_sample[unit.sample_id].push_back(&unit);
      } else if (unit.state == UnitState::Lost) {
        ++exhausted;
      }
    }
    if (exhausted)
      spdlog::warn(
          "{} lost units have used their retry budget (max_attempts = {}) and are not rerun: use "
          "--retry-lost to run them once more, or raise [run] max_attempts",
          exhausted, spec_.run.max_attempts);
    std::map<int64_t, const Configuration*> config_of;
    for (size_t i = 0; i < plan_.configurations.size(); ++i)
      config_of[plan_.configuration_ids[i]] = &plan_.configurations[i];
    std::map<int64_t, const PlannedSample*> sample_of;
    for (const auto& s : plan_.samples) sample_of[s.sample_id] = &s;
    const size_t batch_units = size_t(spec_.run.batch_units);
    int64_t next_batch = 1;
    for (const auto& [sample_id, units] : by_sample) {
      const PlannedSample& sample = *sample_of.at(sample_id);
      for (size_t i = 0; i < units.size(); i += batch_units) {
        Batch batch;
        batch.batch_id = next_batch++;
        batch.sample_path = sample.absolute_path;
        batch.sample_label = sample.entry.task + "/" + sample.entry.id;
        batch.sample_fingerprint = sample.fingerprint;
        for (size_t k = i; k < std::min(units.size(), i + batch_units); ++k)
          batch.units.push_back(UnitTask{units[k]->unit_id, config_of.at(units[k]->configuration_id)->document});
        queue_.push_back(std::move(batch));
      }
    }
  }

  // Hands out batches and records what comes back until nothing is queued or in flight, a
  // drain's grace is over, or a second signal stops the run at once.
  void dispatch_until_done() {
    long long to_run = 0;
    for (const auto& b : queue_) to_run += b.units.size();
    progress_.emplace(spec_.name, to_run, summary_.already_done, summary_.total, options_.progress,
                      options_.progress_interval);
    for (;;) {
      if (!check_signals()) break;
      if (!summary_.drained) dispatch();
      if (in_flight_.empty()) break;
      if (summary_.drained && now_seconds() > drain_deadline_) break;
      if (auto got = transport_.receive(0.2)) record(*got);
      lose_overdue_worker();
      give_up_if_no_worker();
      store_.maybe_flush();
      progress_->update(summary_.done, summary_.failed, summary_.lost);
    }
  }

  // Whatever is still in flight after a drain is lost; the next run requeues it.
  void lose_in_flight() {
    const double t = now_seconds();
    const std::string why =
        summary_.stopped_now
            ? fmt::format("stopped on a second signal before the result arrived (first: {})", summary_.drain_signal)
            : fmt::format("drained on signal {} before the result arrived", summary_.drain_signal);
    for (const auto& [id, flight] : in_flight_)
      for (const auto& u : flight.batch.units) {
        store_.finish_lost(u.unit_id, t, why);
        ++summary_.lost;
      }
    in_flight_.clear();
    store_.flush();
    progress_->update(summary_.done, summary_.failed, summary_.lost);
    progress_->finish();
  }

  // What the remaining units need: the same command, --retry-failed, or --retry-lost.
  RunSummary summarize() {
    summary_.remaining = summary_.total - summary_.already_done - summary_.done;
    summary_.max_attempts = spec_.run.max_attempts;
    for (const UnitRow& unit : store_.campaign_units(plan_.campaign_id)) {
      if (unit.state == UnitState::Failed) ++summary_.remaining_failed;
      else if (unit.state == UnitState::Lost && unit.attempts >= spec_.run.max_attempts) ++summary_.remaining_exhausted;
      else if (unit.state != UnitState::Done) ++summary_.remaining_retryable;
    }
    summary_.seconds = monotonic_seconds() - started_;
    return summary_;
  }

 private:
  // A first signal starts the drain (nothing new is handed out); a second one during the drain
  // stops the run now. False when the run must stop now.
  bool check_signals() {
    if (drain_requested() && !summary_.drained) {
      summary_.drained = true;
      summary_.drain_signal = drain_signal();
      drain_deadline_ = now_seconds() + options_.drain_grace;
      spdlog::warn("signal {} received: draining ({} batches in flight, grace {:.0f}s); {} batches not started",
                   summary_.drain_signal, in_flight_.size(), options_.drain_grace, queue_.size());
      queue_.clear();
    }
    if (summary_.drained && stop_now_requested() && !summary_.stopped_now) {
      summary_.stopped_now = true;
      spdlog::warn("second signal: stopping now; {} batches in flight are recorded lost and rerun next time",
                   in_flight_.size());
      return false;
    }
    return true;
  }

  // Breadth first: every idle worker gets a batch before any gets a second one, so a campaign
  // with few batches is spread over all workers rather than piled on the first ones.
  void dispatch() {
    for (int level = 1; level <= options_.batches_in_flight && !queue_.empty(); ++level)
      for (int w = 0; w < transport_.worker_count() && !queue_.empty(); ++w)
        if (!dead_[w] && load_[w] < level) send_next(w);
  }

  void send_next(int w) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    const int64_t batch_id = batch.batch_id;
    const WorkerIdentity who = transport_.identity(w);
    const double t = now_seconds();
    for (const auto& u : batch.units) store_.begin_attempt(u.unit_id, who.rank, who.host, who.pid, t);
    summary_.ran += batch.units.size();
    // A batch queued behind others on the worker starts only when they are done.
    const double deadline = t + spec_.run.unit_timeout * double(batch.units.size()) * double(load_[w] + 1);
    transport_.send(w, batch);
    ++load_[w];
    in_flight_.emplace(batch_id, InFlight{std::move(batch), w, deadline});
  }

  // A finished batch (its units done or failed), or a worker that stopped (its batches lost).
  void record(const Delivery& got) {
    const int worker = got.worker;
    if (!got.result) {
      const WorkerIdentity who = transport_.identity(worker);
      const std::string why = fmt::format("worker rank {} on {} (pid {}) stopped: {}", who.rank, who.host,
                                          who.pid, got.worker_error);
      spdlog::error("{}; its units are lost and rerun by the next run", why);
      lose_worker(worker, why);
      return;
    }
    const BatchResult& result = *got.result;
    auto it = in_flight_.find(result.batch_id);
    if (it == in_flight_.end() || it->second.worker != worker) {
      spdlog::warn("ignoring a late result of batch {} (its units were declared lost)", result.batch_id);
      return;
    }
    for (const std::string& note : result.notes)
      if (noted_.emplace(it->second.batch.sample_label, note).second) spdlog::warn("{}", note);
    for (const auto& u : result.units) {
      if (u.ok) {
        store_.finish_done(u.unit_id, u.ended, u.metrics);
        ++summary_.done;
      } else {
        store_.finish_failed(u.unit_id, u.ended, u.error);
        ++summary_.failed;
        spdlog::error("unit {} failed: {}", u.unit_id, u.error);
      }
    }
    --load_[worker];
    in_flight_.erase(it);
  }

  // A worker that holds a batch past its deadline is presumed dead: its units are lost. One
  // worker per pass (losing it changes in_flight_; the next pass checks the others).
  void lose_overdue_worker() {
    const double t = now_seconds();
    for (const auto& [batch_id, flight] : in_flight_) {
      if (t <= flight.deadline) continue;
      const int w = flight.worker;
      const WorkerIdentity who = transport_.identity(w);
      spdlog::error(
          "worker {} (rank {} on {}) exceeded the unit timeout ({}s per unit) on batch {} ({}): "
          "its units are lost",
          w, who.rank, who.host, spec_.run.unit_timeout, batch_id, flight.batch.sample_label);
      lose_worker(w, fmt::format("unit timeout exceeded ({}s per unit) on rank {} ({})", spec_.run.unit_timeout,
                                 who.rank, who.host));
      return;
    }
  }

  // A worker presumed dead holds nothing any more: every batch it was given is lost at once
  // (not one deadline after another), and it gets no new work. The next run requeues them.
  void lose_worker(int w, const std::string& why) {
    const double t = now_seconds();
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.worker != w) {
        ++it;
        continue;
      }
      for (const auto& u : it->second.batch.units) {
        store_.finish_lost(u.unit_id, t, why);
        ++summary_.lost;
      }
      it = in_flight_.erase(it);
    }
    dead_[w] = true;
    load_[w] = 0;
  }

  void give_up_if_no_worker() {
    if (std::all_of(dead_.begin(), dead_.end(), [](bool d) { return d; }) && !queue_.empty()) {
      spdlog::error("every worker is gone; {} batches not run", queue_.size());
      queue_.clear();
    }
  }

  const CampaignSpec& spec_;
  CampaignPlan& plan_;
  ResultStore& store_;
  Transport& transport_;
  const RunOptions& options_;
  const double started_ = monotonic_seconds();
  RunSummary summary_;
  std::deque<Batch> queue_;
  std::map<int64_t, InFlight> in_flight_;
  std::map<std::string, std::string> noted_;  // sample label -> its first note (logged once per sample)
  std::vector<int> load_;                     // batches in flight per worker
  std::vector<bool> dead_;
  double drain_deadline_ = 0;
  std::optional<Progress> progress_;
};

}  // namespace

RunSummary run_campaign(const CampaignSpec& spec, CampaignPlan& plan, ResultStore& store,
                        Transport& transport, const RunOptions& options) {
  CampaignRun run(spec, plan, store, transport, options);
  run.recover_interrupted();
  run.queue_batches();
  run.dispatch_until_done();
  run.lose_in_flight();
  return run.summarize();
}

}  // namespace ckv
