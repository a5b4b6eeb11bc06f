#include "kernels/stages/threads.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace ckv {

namespace {
std::atomic<int> g_default_threads{0};
std::atomic<int> g_in_flight{0};
}  // namespace

int kernel_threads() {
  if (const char* env = std::getenv("CKV_KERNEL_THREADS")) {
    const int t = std::atoi(env);
    if (t >= 1) return t;
  }
  int cores = g_default_threads.load();
  if (cores < 1) cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, g_in_flight.load()));
}

void set_default_kernel_threads(int cores) { g_default_threads.store(std::max(1, cores)); }

BatchInFlight::BatchInFlight() { g_in_flight.fetch_add(1); }
BatchInFlight::~BatchInFlight() { g_in_flight.fetch_sub(1); }

void parallel_ranges(int count, int threads, const std::function<void(int, int)>& body) {
  threads = std::max(1, std::min(threads, count));
  if (threads <= 1) {
    if (count > 0) body(0, count);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (int t = 0; t < threads; ++t) {
    const int begin = int(static_cast<long long>(count) * t / threads);
    const int end = int(static_cast<long long>(count) * (t + 1) / threads);
    auto run = [&, t, begin, end] {
      try {
        body(begin, end);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    };
    try {
      pool.emplace_back(run);
    } catch (const std::system_error&) {
      run();  // the system refused a thread (a pids limit): this chunk runs here, same result
    }
  }
  for (auto& thread : pool) thread.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace ckv
