// LongBench v1 samples (THUDM/LongBench, one JSON object per line; docs/spec/DATA.md "LongBench samples").
// The capture tool turns them into caches; ckv-sweep reads them to attach answers and classes
// to samples and to score imported predictions (docs/spec/MISSION.md R11).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ckv {

struct LongBenchSample {
  std::string input;    // the question / instruction part
  std::string context;  // the long document(s)
  std::vector<std::string> answers;
  int length = 0;  // LongBench's word count of the context
  std::string dataset, language;
  std::vector<std::string> all_classes;  // classification tasks (trec, lsht); empty when null
  std::string id;                        // "_id"
};

// Parses one line; `where` ("FILE:LINE") prefixes every error, which names the field.
// Throws ckv::InputError.
LongBenchSample parse_longbench_line(const std::string& line, const std::string& where);

// Reads a whole JSONL file, skipping blank lines. Throws ckv::InputError naming FILE:LINE and the
// field for a malformed line, ckv::Error when the file cannot be read.
std::vector<LongBenchSample> read_longbench_jsonl(const std::string& path);

// The sample with `_id` == id, if any.
std::optional<LongBenchSample> find_longbench_sample(const std::vector<LongBenchSample>& samples,
                                                     const std::string& id);

}  // namespace ckv
