#include "scheduler/mpi/mpi_transport.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/stages/threads.hpp"

namespace ckv {

namespace {

// Polling with a growing pause instead of a blocking MPI call: Open MPI busy-waits inside
// blocking calls, which would steal a core from the workers when ranks share a node (rank 0
// always does on a single-node job), and rank 0 must stay free to serve other workers.
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(std::chrono::microseconds(micros_));
    micros_ = std::min(micros_ * 2, 2000);
  }
  void reset() { micros_ = 20; }

 private:
  int micros_ = 20;
};

// A message from `source` (or any) taken whole: MPI_Improbe + MPI_Mrecv, so that the probe and
// the receive cannot be separated by another receive.
bool take_message(int source, int& from, int& tag, std::string& payload) {
  int flag = 0;
  MPI_Message message;
  MPI_Status status;
  CKV_MPI_CHECK(MPI_Improbe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &message, &status));
  if (!flag) return false;
  int count = 0;
  CKV_MPI_CHECK(MPI_Get_count(&status, MPI_CHAR, &count));
  payload.assign(size_t(count), '\0');
  CKV_MPI_CHECK(MPI_Mrecv(payload.data(), count, MPI_CHAR, &message, &status));
  from = status.MPI_SOURCE;
  tag = status.MPI_TAG;
  return true;
}

void blocking_send(int rank, int tag, const std::string& payload) {
  CKV_MPI_CHECK(MPI_Send(payload.data(), int(payload.size()), MPI_CHAR, rank, tag, MPI_COMM_WORLD));
}

}  // namespace

// ---- rank 0 -------------------------------------------------------------------------------

MpiTransport::MpiTransport(const MpiSession& session, double startup_timeout) : session_(session) {
  session.node_worker_index();  // collective: the workers split by node to choose their GPU
  const int workers = session.size() - 1;
  identities_.resize(workers);
  usable_.assign(workers, false);
  stopped_.assign(workers, false);
  stop_sent_.assign(workers, false);
  std::vector<bool> heard(workers, false);
  int missing = workers;
  const double deadline = monotonic_seconds() + startup_timeout;
  Backoff backoff;
  while (missing > 0) {
    int from = 0, tag = 0;
    std::string payload;
    if (!poll(from, tag, payload)) {
      if (monotonic_seconds() > deadline) {
        std::string silent;
        for (int w = 0; w < workers; ++w)
          if (!heard[w]) silent += fmt::format("{}{}", silent.empty() ? "" : ", ", w + 1);
        CKV_FAIL("{}: ranks {} did not report within {:.0f}s of start", session.where(), silent, startup_timeout);
      }
      backoff.pause();
      continue;
    }
    backoff.reset();
    const int w = from - 1;
    if (heard[w]) continue;
    heard[w] = true;
    --missing;
    const json body = json::parse(payload);
    WorkerIdentity& who = identities_[w];
    who.rank = from;
    who.host = body.value("host", std::string("?"));
    who.pid = body.value("pid", int64_t(0));
    who.device = body.value("device", -1);
    if (tag == kTagIdentity) {
      usable_[w] = true;
    } else {
      spdlog::error("rank {} on {} could not start: {}", from, who.host, body.value("error", std::string("?")));
    }
  }
  int gpus = 0, usable = 0;
  for (int w = 0; w < workers; ++w) {
    usable += usable_[w];
    gpus += usable_[w] && identities_[w].device >= 0;
  }
  spdlog::info("{} of {} workers ready ({} on a GPU, {} on the CPU)", usable, workers, gpus, usable - gpus);
}

MpiTransport::~MpiTransport() {
  // Requests still open belong to workers that never received them (stuck or failed): the job
  // is being aborted, and freeing a request leaves the send to complete or die with it.
  for (auto& s : sends_)
    if (s.request != MPI_REQUEST_NULL) MPI_Request_free(&s.request);
}

void MpiTransport::post(int rank, int tag, std::string payload) {
  sends_.push_back(PendingSend{std::move(payload), MPI_REQUEST_NULL});
  PendingSend& s = sends_.back();
  CKV_MPI_CHECK(MPI_Isend(s.payload.data(), int(s.payload.size()), MPI_CHAR, rank, tag,
                          MPI_COMM_WORLD, &s.request));
}

void MpiTransport::test_sends() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    CKV_MPI_CHECK(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
    it = done ? sends_.erase(it) : std::next(it);
  }
}

bool MpiTransport::poll(int& source, int& tag, std::string& payload) {
  return take_message(MPI_ANY_SOURCE, source, tag, payload);
}

void MpiTransport::send(int worker, const Batch& batch) {
  post(worker + 1, kTagBatch, batch_to_json(batch).dump());
  test_sends();
}

std::optional<Delivery> MpiTransport::receive(double timeout_seconds) {
  const double deadline = monotonic_seconds() + timeout_seconds;
  Backoff backoff;
  for (;;) {
    test_sends();
    int from = 0, tag = 0;
    std::string payload;
    if (poll(from, tag, payload)) {
      const int w = from - 1;
      switch (tag) {
        case kTagResult:
          return Delivery{w, batch_result_from_json(json::parse(payload)), {}};
        case kTagWorkerError:
          usable_[w] = false;
          return Delivery{w, std::nullopt, json::parse(payload).value("error", std::string("?"))};
        case kTagBye:
          // A worker leaves only when told to; anything else is a bug worth stopping on.
          stopped_[w] = true;
          usable_[w] = false;
          return Delivery{w, std::nullopt, "the worker left without being told to stop"};
        default:
          spdlog::warn("ignoring a message with tag {} from rank {}", tag, from);
          continue;
      }
    }
    if (monotonic_seconds() >= deadline) return std::nullopt;
    backoff.pause();
  }
}

void MpiTransport::stop() {
  for (int w = 0; w < worker_count(); ++w)
    if (!stop_sent_[w]) {
      post(w + 1, kTagStop, std::string());
      stop_sent_[w] = true;
    }
  const double deadline = monotonic_seconds() + stop_timeout;
  Backoff backoff;
  while (!all_stopped() && monotonic_seconds() < deadline) {
    test_sends();
    int from = 0, tag = 0;
    std::string payload;
    if (!poll(from, tag, payload)) {
      backoff.pause();
      continue;
    }
    if (tag == kTagBye) stopped_[from - 1] = true;
    // Results arriving now are of batches the runner already recorded as lost (drain).
  }
  if (all_stopped()) {
    // Every worker has received everything sent to it, so these complete at once.
    for (auto& s : sends_) CKV_MPI_CHECK(MPI_Wait(&s.request, MPI_STATUS_IGNORE));
    sends_.clear();
  } else {
    std::string stuck;
    for (int w = 0; w < worker_count(); ++w)
      if (!stopped_[w]) stuck += fmt::format("{}{} ({})", stuck.empty() ? "" : ", ", w + 1, identities_[w].host);
    spdlog::error("ranks {} did not stop within {:.0f}s (busy in a batch or hung)", stuck, stop_timeout);
  }
}

std::string MpiTransport::description() const {
  return fmt::format("{} MPI workers ({} launch)", worker_count(), launcher);
}

bool MpiTransport::all_stopped() const {
  for (bool s : stopped_)
    if (!s) return false;
  return true;
}

// ---- ranks >= 1 ---------------------------------------------------------------------------

int run_mpi_worker(const MpiSession& session, const BatchEvaluator& evaluator, DeviceChoice device) {
  // srun and mpirun deliver SIGTERM/SIGUSR1/SIGUSR2 to every task; only rank 0 drains, and
  // it needs the workers to keep serving (and to answer its stop) while it does.
  for (int s : {SIGTERM, SIGUSR1, SIGUSR2, SIGINT}) std::signal(s, SIG_IGN);

  const auto [index, node_workers] = session.node_worker_index();
  const int devices = device == DeviceChoice::Cpu ? 0 : cuda_device_count();
  EvaluatorOptions options;
  std::string device_error;
  try {
    // One visible device: Slurm (--gpu-bind / --gpus-per-task) already chose it for this task.
    options.device = choose_device(device, devices, index);
  } catch (const std::exception& e) {
    device_error = e.what();  // reported to rank 0 below, like any worker that cannot start
  }
  if (devices > 1 && node_workers > devices && index == 0)
    spdlog::warn("{}: {} workers share {} GPUs on this node", session.host(), node_workers, devices);
  // CPU kernels of the workers of one node share its cores (a GPU worker barely uses them).
  set_default_kernel_threads(int(std::max(1u, std::thread::hardware_concurrency())) / std::max(1, node_workers));
  json identity = {{"host", session.host()}, {"pid", int64_t(getpid())}, {"device", options.device}};
  if (!device_error.empty()) {
    spdlog::error("rank {} on {}: {}", session.rank(), session.host(), device_error);
    identity["error"] = device_error;
    blocking_send(0, kTagWorkerError, identity.dump());
  } else {
    spdlog::info("rank {} on {} (pid {}): worker {} of {} on this node, {}", session.rank(), session.host(),
                 getpid(), index, node_workers, describe_device(device, options.device, devices));
    blocking_send(0, kTagIdentity, identity.dump());
  }

  std::deque<Batch> queue;
  bool stopping = false, failed = !device_error.empty();
  Backoff backoff;
  // Takes every message already here, so a stop is seen before batches queued behind it are
  // started (after a drain, rank 0 has already recorded them as lost).
  auto collect = [&] {
    int from = 0, tag = 0;
    std::string payload;
    bool any = false;
    while (!stopping && take_message(0, from, tag, payload)) {
      any = true;
      if (tag == kTagStop) {
        stopping = true;
      } else if (tag == kTagBatch && !failed) {
        try {
          queue.push_back(batch_from_json(json::parse(payload)));
        } catch (const std::exception& e) {
          failed = true;
          blocking_send(0, kTagWorkerError, json{{"error", fmt::format("unreadable batch: {}", e.what())}}.dump());
        }
      }
    }
    return any;
  };
  while (!stopping) {
    if (!collect() && queue.empty()) {
      backoff.pause();
      continue;
    }
    backoff.reset();
    if (stopping || queue.empty()) continue;
    Batch batch = std::move(queue.front());
    queue.pop_front();
    std::optional<BatchResult> result;
    std::string error;
    try {
      result = evaluator(batch, options);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (result) {
      blocking_send(0, kTagResult, batch_result_to_json(*result).dump());
    } else {
      // Outside evaluate_batch's per-unit errors: this worker is not trusted with more work.
      // It keeps answering (and discarding batches) until rank 0 says stop, so nobody hangs.
      spdlog::error("{}: batch {} ({}): {}", session.where(), batch.batch_id, batch.sample_label, error);
      failed = true;
      queue.clear();
      blocking_send(0, kTagWorkerError, json{{"error", error}}.dump());
    }
  }
  blocking_send(0, kTagBye, std::string());
  return 0;
}

}  // namespace ckv
