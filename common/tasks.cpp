#include "common/tasks.hpp"

namespace ckv {

const std::vector<TaskInfo>& known_tasks() {
  static const std::vector<TaskInfo> tasks = {
      {"narrativeqa", "single-doc QA", "qa_f1", false},
      {"qasper", "single-doc QA", "qa_f1", false},
      {"multifieldqa_en", "single-doc QA", "qa_f1", false},
      {"hotpotqa", "multi-doc QA", "qa_f1", false},
      {"2wikimqa", "multi-doc QA", "qa_f1", false},
      {"musique", "multi-doc QA", "qa_f1", false},
      {"gov_report", "summarization", "rouge", false},
      {"qmsum", "summarization", "rouge", false},
      {"multi_news", "summarization", "rouge", false},
      {"trec", "few-shot", "classification", false},
      {"triviaqa", "few-shot", "qa_f1", false},
      {"samsum", "few-shot", "rouge", false},
      {"passage_count", "synthetic", "count", false},
      {"passage_retrieval_en", "synthetic", "retrieval", false},
      {"lcc", "code", "code_sim", false},
      {"repobench-p", "code", "code_sim", false},
      // Synthetic caches (docs/spec/DATA.md): names nobody can mistake for LongBench's.
      {"synth-singledoc", "single-doc QA", "", true},
      {"synth-multihop", "multi-doc QA", "", true},
      {"synth-summary", "summarization", "", true},
      {"synth-fewshot", "few-shot", "", true},
      {"synth-needle", "synthetic", "", true},
      {"synth-code", "code", "", true},
  };
  return tasks;
}

std::optional<TaskInfo> find_task(const std::string& name) {
  for (const auto& t : known_tasks())
    if (t.name == name) return t;
  return std::nullopt;
}

std::vector<std::string> synthetic_task_names() {
  std::vector<std::string> names;
  for (const auto& t : known_tasks())
    if (t.synthetic) names.push_back(t.name);
  return names;
}

const std::vector<std::string>& category_names() {
  static const std::vector<std::string> names = {"single-doc QA", "multi-doc QA", "summarization",
                                                 "few-shot", "synthetic", "code"};
  return names;
}

}  // namespace ckv
