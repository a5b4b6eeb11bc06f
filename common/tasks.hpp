// Task names and their LongBench categories (docs/spec/METRICS.md): the 16 English LongBench tasks and
// the synthetic tasks that imitate them (docs/spec/DATA.md). Categories feed the category mean.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ckv {

struct TaskInfo {
  std::string name;
  std::string category;    // "single-doc QA", "multi-doc QA", "summarization", "few-shot", "synthetic", "code"
  std::string e2e_metric;  // LongBench scoring: qa_f1, rouge, classification, retrieval, count, code_sim
  bool synthetic = false;
};

const std::vector<TaskInfo>& known_tasks();
std::optional<TaskInfo> find_task(const std::string& name);
std::vector<std::string> synthetic_task_names();
const std::vector<std::string>& category_names();  // the six categories, in report order

}  // namespace ckv
