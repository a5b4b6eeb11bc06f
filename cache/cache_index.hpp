// index.jsonl of a cache directory: one line per sample.
#pragma once
#include <string>
#include <vector>

namespace ckv {

struct IndexEntry {
  std::string id, task, path;  // path relative to the cache directory
  int n_tokens = 0, m_answer = 0;
  std::vector<int> layers;
  long long file_size = 0;
  int line = 0;  // where read_cache_index found it (1-based), for messages
};

// Throws ckv::InputError naming "DIR/index.jsonl:LINE" for a malformed line or a sample listed
// twice (same task and id, or same file: an appended or resumed capture), and naming the index
// when it holds no sample; ckv::Error naming the directory when it or its index is missing.
std::vector<IndexEntry> read_cache_index(const std::string& dir);
void write_cache_index(const std::string& dir, const std::vector<IndexEntry>& entries);

}  // namespace ckv
