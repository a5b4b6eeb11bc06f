// The project's one clock: wall time as the database stores it, and a monotonic time for
// durations, deadlines and commit intervals.
#pragma once
#include <chrono>

namespace ckv {

// Unix seconds with sub-second resolution: every timestamp column and every unit's
// started/ended time.
inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Seconds on a clock that never jumps (its origin is arbitrary): only differences mean anything.
inline double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace ckv
