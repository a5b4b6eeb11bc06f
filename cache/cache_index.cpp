#include "cache/cache_index.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "cache/json_input.hpp"
#include "common/canonical_json.hpp"
#include "common/error.hpp"

namespace ckv {

namespace {

IndexEntry parse_entry(const json& line, const std::string& where) {
  if (!line.is_object()) CKV_FAIL("{}: expected a JSON object", where);
  auto field = [&](const char* key) -> const json& {
    if (!line.contains(key)) CKV_FAIL("{}: field '{}' is missing", where, key);
    return line[key];
  };
  auto text = [&](const char* key) {
    const json& value = field(key);
    if (!value.is_string() || value.get<std::string>().empty())
      CKV_FAIL("{}: field '{}' must be a non-empty string, got {}", where, key, value.dump());
    return value.get<std::string>();
  };
  // A non-negative integer no larger than `max` (an int field must not wrap when narrowed).
  auto count = [&](const char* key, long long max) {
    const json& value = field(key);
    if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<long long>() < 0))
      CKV_FAIL("{}: field '{}' must be a non-negative integer, got {}", where, key, value.dump());
    if (value.get<unsigned long long>() > static_cast<unsigned long long>(max))
      CKV_FAIL("{}: field '{}' is {}, more than the largest supported ({})", where, key, value.dump(), max);
    return value.get<long long>();
  };
  constexpr long long kIntMax = std::numeric_limits<int>::max();
  IndexEntry entry;
  entry.id = text("id");
  entry.task = text("task");
  entry.path = text("path");
  if (std::filesystem::path(entry.path).is_absolute())
    CKV_FAIL("{}: field 'path' must be relative to the cache directory, got '{}'", where, entry.path);
  entry.n_tokens = int(count("n_tokens", kIntMax));
  entry.m_answer = int(count("m_answer", kIntMax));
  entry.file_size = count("file_size", std::numeric_limits<long long>::max());
  const json& layers = field("layers");
  if (!layers.is_array()) CKV_FAIL("{}: field 'layers' must be a list of integers", where);
  for (const json& layer : layers) {
    if (!layer.is_number_integer() || (!layer.is_number_unsigned() && layer.get<long long>() < 0) ||
        layer.get<unsigned long long>() > static_cast<unsigned long long>(kIntMax))
      CKV_FAIL("{}: field 'layers' must be a list of non-negative integers (at most {}), got {}", where,
               kIntMax, layers.dump());
    entry.layers.push_back(layer.get<int>());
  }
  return entry;
}

}  // namespace

std::vector<IndexEntry> read_cache_index(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) CKV_FAIL("{}: cache directory does not exist", dir);
  const std::string path = (std::filesystem::path(dir) / "index.jsonl").string();
  std::ifstream in(path);
  if (!in) CKV_FAIL("{}: cache index is missing or unreadable", path);
  std::vector<IndexEntry> entries;
  std::map<std::string, int> line_of_sample, line_of_path;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    std::string reason;
    const std::optional<json> value = parse_outside_json(line, reason);
    if (!value) throw InputError(fmt::format("{}: invalid JSON: {}", where, reason));
    try {
      entries.push_back(parse_entry(*value, where));
    } catch (const Error& e) {
      throw InputError(e.what());
    }
    IndexEntry& entry = entries.back();
    entry.line = number;
    const auto [sample, new_sample] = line_of_sample.emplace(entry.task + "/" + entry.id, number);
    if (!new_sample)
      throw InputError(fmt::format(
          "{}: sample {}/{} is listed twice (first at line {}); an appended or "
          "resumed capture? keep one line per sample",
          where, entry.task, entry.id, sample->second));
    const std::string file = std::filesystem::path(entry.path).lexically_normal().string();
    const auto [listed, new_path] = line_of_path.emplace(file, number);
    if (!new_path)
      throw InputError(fmt::format(
          "{}: file '{}' is listed twice (first at line {}, as another sample); "
          "each sample needs its own file",
          where, entry.path, listed->second));
  }
  if (entries.empty())
    throw InputError(fmt::format(
        "{}: the index is empty (no sample is listed); capture or generate "
        "the cache again",
        path));
  return entries;
}

void write_cache_index(const std::string& dir, const std::vector<IndexEntry>& entries) {
  const std::string path = (std::filesystem::path(dir) / "index.jsonl").string();
  std::string text;
  for (const IndexEntry& e : entries) {
    json line = {{"id", e.id}, {"task", e.task}, {"path", e.path}, {"n_tokens", e.n_tokens}, {"m_answer", e.m_answer}, {"layers", e.layers}, {"file_size", e.file_size}};
    text += line.dump() + '\n';
  }
  // Temporary file + rename, like the sample files: a reader never sees half an index.
  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) CKV_FAIL("{}: cannot create temporary file: {}", path, std::strerror(errno));
    out << text;
    out.flush();
    if (!out) {
      std::filesystem::remove(temp);
      CKV_FAIL("{}: write failed (disk full?)", path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    CKV_FAIL("{}: cannot rename temporary file into place: {}", path, ec.message());
  }
}

}  // namespace ckv
