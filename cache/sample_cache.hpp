// One cached sample (docs/spec/DATA.md, format "ckv-cache/1"): metadata plus per-layer Q/K/V tensors.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cache/safetensors.hpp"
#include "common/canonical_json.hpp"
#include "common/layer_input.hpp"

namespace ckv {

// One prompt token's text: `text` holds its bytes. kText: valid UTF-8, exactly what the token adds
// to the decoded prompt (leading space, newline included); kBytes: bytes that are not UTF-8 on
// their own (a byte-level BPE piece of a multi-byte character); kSpecial: a special token (BOS,
// chat markers) as the tokenizer writes it.
struct TokenText {
  enum class Kind { kText,
                    kBytes,
                    kSpecial };
  Kind kind = Kind::kText;
  std::string text;
  bool operator==(const TokenText&) const = default;
};

// Parses the `token_texts` metadata value (a JSON list of n entries: a string, {"hex": "..."} or
// {"special": "..."}); throws naming `path` and the entry's position.
std::vector<TokenText> parse_token_texts(const std::string& path, const std::string& value, int n_tokens);
// The metadata value of `texts` (the inverse of parse_token_texts).
std::string token_texts_json(const std::vector<TokenText>& texts);

struct SampleMeta {
  std::string task, id, model;
  int n_tokens = 0, m_answer = 0;
  std::vector<int> layers;  // captured model layers
  int num_layers_model = 0;
  json answers = json::array();
  std::vector<std::pair<int, int>> evidence;  // [start, end) token ranges
  std::pair<int, int> question_span{0, 0};
  std::string answer_source;  // "gold" | "generated"
  std::string capture_version;
  // Optional `planted` metadata of synthetic caches: named [start, end) spans of the planted
  // structure (e.g. "bridge" of synth-multihop), for tests and analysis. Absent in captures.
  std::map<std::string, std::vector<std::pair<int, int>>> planted;
  // Captured caches (ckv-capture) hold the prompt's and the answer's token ids, so a sample can
  // be re-run and checked: tensors `input_ids` [n] and `answer_ids` [m], I32. Empty when the file
  // has none (synthetic caches); when present they are validated against n_tokens / m_answer.
  std::vector<int32_t> input_ids, answer_ids;
  // Optional metadata `token_texts` (docs/cache-format.md): each prompt token's text, so a cache
  // can be read without its tokenizer. Empty when the file has none (older captures): readers
  // then show positions. `token_text_method` says how the capture found the bytes.
  std::vector<TokenText> token_texts;
  std::string token_text_method;
};

// The fp32 tensors of one layer, owning their memory; view() gives the kernels' LayerInput.
struct LayerTensors {
  int H = 0, G = 0, d = 0, n = 0, r = 0, m = 0;
  int layer = 0, num_layers_model = 1;
  std::string sample;
  std::vector<float> q, k, v, q_answer, k_answer, v_answer;
  LayerInput view() const;
};

class SampleCache {
 public:
  // Reads and validates the whole file: metadata present and well-formed, every captured
  // layer has all six tensors with agreeing shapes (H % G == 0, r <= n, ...) in a float dtype,
  // and the optional token-id tensors are I32 of shape [n] / [m] with non-negative ids. With
  // `expected_fingerprint` (the one the campaign was planned with) a file whose content changed
  // since is refused first (SampleChangedError).
  static SampleCache open(const std::string& path, const std::string& expected_fingerprint = "");

  const SampleMeta& meta() const { return meta_; }
  const std::string& path() const { return file_->path(); }
  const std::string& fingerprint() const { return file_->fingerprint(); }
  bool has_layer(int layer) const;
  // Converts the layer's six tensors to fp32. Throws naming the file and layer if it is absent,
  // and naming the sample, layer, tensor and element if a value is NaN or infinite (no metric
  // computed from such a capture is meaningful).
  LayerTensors load_layer(int layer) const;

 private:
  std::shared_ptr<SafetensorsFile> file_;
  SampleMeta meta_;
};

// Content identity of a cache file (identify_safetensors_file, cache/safetensors.hpp): SHA-256
// over the header and the SHA-256 of every tensor byte. Two caches whose samples share task and
// id (different models, seeds, captures) get different fingerprints, so the database never
// mixes their results; moving or copying a cache keeps them; a file whose content changed in
// any byte is a new sample. "missing" for a file that does not exist.
std::string sample_fingerprint(const std::string& path);

// What `index.jsonl` says of a sample against what its file's metadata says: "" when they
// agree, else one sentence naming every field that differs (task, id, n_tokens, m_answer,
// layers). Metadata keys that are absent or malformed are left to the reader's own checks.
std::string index_disagreement(const std::string& index_task, const std::string& index_id, int index_n_tokens,
                               int index_m_answer, const std::vector<int>& index_layers,
                               const std::map<std::string, std::string>& metadata);

// Writes a sample in the cache format (used by the synthetic generator and tests); the token ids
// of `meta` are written when non-empty (sizes checked against n_tokens / m_answer).
struct SampleWriteLayer {
  int layer = 0;
  LayerTensors tensors;
};
void write_sample(const std::string& path, const SampleMeta& meta,
                  const std::vector<SampleWriteLayer>& layers, DType dtype);

}  // namespace ckv
