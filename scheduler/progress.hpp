// Live progress of a run (docs/spec/MISSION.md R10): a bar redrawn in place on a terminal, a periodic plain line in
// a batch log (Slurm output files are not terminals).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace ckv {

class Progress {
 public:
  enum class Mode { Auto,
                    Bar,
                    Lines,
                    Off };
  static Mode parse_mode(const std::string& text);

  Progress(std::string campaign, long long to_run, long long already_done, long long total,
           Mode mode, double line_interval_seconds = 30.0, FILE* out = stderr);
  void update(long long done, long long failed, long long lost);
  void finish();

 private:
  void print(bool final_line);

  std::string campaign_;
  long long to_run_, already_done_, total_;
  long long done_ = 0, failed_ = 0, lost_ = 0;
  Mode mode_;
  double interval_;
  FILE* out_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

std::string format_duration(double seconds);

}  // namespace ckv
