#include "cache/sample_cache.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "cache/json_input.hpp"
#include "common/error.hpp"

namespace ckv {

namespace {

constexpr const char* kFormat = "ckv-cache/1";
constexpr const char* kTensorKinds[6] = {"q", "k", "v", "q_answer", "k_answer", "v_answer"};

std::string tensor_name(int layer, const char* kind) { return fmt::format("layers.{}.{}", layer, kind); }

// Metadata values are strings (a safetensors rule); structured ones hold JSON. Every accessor
// names the file and the key, so a hand-edited or foreign cache says exactly what is wrong.
class MetaReader {
 public:
  MetaReader(const std::string& path, const std::map<std::string, std::string>& metadata)
      : path_(path), metadata_(metadata) {}

  const std::string& string(const char* key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end())
      CKV_FAIL("{}: metadata key '{}' is missing (format {})", path_, key, kFormat);
    return it->second;
  }

  int integer(const char* key) const {
    const std::string& text = string(key);
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
      CKV_FAIL("{}: metadata '{}' = '{}' is not an integer", path_, key, text);
    return value;
  }

  json parsed(const char* key) const {
    const std::string& text = string(key);
    std::string reason;
    std::optional<json> value = parse_outside_json(text, reason);
    if (!value) CKV_FAIL("{}: metadata '{}' = '{}' is not valid JSON", path_, key, text);
    return std::move(*value);
  }

  json list(const char* key) const {
    json value = parsed(key);
    if (!value.is_array()) CKV_FAIL("{}: metadata '{}' = '{}' is not a JSON list", path_, key, string(key));
    return value;
  }

  // A [start, end) pair within [0, n]; empty ranges allowed only where `allow_empty`.
  std::pair<int, int> range(const char* key, const json& item, int n, bool allow_empty) const {
    if (!item.is_array() || item.size() != 2 || !item[0].is_number_integer() ||
        !item[1].is_number_integer())
      CKV_FAIL("{}: metadata '{}': {} is not a [start, end) pair of integers", path_, key,
               item.dump());
    const long long start = item[0].get<long long>(), end = item[1].get<long long>();
    if (start < 0 || end > n || start > end || (!allow_empty && start == end))
      CKV_FAIL("{}: metadata '{}': range [{}, {}) is not a {}range within [0, {})", path_, key,
               start, end, allow_empty ? "" : "non-empty ", n);
    return {int(start), int(end)};
  }

 private:
  const std::string& path_;
  const std::map<std::string, std::string>& metadata_;
};

SampleMeta parse_meta(const SafetensorsFile& file) {
  const std::string& path = file.path();
  MetaReader reader(path, file.metadata());
  SampleMeta meta;
  const std::string& format = reader.string("format");
  if (format != kFormat)
    CKV_FAIL("{}: metadata 'format' is '{}', expected '{}'", path, format, kFormat);
  meta.task = reader.string("task");
  meta.id = reader.string("id");
  meta.model = reader.string("model");
  if (meta.task.empty() || meta.id.empty())
    CKV_FAIL("{}: metadata 'task' and 'id' must not be empty", path);
  meta.n_tokens = reader.integer("n_tokens");
  meta.m_answer = reader.integer("m_answer");
  if (meta.n_tokens < 1) CKV_FAIL("{}: metadata 'n_tokens' = {} must be positive", path, meta.n_tokens);
  if (meta.m_answer < 0) CKV_FAIL("{}: metadata 'm_answer' = {} is negative", path, meta.m_answer);
  meta.num_layers_model = reader.integer("num_layers_model");
  if (meta.num_layers_model < 1)
    CKV_FAIL("{}: metadata 'num_layers_model' = {} must be positive", path, meta.num_layers_model);

  const json layers = reader.list("layers");
  if (layers.empty()) CKV_FAIL("{}: metadata 'layers' is empty (no captured layer)", path);
  std::set<int> seen;
  for (const json& layer : layers) {
    if (!layer.is_number_integer() || layer.get<long long>() < 0 ||
        layer.get<long long>() >= meta.num_layers_model)
      CKV_FAIL("{}: metadata 'layers': {} is not a layer index in [0, num_layers_model = {})", path,
               layer.dump(), meta.num_layers_model);
    if (!seen.insert(layer.get<int>()).second)
      CKV_FAIL("{}: metadata 'layers' lists layer {} twice", path, layer.get<int>());
    meta.layers.push_back(layer.get<int>());
  }

  meta.answers = reader.list("answers");
  for (const json& answer : meta.answers)
    if (!answer.is_string())
      CKV_FAIL("{}: metadata 'answers': {} is not a string", path, answer.dump());

  for (const json& item : reader.list("evidence"))
    meta.evidence.push_back(reader.range("evidence", item, meta.n_tokens, false));
  meta.question_span = reader.range("question_span", reader.parsed("question_span"), meta.n_tokens, true);

  meta.answer_source = reader.string("answer_source");
  if (meta.answer_source != "gold" && meta.answer_source != "generated")
    CKV_FAIL("{}: metadata 'answer_source' = '{}' (expected 'gold' or 'generated')", path,
             meta.answer_source);
  meta.capture_version = reader.string("capture_version");
  if (file.metadata().count("planted")) {
    const json planted = reader.parsed("planted");
    if (!planted.is_object()) CKV_FAIL("{}: metadata 'planted' is not a JSON object", path);
    for (const auto& [name, spans] : planted.items()) {
      if (!spans.is_array()) CKV_FAIL("{}: metadata 'planted': '{}' is not a list of ranges", path, name);
      for (const json& item : spans) meta.planted[name].push_back(reader.range("planted", item, meta.n_tokens, false));
    }
  }
  if (auto it = file.metadata().find("token_texts"); it != file.metadata().end())
    meta.token_texts = parse_token_texts(path, it->second, meta.n_tokens);
  if (auto it = file.metadata().find("token_text_method"); it != file.metadata().end())
    meta.token_text_method = it->second;
  return meta;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ","));
}

// Checks the six tensors of every layer against each other and the metadata. Dimensions are
// taken from the first layer's q and k and must agree everywhere else.
void validate_tensors(const SafetensorsFile& file, const SampleMeta& meta) {
  const std::string& path = file.path();
  const std::set<int> layers(meta.layers.begin(), meta.layers.end());
  for (const auto& [name, info] : file.tensors()) {
    int layer = -1;
    if (std::sscanf(name.c_str(), "layers.%d.", &layer) == 1 && layers.count(layer) == 0)
      CKV_FAIL("{}: tensor '{}' belongs to layer {}, which metadata 'layers' does not list", path,
               name, layer);
  }

  int64_t H = -1, G = -1, d = -1, r = -1;
  const int64_t n = meta.n_tokens, m = meta.m_answer;
  for (int layer : meta.layers) {
    for (const char* kind : kTensorKinds)
      if (file.find(tensor_name(layer, kind)) == nullptr)
        CKV_FAIL("{}: tensor '{}' is missing (layer {} is listed in metadata 'layers')", path,
                 tensor_name(layer, kind), layer);
    for (const char* kind : kTensorKinds) {
      const TensorInfo& info = file.require(tensor_name(layer, kind));
      if (info.shape.size() != 3)
        CKV_FAIL("{}: tensor '{}': shape {} is not 3-dimensional", path, info.name,
                 shape_text(info.shape));
    }
    const auto& q = file.require(tensor_name(layer, "q")).shape;
    const auto& k = file.require(tensor_name(layer, "k")).shape;
    if (H < 0) {
      H = q[0];
      d = q[2];
      r = q[1];
      G = k[0];
      if (H < 1 || G < 1 || d < 1)
        CKV_FAIL("{}: layer {}: empty head or head-dim extents (q {}, k {})", path, layer,
                 shape_text(q), shape_text(k));
      if (H % G != 0)
        CKV_FAIL(
            "{}: layer {}: query heads H = {} (tensor 'layers.{}.q') is not a multiple of "
            "KV heads G = {} (tensor 'layers.{}.k')",
            path, layer, H, layer, G, layer);
      if (r < 1 || r > n)
        CKV_FAIL("{}: tensor 'layers.{}.q': {} captured query rows, expected 1..n_tokens = {}",
                 path, layer, r, n);
    }
    for (const char* kind : kTensorKinds) {
      const TensorInfo& info = file.require(tensor_name(layer, kind));
      if (info.dtype == DType::I32)
        CKV_FAIL("{}: tensor '{}': dtype I32 is not a float type (expected F16, BF16 or F32)",
                 path, info.name);
    }
    const std::pair<const char*, std::vector<int64_t>> expected[6] = {
        {"q", {H, r, d}}, {"k", {G, n, d}}, {"v", {G, n, d}}, {"q_answer", {H, m, d}}, {"k_answer", {G, m, d}}, {"v_answer", {G, m, d}}};
    for (const auto& [kind, shape] : expected) {
      const TensorInfo& info = file.require(tensor_name(layer, kind));
      if (info.shape != shape)
        CKV_FAIL(
            "{}: tensor '{}': shape {} disagrees with expected {} (H = {}, G = {}, d = {}, "
            "r = {}, n_tokens = {}, m_answer = {})",
            path, info.name, shape_text(info.shape), shape_text(shape), H, G, d, r, n, m);
    }
  }
}

// The optional token ids of captured caches: I32, [n_tokens] and [m_answer], ids >= 0. Read
// here (n + m integers) so that a file whose ids disagree with its tensors is refused on open.
std::vector<int32_t> read_token_ids(const SafetensorsFile& file, const char* name, int64_t length,
                                    const char* length_key) {
  const TensorInfo* info = file.find(name);
  if (info == nullptr) return {};
  const std::string& path = file.path();
  if (info->dtype != DType::I32)
    CKV_FAIL("{}: tensor '{}': dtype {}, expected I32 (token ids)", path, name,
             dtype_name(info->dtype));
  if (info->shape != std::vector<int64_t>{length})
    CKV_FAIL("{}: tensor '{}': shape {} disagrees with expected [{}] ({} = {})", path, name,
             shape_text(info->shape), length, length_key, length);
  std::vector<int32_t> ids = file.read_i32(name);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0)
      CKV_FAIL("{}: tensor '{}': token id {} at position {} is negative", path, name, ids[i], i);
  return ids;
}

}  // namespace

std::vector<TokenText> parse_token_texts(const std::string& path, const std::string& value, int n_tokens) {
  std::string reason;
  const json list = parse_outside_json(value, reason).value_or(json());
  if (!list.is_array())
    CKV_FAIL("{}: metadata 'token_texts' is not a JSON list (one entry per prompt token)", path);
  if (list.size() != size_t(n_tokens))
    CKV_FAIL("{}: metadata 'token_texts' has {} entries, expected n_tokens = {}", path, list.size(), n_tokens);
  std::vector<TokenText> texts;
  texts.reserve(list.size());
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    if (e.is_string()) {
      texts.push_back({TokenText::Kind::kText, e.get<std::string>()});
    } else if (e.is_object() && e.size() == 1 && e.contains("special") && e["special"].is_string()) {
      texts.push_back({TokenText::Kind::kSpecial, e["special"].get<std::string>()});
    } else if (e.is_object() && e.size() == 1 && e.contains("hex") && e["hex"].is_string()) {
      const std::string& hex = e["hex"].get_ref<const std::string&>();
      std::string bytes;
      bool ok = hex.size() % 2 == 0;
      for (size_t k = 0; ok && k < hex.size(); k += 2) {
        const int hi = hex_value(hex[k]), lo = hex_value(hex[k + 1]);
        ok = hi >= 0 && lo >= 0;
        bytes.push_back(char(hi * 16 + lo));
      }
      if (!ok)
        CKV_FAIL("{}: metadata 'token_texts': entry {} {} is not an even number of hex digits", path, i,
                 e.dump());
      texts.push_back({TokenText::Kind::kBytes, bytes});
    } else {
      CKV_FAIL(
          "{}: metadata 'token_texts': entry {} {} is neither a string, {{\"hex\": ...}} nor "
          "{{\"special\": ...}}",
          path, i, e.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return texts;
}

std::string token_texts_json(const std::vector<TokenText>& texts) {
  json list = json::array();
  for (const TokenText& t : texts) {
    switch (t.kind) {
      case TokenText::Kind::kText: list.push_back(t.text); break;
      case TokenText::Kind::kSpecial: list.push_back({{"special", t.text}}); break;
      case TokenText::Kind::kBytes: {
        std::string hex;
        for (unsigned char c : t.text) hex += fmt::format("{:02x}", c);
        list.push_back({{"hex", hex}});
        break;
      }
    }
  }
  return list.dump();
}

LayerInput LayerTensors::view() const {
  LayerInput in;
  in.H = H;
  in.G = G;
  in.d = d;
  in.n = n;
  in.r = r;
  in.m = m;
  in.q = q.data();
  in.k = k.data();
  in.v = v.data();
  in.q_answer = q_answer.data();
  in.k_answer = k_answer.data();
  in.v_answer = v_answer.data();
  in.layer = layer;
  in.num_layers_model = num_layers_model;
  in.sample = sample;
  return in;
}

SampleCache SampleCache::open(const std::string& path, const std::string& expected_fingerprint) {
  SampleCache cache;
  cache.file_ = SafetensorsFile::open(path, expected_fingerprint);
  cache.meta_ = parse_meta(*cache.file_);
  validate_tensors(*cache.file_, cache.meta_);
  cache.meta_.input_ids = read_token_ids(*cache.file_, "input_ids", cache.meta_.n_tokens, "n_tokens");
  cache.meta_.answer_ids = read_token_ids(*cache.file_, "answer_ids", cache.meta_.m_answer, "m_answer");
  return cache;
}

bool SampleCache::has_layer(int layer) const {
  return std::find(meta_.layers.begin(), meta_.layers.end(), layer) != meta_.layers.end();
}

LayerTensors SampleCache::load_layer(int layer) const {
  if (!has_layer(layer))
    CKV_FAIL("{}: layer {} was not captured (captured layers: [{}])", path(), layer,
             fmt::join(meta_.layers, ", "));
  LayerTensors t;
  const auto& q = file_->require(tensor_name(layer, "q")).shape;
  t.H = int(q[0]);
  t.r = int(q[1]);
  t.d = int(q[2]);
  t.G = int(file_->require(tensor_name(layer, "k")).shape[0]);
  t.n = meta_.n_tokens;
  t.m = meta_.m_answer;
  t.layer = layer;
  t.num_layers_model = meta_.num_layers_model;
  t.sample = meta_.task + "/" + meta_.id;
  const std::pair<const char*, std::vector<float>*> parts[6] = {
      {"q", &t.q}, {"k", &t.k}, {"v", &t.v}, {"q_answer", &t.q_answer}, {"k_answer", &t.k_answer}, {"v_answer", &t.v_answer}};
  for (const auto& [kind, out] : parts) {
    const std::string name = tensor_name(layer, kind);
    size_t bad = 0;
    *out = file_->read_f32(name, &bad);
    if (bad < out->size()) {
      const auto& shape = file_->require(name).shape;
      const size_t inner = size_t(shape[1] * shape[2]);
      CKV_FAIL(
          "{}: sample {}/{} layer {}: tensor '{}' holds {} at [{}, {}, {}] (a capture with "
          "non-finite values gives no valid metric; recapture the sample)",
          path(), meta_.task, meta_.id, layer, name, std::isnan((*out)[bad]) ? "NaN" : "an infinite value",
          bad / inner, (bad % inner) / size_t(shape[2]), bad % size_t(shape[2]));
    }
  }
  return t;
}

void write_sample(const std::string& path, const SampleMeta& meta,
                  const std::vector<SampleWriteLayer>& layers, DType dtype) {
  CKV_CHECK(!layers.empty(), "{}: write_sample needs at least one layer", path);
  SafetensorsWriter writer;
  writer.record_content_digest();  // planning then identifies the sample from its header alone
  json layer_list = json::array(), evidence = json::array();
  for (const auto& [start, end] : meta.evidence) evidence.push_back({start, end});
  for (const SampleWriteLayer& entry : layers) {
    const LayerTensors& t = entry.tensors;
    layer_list.push_back(entry.layer);
    // Catch a caller's inconsistent buffers here rather than as a confusing reader error later.
    CKV_CHECK(t.n == meta.n_tokens && t.m == meta.m_answer,
              "{}: layer {}: tensors have n = {}, m = {} but metadata says n_tokens = {}, "
              "m_answer = {}",
              path, entry.layer, t.n, t.m, meta.n_tokens, meta.m_answer);
    const std::pair<const char*, std::pair<const std::vector<float>*, std::vector<int64_t>>> parts[6] = {
        {"q", {&t.q, {t.H, t.r, t.d}}},
        {"k", {&t.k, {t.G, t.n, t.d}}},
        {"v", {&t.v, {t.G, t.n, t.d}}},
        {"q_answer", {&t.q_answer, {t.H, t.m, t.d}}},
        {"k_answer", {&t.k_answer, {t.G, t.m, t.d}}},
        {"v_answer", {&t.v_answer, {t.G, t.m, t.d}}}};
    for (const auto& [kind, part] : parts) {
      const auto& [data, shape] = part;
      const size_t count = size_t(shape[0]) * size_t(shape[1]) * size_t(shape[2]);
      CKV_CHECK(data->size() == count, "{}: layer {}: tensor {} holds {} values, shape {} needs {}",
                path, entry.layer, kind, data->size(), shape_text(shape), count);
      writer.add(tensor_name(entry.layer, kind), dtype, shape, data->data());
    }
  }
  if (!meta.input_ids.empty() || !meta.answer_ids.empty()) {
    CKV_CHECK(meta.input_ids.size() == size_t(meta.n_tokens) &&
                  meta.answer_ids.size() == size_t(meta.m_answer),
              "{}: {} input ids and {} answer ids for n_tokens = {}, m_answer = {}", path,
              meta.input_ids.size(), meta.answer_ids.size(), meta.n_tokens, meta.m_answer);
    writer.add_i32("input_ids", {int64_t(meta.input_ids.size())}, meta.input_ids.data());
    writer.add_i32("answer_ids", {int64_t(meta.answer_ids.size())}, meta.answer_ids.data());
  }
  writer.set_metadata("format", kFormat);
  writer.set_metadata("task", meta.task);
  writer.set_metadata("id", meta.id);
  writer.set_metadata("model", meta.model);
  writer.set_metadata("n_tokens", std::to_string(meta.n_tokens));
  writer.set_metadata("m_answer", std::to_string(meta.m_answer));
  writer.set_metadata("layers", layer_list.dump());
  writer.set_metadata("num_layers_model", std::to_string(meta.num_layers_model));
  writer.set_metadata("answers", meta.answers.dump());
  writer.set_metadata("evidence", evidence.dump());
  writer.set_metadata("question_span",
                      json::array({meta.question_span.first, meta.question_span.second}).dump());
  writer.set_metadata("answer_source", meta.answer_source);
  writer.set_metadata("capture_version", meta.capture_version);
  if (!meta.planted.empty()) {
    json planted = json::object();
    for (const auto& [name, spans] : meta.planted)
      for (const auto& [begin, end] : spans) planted[name].push_back(json::array({begin, end}));
    writer.set_metadata("planted", planted.dump());
  }
  if (!meta.token_texts.empty()) {
    CKV_CHECK(meta.token_texts.size() == size_t(meta.n_tokens), "{}: {} token texts for n_tokens = {}", path,
              meta.token_texts.size(), meta.n_tokens);
    writer.set_metadata("token_texts", token_texts_json(meta.token_texts));
    if (!meta.token_text_method.empty()) writer.set_metadata("token_text_method", meta.token_text_method);
  }
  writer.write(path);
}

std::string sample_fingerprint(const std::string& path) {
  // No parsing beyond the header: a corrupt or truncated file still gets an identity (a new
  // one, since its content changed) and its units fail at evaluation with the reader's message,
  // instead of stopping the campaign (docs/spec/MISSION.md R13).
  return identify_safetensors_file(path).fingerprint;
}

std::string index_disagreement(const std::string& index_task, const std::string& index_id, int index_n_tokens,
                               int index_m_answer, const std::vector<int>& index_layers,
                               const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> differences;
  auto compare = [&](const char* key, const std::string& in_index) {
    auto it = metadata.find(key);
    if (it != metadata.end() && it->second != in_index)
      differences.push_back(fmt::format("{} is {} in the index but {} in the file", key, in_index, it->second));
  };
  compare("task", index_task);
  compare("id", index_id);
  compare("n_tokens", std::to_string(index_n_tokens));
  compare("m_answer", std::to_string(index_m_answer));
  if (auto it = metadata.find("layers"); it != metadata.end()) {
    std::string reason;
    const json layers = parse_outside_json(it->second, reason).value_or(json());
    if (layers.is_array() && layers != json(index_layers))
      differences.push_back(fmt::format("layers are {} in the index but {} in the file", json(index_layers).dump(),
                                        layers.dump()));
  }
  return differences.empty() ? std::string() : fmt::format("{}", fmt::join(differences, "; "));
}

}  // namespace ckv
