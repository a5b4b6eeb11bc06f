#include "cache/longbench.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "cache/json_input.hpp"
#include "common/canonical_json.hpp"
#include "common/error.hpp"

namespace ckv {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& message) {
  throw InputError(fmt::format("{}: {}", where, message));
}

const json& field(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail(where, fmt::format("field '{}' is missing", key));
  return *it;
}

std::string string_field(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_string())
    fail(where, fmt::format("field '{}' must be a string, got {}", key, value.type_name()));
  return value.get<std::string>();
}

std::vector<std::string> string_list(const json& value, const char* key, const std::string& where) {
  if (!value.is_array())
    fail(where, fmt::format("field '{}' must be a list of strings, got {}", key, value.type_name()));
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string())
      fail(where, fmt::format("field '{}': element {} must be a string, got {}", key, i,
                              value[i].type_name()));
    out.push_back(value[i].get<std::string>());
  }
  return out;
}

}  // namespace

LongBenchSample parse_longbench_line(const std::string& line, const std::string& where) {
  std::string reason;
  const std::optional<json> parsed = parse_outside_json(line, reason);
  if (!parsed) fail(where, fmt::format("invalid JSON: {}", reason));
  const json& object = *parsed;
  if (!object.is_object()) fail(where, fmt::format("expected a JSON object, got {}", object.type_name()));

  LongBenchSample sample;
  sample.input = string_field(object, "input", where);
  sample.context = string_field(object, "context", where);
  sample.answers = string_list(field(object, "answers", where), "answers", where);
  const json& length = field(object, "length", where);
  if (!length.is_number_integer() || length.get<long long>() < 0 ||
      length.get<long long>() > std::numeric_limits<int>::max())
    fail(where, fmt::format("field 'length' must be a non-negative integer, got {}", length.dump()));
  sample.length = length.get<int>();
  sample.dataset = string_field(object, "dataset", where);
  sample.language = string_field(object, "language", where);
  // LongBench writes null for tasks without a class list.
  const json& classes = field(object, "all_classes", where);
  if (!classes.is_null()) sample.all_classes = string_list(classes, "all_classes", where);
  sample.id = string_field(object, "_id", where);
  if (sample.id.empty()) fail(where, "field '_id' is empty");
  return sample;
}

std::vector<LongBenchSample> read_longbench_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) CKV_FAIL("{}: cannot open LongBench file: {}", path, std::strerror(errno));
  std::vector<LongBenchSample> samples;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    samples.push_back(parse_longbench_line(line, fmt::format("{}:{}", path, number)));
  }
  if (in.bad()) CKV_FAIL("{}: read error", path);
  return samples;
}

std::optional<LongBenchSample> find_longbench_sample(const std::vector<LongBenchSample>& samples,
                                                     const std::string& id) {
  for (const LongBenchSample& sample : samples)
    if (sample.id == id) return sample;
  return std::nullopt;
}

}  // namespace ckv
