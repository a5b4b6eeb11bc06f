#include "scheduler/progress.hpp"

#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

Progress::Mode Progress::parse_mode(const std::string& text) {
  if (text == "auto") return Mode::Auto;
  if (text == "bar") return Mode::Bar;
  if (text == "lines") return Mode::Lines;
  if (text == "off") return Mode::Off;
  throw UsageError(fmt::format("--progress must be auto, bar, lines or off (got '{}')", text));
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long long s = std::llround(seconds);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

Progress::Progress(std::string campaign, long long to_run, long long already_done, long long total,
                   Mode mode, double line_interval_seconds, FILE* out)
    : campaign_(std::move(campaign)),
      to_run_(to_run),
      already_done_(already_done),
      total_(total),
      mode_(mode),
      interval_(line_interval_seconds),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {
  if (mode_ == Mode::Auto) mode_ = isatty(fileno(out_)) ? Mode::Bar : Mode::Lines;
}

void Progress::update(long long done, long long failed, long long lost) {
  done_ = done;
  failed_ = failed;
  lost_ = lost;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if ((mode_ == Mode::Bar && since >= 0.2) || (mode_ == Mode::Lines && since >= interval_)) {
    last_print_ = now;
    print(false);
  }
}

void Progress::finish() {
  if (mode_ == Mode::Off) return;
  print(true);
}

void Progress::print(bool final_line) {
  if (mode_ == Mode::Off) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const long long finished = done_ + failed_ + lost_;
  const double rate = elapsed > 0 ? finished / elapsed : 0.0;
  const double eta = rate > 0 ? (to_run_ - finished) / rate : NAN;
  const long long complete = already_done_ + done_;
  std::string counts = fmt::format("{}/{} units done", complete, total_);
  if (failed_) counts += fmt::format(", {} failed", failed_);
  if (lost_) counts += fmt::format(", {} lost", lost_);
  std::string tail = fmt::format("{:.1f} units/s  elapsed {}  ETA {}", rate, format_duration(elapsed),
                                 final_line ? "0:00" : format_duration(eta));
  if (mode_ == Mode::Bar) {
    const int width = 30;
    const double fraction = total_ ? double(complete + failed_ + lost_) / total_ : 1.0;
    const int filled = std::min(width, int(std::round(fraction * width)));
    fmt::print(out_, "\r[{}{}] {}  {}\033[K{}", std::string(filled, '#'), std::string(width - filled, '.'),
               counts, tail, final_line ? "\n" : "");
  } else {
    fmt::print(out_, "[{}] {}  {}\n", campaign_, counts, tail);
  }
  std::fflush(out_);
}

}  // namespace ckv
