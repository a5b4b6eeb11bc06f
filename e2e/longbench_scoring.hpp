// LongBench v1's own end-to-end scoring (docs/spec/MISSION.md R11; docs/spec/METRICS.md "LongBench end-to-end scores"),
// reproducing THUDM/LongBench metrics.py and eval.py as they run on CPython with the `rouge`
// 1.0.1 and `fuzzywuzzy` 0.18 packages, quirks included (docs/e2e.md lists them). Expected
// values in tests/data/e2e/ come from those packages (tests/data/e2e/make_expected.py).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ckv::e2e {

enum class Metric { QaF1,
                    Rouge,
                    Classification,
                    Retrieval,
                    Count,
                    CodeSim };

const char* metric_name(Metric metric);  // "qa_f1", "rouge", ...
std::optional<Metric> metric_from_name(const std::string& name);
// The metric of a task from common/tasks.hpp; nullopt for synthetic or unknown tasks.
std::optional<Metric> task_metric(const std::string& task);

// fuzz.ratio's SequenceMatcher: LongBench's requirements install fuzzywuzzy without
// python-Levenshtein, so fuzzywuzzy falls back to difflib (the default here); with
// python-Levenshtein installed it uses the InDel ratio instead.
enum class FuzzBackend { Difflib,
                         Levenshtein };

// One prediction against one gold answer (metrics.py functions), each in [0, 1].
double qa_f1_score(const std::string& prediction, const std::string& ground_truth);
double rouge_score(const std::string& prediction, const std::string& ground_truth);
double classification_score(const std::string& prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes);
// Throws ckv::Error when the gold answer has no "Paragraph N" (LongBench raises IndexError).
double retrieval_score(const std::string& prediction, const std::string& ground_truth);
double count_score(const std::string& prediction, const std::string& ground_truth);
double code_sim_score(const std::string& prediction, const std::string& ground_truth,
                      FuzzBackend backend = FuzzBackend::Difflib);
int fuzz_ratio(const std::string& a, const std::string& b, FuzzBackend backend = FuzzBackend::Difflib);

double metric_score(Metric metric, const std::string& prediction, const std::string& ground_truth,
                    const std::vector<std::string>& all_classes,
                    FuzzBackend backend = FuzzBackend::Difflib);

// eval.py keeps only the first line of the prediction for these tasks.
bool first_line_only(const std::string& task);
// prediction.lstrip('\n').split('\n')[0]
std::string first_line(const std::string& prediction);

// eval.py scorer() for one sample: the first-line rule, then the max over the gold answers
// (0 when there is none).
double sample_score(const std::string& task, Metric metric, const std::string& prediction,
                    const std::vector<std::string>& answers,
                    const std::vector<std::string>& all_classes,
                    FuzzBackend backend = FuzzBackend::Difflib);

// eval.py per task: round(100 * sum / count, 2), summed in the given order, Python rounding.
// Throws ckv::Error for an empty list (LongBench divides by zero).
double task_score(const std::vector<double>& sample_scores);

// Python's round(x, ndigits) on a float: correctly rounded from the exact binary value.
double python_round(double x, int ndigits);

}  // namespace ckv::e2e
