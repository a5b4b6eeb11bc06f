// safetensors reader/writer, sample cache validation and index.jsonl. Corrupt files are built
// byte by byte here so every rejection path is exercised with its expected message.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "cache/cache_index.hpp"
#include "cache/safetensors.hpp"
#include "cache/sample_cache.hpp"
#include "common/error.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ckv;
using Catch::Matchers::Contains;

namespace {

struct TempDir : ckv_test::MkdtempDir {
  TempDir() : MkdtempDir("ckv-cache-test") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from a header text and a data section, with an explicit length field so
// the length itself can be made wrong.
std::string raw_file(const std::string& header, const std::string& data, uint64_t length) {
  std::string bytes(8, '\0');
  for (int b = 0; b < 8; ++b) bytes[b] = char((length >> (8 * b)) & 0xff);
  return bytes + header + data;
}
std::string raw_file(const std::string& header, const std::string& data) {
  return raw_file(header, data, header.size());
}

uint16_t u16_at(const unsigned char* p, size_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return v;
}

const std::vector<float> kValues = {1.0f, -2.5f, 65504.0f, 1e-5f, 0.0f, 3.14159f};

}  // namespace

TEST_CASE("dtype names and sizes", "[cache][safetensors]") {
  CHECK(std::string(dtype_name(DType::F16)) == "F16");
  CHECK(std::string(dtype_name(DType::BF16)) == "BF16");
  CHECK(std::string(dtype_name(DType::F32)) == "F32");
  CHECK(dtype_size(DType::F16) == 2);
  CHECK(dtype_size(DType::BF16) == 2);
  CHECK(dtype_size(DType::F32) == 4);
}

TEST_CASE("safetensors round trip in F32, F16 and BF16", "[cache][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("round.safetensors");
  SafetensorsWriter writer;
  writer.set_metadata("purpose", "round trip");
  writer.add("t.f32", DType::F32, {2, 3}, kValues.data());
  writer.add("t.f16", DType::F16, {6}, kValues.data());
  writer.add("t.bf16", DType::BF16, {3, 2}, kValues.data());
  writer.add("t.empty", DType::F16, {0, 4}, nullptr);
  writer.write(path);

  auto file = SafetensorsFile::open(path);
  CHECK(file->metadata().at("purpose") == "round trip");
  REQUIRE(file->tensors().size() == 4);
  CHECK(file->require("t.f32").shape == std::vector<int64_t>{2, 3});
  CHECK(file->require("t.bf16").numel() == 6);
  CHECK(file->require("t.empty").numel() == 0);
  CHECK(file->read_f32("t.empty").empty());
  CHECK(file->find("nope") == nullptr);
  CHECK_THROWS_WITH(file->require("nope"), Contains("round.safetensors") && Contains("'nope' is missing"));

  // F32 is exact.
  CHECK(file->read_f32("t.f32") == kValues);

  // F16 bit patterns worked out by hand: 1.0 = 0x3C00, -2.5 = 0xC100, 65504 (max) = 0x7BFF,
  // 1e-5 is subnormal: round(1e-5 / 2^-24) = 168 = 0x00A8, 3.14159 → 0x4248 = 3.140625.
  const TensorInfo& f16 = file->require("t.f16");
  CHECK(f16.dtype == DType::F16);
  const unsigned char* raw16 = file->raw(f16);
  CHECK(u16_at(raw16, 0) == 0x3C00);
  CHECK(u16_at(raw16, 1) == 0xC100);
  CHECK(u16_at(raw16, 2) == 0x7BFF);
  CHECK(u16_at(raw16, 3) == 0x00A8);
  CHECK(u16_at(raw16, 4) == 0x0000);
  CHECK(u16_at(raw16, 5) == 0x4248);
  const auto back16 = file->read_f32("t.f16");
  CHECK(back16[0] == 1.0f);
  CHECK(back16[1] == -2.5f);
  CHECK(back16[2] == 65504.0f);
  CHECK(back16[3] == 168.0f * 0x1.0p-24f);
  CHECK(back16[4] == 0.0f);
  CHECK(back16[5] == 3.140625f);

  // BF16 keeps the top 16 bits, rounded to nearest even: 1.0 = 0x3F80, -2.5 = 0xC020,
  // 65504 = 0x477FE000 rounds up to 0x4780 = 65536, 1e-5 = 0x3727C5AC → 0x3728,
  // 3.14159 = 0x40490FD0 → 0x4049 = 3.140625.
  const unsigned char* rawbf = file->raw(file->require("t.bf16"));
  CHECK(u16_at(rawbf, 0) == 0x3F80);
  CHECK(u16_at(rawbf, 1) == 0xC020);
  CHECK(u16_at(rawbf, 2) == 0x4780);
  CHECK(u16_at(rawbf, 3) == 0x3728);
  CHECK(u16_at(rawbf, 5) == 0x4049);
  const auto backbf = file->read_f32("t.bf16");
  CHECK(backbf[2] == 65536.0f);
  CHECK(backbf[5] == 3.140625f);

  // Layout rules of the format: header length a multiple of 8, data section right after it,
  // tensors packed without gaps from offset 0, larger dtypes first.
  const std::string bytes = read_bytes(path);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  CHECK(header_length % 8 == 0);
  CHECK(bytes.size() == 8 + header_length + 6 * 4 + 6 * 2 + 6 * 2);
  CHECK(file->require("t.f32").begin == 0);
  CHECK(file->require("t.f32").end == 24);
  CHECK(file->require("t.bf16").begin == 24);
  CHECK(file->require("t.empty").begin == 36);
  CHECK(file->require("t.f16").begin == 36);
  CHECK(!fs::exists(path + ".tmp." + std::to_string(getpid())));
}

// tests/data/cache/python_written.safetensors was written by Python safetensors 0.8
// (safetensors._safetensors_rust.serialize) from: a = float32 [2,3] of kValues, b = float16 [6]
// of kValues, c = bfloat16 [2,2] with bit patterns 0x3F80, 0xC020, 0x3E20, 0xC780, metadata
// {"note": "written by python safetensors"}.
TEST_CASE("files written by Python safetensors are read, and ours are byte-identical",
          "[cache][safetensors]") {
  const std::string python_file = std::string(CKV_TEST_DATA_DIR) + "/cache/python_written.safetensors";
  auto file = SafetensorsFile::open(python_file);
  CHECK(file->metadata().at("note") == "written by python safetensors");
  CHECK(file->read_f32("a") == kValues);
  const auto b = file->read_f32("b");
  CHECK(b[2] == 65504.0f);
  CHECK(b[3] == 168.0f * 0x1.0p-24f);
  CHECK(file->read_f32("c") == std::vector<float>{1.0f, -2.5f, 0.15625f, -65536.0f});

  TempDir dir;
  SafetensorsWriter writer;
  writer.set_metadata("note", "written by python safetensors");
  const std::vector<float> c = {1.0f, -2.5f, 0.15625f, -65536.0f};
  writer.add("b", DType::F16, {6}, kValues.data());
  writer.add("c", DType::BF16, {2, 2}, c.data());
  writer.add("a", DType::F32, {2, 3}, kValues.data());
  writer.write(dir.file("ours.safetensors"));
  CHECK(read_bytes(dir.file("ours.safetensors")) == read_bytes(python_file));
}

TEST_CASE("corrupt safetensors files are rejected with a clear message", "[cache][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  auto expect = [&](const std::string& bytes, const std::string& fragment) {
    write_bytes(path, bytes);
    CHECK_THROWS_AS(SafetensorsFile::open(path), Error);
    CHECK_THROWS_WITH(SafetensorsFile::open(path), Contains("x.safetensors") && Contains(fragment));
  };
  const std::string good_header = R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})";
  const std::string four_bytes(4, '\1');

  SECTION("missing file") {
    CHECK_THROWS_WITH(SafetensorsFile::open(dir.file("absent.safetensors")),
                      Contains("absent.safetensors") && Contains("cannot open"));
  }
  SECTION("a directory") {
    CHECK_THROWS_WITH(SafetensorsFile::open(dir.path.string()), Contains("not a regular file"));
  }
  SECTION("truncated below the length field") { expect(std::string(5, '\0'), "truncated (5 bytes"); }
  SECTION("header length larger than the file") {
    expect(raw_file(good_header, four_bytes, 4096), "header length 4096 is larger than the file");
  }
  SECTION("invalid JSON") { expect(raw_file(R"({"t": {"dtype": )", ""), "header is not valid JSON"); }
  SECTION("a number out of range") {
    expect(raw_file(R"({"t": {"dtype": "F32", "shape": [1, 41e4493], "data_offsets": [0, 4]}})", ""),
           "header is not valid JSON");
  }
  SECTION("header not an object") { expect(raw_file("[1, 2]  ", ""), "header is not a JSON object"); }
  SECTION("unknown dtype") {
    expect(raw_file(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", std::string(16, '\0')),
           "tensor 't': dtype 'F64' is not supported (expected F16, BF16, F32 or I32)");
  }
  SECTION("integer dtype other than I32") {
    expect(raw_file(R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0')),
           "dtype 'I64' is not supported");
  }
  SECTION("offsets do not match the shape") {
    expect(raw_file(R"({"layers.0.q":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,100]}})",
                    std::string(100, '\0')),
           "tensor 'layers.0.q': data_offsets [0, 100] do not match shape [2,3,4] × F16 (48 bytes)");
  }
  SECTION("negative extent") {
    expect(raw_file(R"({"t":{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}})", four_bytes),
           "not a list of non-negative integers");
  }
  SECTION("malformed data_offsets") {
    expect(raw_file(R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0]}})", four_bytes),
           "data_offsets [0] is not a pair");
  }
  SECTION("missing field") {
    expect(raw_file(R"({"t":{"dtype":"F16","shape":[2]}})", four_bytes), "tensor 't': header entry lacks 'data_offsets'");
  }
  SECTION("overlapping tensors") {
    expect(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}})",
                    std::string(8, '\0')),
           "tensors 'a' [0, 8] and 'b' [4, 8] overlap");
  }
  SECTION("tensor outside the data section") {
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(12, '\0')),
           "tensor 't': data_offsets [0, 16] lie outside the data section (12 bytes");
  }
  SECTION("file truncated inside the data") {
    SafetensorsWriter writer;
    writer.add("t", DType::F32, {6}, kValues.data());
    writer.write(path);
    const std::string bytes = read_bytes(path);
    expect(bytes.substr(0, bytes.size() - 3), "lie outside the data section");
  }
  SECTION("non-string metadata") {
    expect(raw_file(R"({"__metadata__":{"n_tokens":5}})", ""),
           "__metadata__ value of 'n_tokens' is not a string");
  }
}

// ---- sample cache ---------------------------------------------------------------------------

namespace {

// A small valid sample: H = 4, G = 2, d = 8, n = 16, r = 6, m = 3, layers {0, 2}. Values are a
// distinct ramp so the round trip can be checked element by element.
struct SampleFixture {
  SampleMeta meta;
  std::vector<SampleWriteLayer> layers;

  SampleFixture() {
    meta.task = "synth-needle";
    meta.id = "fixture-0";
    meta.model = "unit-test";
    meta.n_tokens = 16;
    meta.m_answer = 3;
    meta.layers = {0, 2};
    meta.num_layers_model = 4;
    meta.answers = json::array({"forty-two"});
    meta.evidence = {{3, 6}, {9, 10}};
    meta.question_span = {12, 16};
    meta.answer_source = "gold";
    meta.capture_version = "test/1";
    for (int layer : meta.layers) {
      LayerTensors t;
      t.H = 4, t.G = 2, t.d = 8, t.n = 16, t.r = 6, t.m = 3;
      auto ramp = [&](size_t count, float base) {
        std::vector<float> out(count);
        for (size_t i = 0; i < count; ++i) out[i] = base + 0.25f * float(i);
        return out;
      };
      const float base = 1000.0f * float(layer);
      t.q = ramp(4 * 6 * 8, base);
      t.k = ramp(2 * 16 * 8, base + 1);
      t.v = ramp(2 * 16 * 8, base + 2);
      t.q_answer = ramp(4 * 3 * 8, base + 3);
      t.k_answer = ramp(2 * 3 * 8, base + 4);
      t.v_answer = ramp(2 * 3 * 8, base + 5);
      layers.push_back({layer, std::move(t)});
    }
  }
};

// Writes a sample tensor by tensor with a free hand over metadata and shapes, to build files
// that are valid safetensors but invalid caches.
struct RawSample {
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::vector<int64_t>> shapes;

  RawSample() {
    metadata = {{"format", "ckv-cache/1"}, {"task", "synth-needle"}, {"id", "raw-0"}, {"model", "unit-test"}, {"n_tokens", "16"}, {"m_answer", "3"}, {"layers", "[0]"}, {"num_layers_model", "2"}, {"answers", R"(["a"])"}, {"evidence", "[[3,6]]"}, {"question_span", "[12,16]"}, {"answer_source", "gold"}, {"capture_version", "test/1"}};
    shapes = {{"layers.0.q", {4, 16, 8}}, {"layers.0.k", {2, 16, 8}}, {"layers.0.v", {2, 16, 8}}, {"layers.0.q_answer", {4, 3, 8}}, {"layers.0.k_answer", {2, 3, 8}}, {"layers.0.v_answer", {2, 3, 8}}};
  }

  // Token-id tensors (input_ids, answer_ids): values and dtype free, to build bad ones.
  struct Ids {
    DType dtype = DType::I32;
    std::vector<int64_t> shape;
    std::vector<int32_t> values;
  };
  std::map<std::string, Ids> ids;
  std::map<std::string, DType> dtypes;  // per tensor, F16 unless listed

  void write(const std::string& path) const {
    SafetensorsWriter writer;
    for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
    for (const auto& [name, shape] : shapes) {
      int64_t count = 1;
      for (int64_t e : shape) count *= e;
      const auto dtype = dtypes.count(name) ? dtypes.at(name) : DType::F16;
      if (dtype == DType::I32) {
        std::vector<int32_t> zeros(size_t(count), 0);
        writer.add_i32(name, shape, zeros.data());
        continue;
      }
      std::vector<float> zeros(size_t(count), 0.5f);
      writer.add(name, dtype, shape, zeros.data());
    }
    for (const auto& [name, t] : ids) {
      if (t.dtype == DType::I32) {
        writer.add_i32(name, t.shape, t.values.data());
      } else {
        std::vector<float> values(t.values.begin(), t.values.end());
        writer.add(name, t.dtype, t.shape, values.data());
      }
    }
    writer.write(path);
  }
};

}  // namespace

TEST_CASE("sample cache round trip", "[cache][sample]") {
  TempDir dir;
  const std::string path = dir.file("fixture.safetensors");
  SampleFixture fixture;
  write_sample(path, fixture.meta, fixture.layers, DType::F32);

  const SampleCache cache = SampleCache::open(path);
  const SampleMeta& meta = cache.meta();
  CHECK(meta.task == "synth-needle");
  CHECK(meta.id == "fixture-0");
  CHECK(meta.model == "unit-test");
  CHECK(meta.n_tokens == 16);
  CHECK(meta.m_answer == 3);
  CHECK(meta.layers == std::vector<int>{0, 2});
  CHECK(meta.num_layers_model == 4);
  CHECK(meta.answers == json::array({"forty-two"}));
  CHECK(meta.evidence == std::vector<std::pair<int, int>>{{3, 6}, {9, 10}});
  CHECK(meta.question_span == std::pair<int, int>{12, 16});
  CHECK(meta.answer_source == "gold");
  CHECK(meta.capture_version == "test/1");
  CHECK(cache.path() == path);
  CHECK(cache.has_layer(2));
  CHECK_FALSE(cache.has_layer(1));
  CHECK_THROWS_WITH(cache.load_layer(1), Contains("fixture.safetensors") && Contains("layer 1 was not captured"));

  const LayerTensors layer = cache.load_layer(2);
  const LayerTensors& expected = fixture.layers[1].tensors;
  CHECK(layer.H == 4);
  CHECK(layer.G == 2);
  CHECK(layer.d == 8);
  CHECK(layer.n == 16);
  CHECK(layer.r == 6);
  CHECK(layer.m == 3);
  CHECK(layer.layer == 2);
  CHECK(layer.num_layers_model == 4);
  CHECK(layer.sample == "synth-needle/fixture-0");
  CHECK(layer.q == expected.q);
  CHECK(layer.k == expected.k);
  CHECK(layer.v == expected.v);
  CHECK(layer.q_answer == expected.q_answer);
  CHECK(layer.k_answer == expected.k_answer);
  CHECK(layer.v_answer == expected.v_answer);

  const LayerInput in = layer.view();
  CHECK(in.H == 4);
  CHECK(in.G == 2);
  CHECK(in.group() == 2);
  CHECK(in.r == 6);
  CHECK(in.layer == 2);
  CHECK(in.num_layers_model == 4);
  CHECK(in.sample == "synth-needle/fixture-0");
  CHECK(in.k_answer == layer.k_answer.data());
  // Position 10 is the first captured row (n - r = 10); head 3 row 5 is position 15.
  CHECK(in.query(0, 10) == layer.q.data());
  CHECK(*in.query(3, 15) == 2000.0f + 0.25f * float((3 * 6 + 5) * 8));
  CHECK(*in.key(1, 4) == 2001.0f + 0.25f * float((16 + 4) * 8));
  CHECK(*in.value(0, 2) == 2002.0f + 0.25f * float(2 * 8));

  // F16 storage: layer 0's ramp (multiples of 0.25 below 70) is exact in binary16; layer 2's
  // values near 2000 have an f16 spacing of 1 (below 2048) or 2, so they land within 1.
  write_sample(dir.file("fixture16.safetensors"), fixture.meta, fixture.layers, DType::F16);
  const SampleCache cache16 = SampleCache::open(dir.file("fixture16.safetensors"));
  const LayerTensors layer0 = cache16.load_layer(0);
  CHECK(layer0.k == fixture.layers[0].tensors.k);
  CHECK(layer0.v_answer == fixture.layers[0].tensors.v_answer);
  const LayerTensors layer2 = cache16.load_layer(2);
  for (size_t i = 0; i < layer2.k.size(); ++i) CHECK(std::abs(layer2.k[i] - expected.k[i]) <= 1.0f);
}

TEST_CASE("write_sample rejects inconsistent buffers", "[cache][sample]") {
  TempDir dir;
  SampleFixture fixture;
  fixture.layers[0].tensors.v.pop_back();
  CHECK_THROWS_WITH(write_sample(dir.file("bad.safetensors"), fixture.meta, fixture.layers, DType::F16),
                    Contains("bad.safetensors") && Contains("layer 0: tensor v holds 255 values"));
  CHECK_FALSE(fs::exists(dir.file("bad.safetensors")));
}

TEST_CASE("invalid sample caches are rejected with a clear message", "[cache][sample]") {
  TempDir dir;
  const std::string path = dir.file("s.safetensors");
  RawSample sample;
  auto expect = [&](const std::string& fragment) {
    sample.write(path);
    CHECK_THROWS_WITH(SampleCache::open(path), Contains("s.safetensors") && Contains(fragment));
  };

  SECTION("the unmodified raw sample is valid") {
    sample.write(path);
    const SampleCache cache = SampleCache::open(path);
    CHECK(cache.load_layer(0).q.size() == 4 * 16 * 8);
    CHECK(cache.load_layer(0).q[7] == 0.5f);
  }
  SECTION("missing metadata key") {
    sample.metadata.erase("m_answer");
    expect("metadata key 'm_answer' is missing");
  }
  SECTION("wrong format") {
    sample.metadata["format"] = "ckv-cache/0";
    expect("metadata 'format' is 'ckv-cache/0', expected 'ckv-cache/1'");
  }
  SECTION("non-integer n_tokens") {
    sample.metadata["n_tokens"] = "16x";
    expect("metadata 'n_tokens' = '16x' is not an integer");
  }
  SECTION("layers not a list") {
    sample.metadata["layers"] = "0";
    expect("metadata 'layers' = '0' is not a JSON list");
  }
  SECTION("layer beyond the model") {
    sample.metadata["num_layers_model"] = "0";
    expect("'num_layers_model' = 0 must be positive");
  }
  SECTION("answers not JSON") {
    sample.metadata["answers"] = "[\"a\"";
    expect("metadata 'answers' = '[\"a\"' is not valid JSON");
  }
  SECTION("answers with a number out of range") {
    sample.metadata["answers"] = "[1e99999]";
    expect("metadata 'answers' = '[1e99999]' is not valid JSON");
  }
  SECTION("evidence range reversed") {
    sample.metadata["evidence"] = "[[10,5]]";
    expect("metadata 'evidence': range [10, 5) is not a non-empty range within [0, 16)");
  }
  SECTION("evidence range past n") {
    sample.metadata["evidence"] = "[[3,6],[14,17]]";
    expect("range [14, 17) is not a non-empty range within [0, 16)");
  }
  SECTION("evidence item not a pair") {
    sample.metadata["evidence"] = "[[3]]";
    expect("metadata 'evidence': [3] is not a [start, end) pair");
  }
  SECTION("bad answer source") {
    sample.metadata["answer_source"] = "guessed";
    expect("'answer_source' = 'guessed'");
  }
  SECTION("missing layer tensor") {
    sample.shapes.erase("layers.0.v_answer");
    expect("tensor 'layers.0.v_answer' is missing (layer 0 is listed in metadata 'layers')");
  }
  SECTION("listed layer absent") {
    sample.metadata["layers"] = "[0, 1]";
    expect("tensor 'layers.1.q' is missing");
  }
  SECTION("tensor of an unlisted layer") {
    sample.shapes["layers.1.q"] = {4, 16, 8};
    expect("tensor 'layers.1.q' belongs to layer 1, which metadata 'layers' does not list");
  }
  SECTION("KV heads do not divide query heads") {
    sample.shapes["layers.0.k"] = {3, 16, 8};
    expect("query heads H = 4 (tensor 'layers.0.q') is not a multiple of KV heads G = 3");
  }
  SECTION("n disagrees with metadata") {
    sample.shapes["layers.0.v"] = {2, 17, 8};
    expect("tensor 'layers.0.v': shape [2,17,8] disagrees with expected [2,16,8]");
  }
  SECTION("m disagrees with metadata") {
    sample.metadata["m_answer"] = "4";
    expect("tensor 'layers.0.q_answer': shape [4,3,8] disagrees with expected [4,4,8]");
  }
  SECTION("head dim disagrees") {
    sample.shapes["layers.0.k"] = {2, 16, 4};
    expect("tensor 'layers.0.k': shape [2,16,4] disagrees");
  }
  SECTION("more query rows than tokens") {
    sample.shapes["layers.0.q"] = {4, 17, 8};
    expect("tensor 'layers.0.q': 17 captured query rows, expected 1..n_tokens = 16");
  }
  SECTION("tensor not 3-dimensional") {
    sample.shapes["layers.0.q_answer"] = {4, 24};
    expect("tensor 'layers.0.q_answer': shape [4,24] is not 3-dimensional");
  }
}

TEST_CASE("cache index round trip and errors", "[cache][index]") {
  TempDir dir;
  const std::vector<IndexEntry> entries = {
      {"synth-needle-0", "synth-needle", "synth-needle/synth-needle-0.safetensors", 1000, 8, {0, 1}, 123456},
      {"hotpotqa-7", "hotpotqa", "hotpotqa/hotpotqa-7.safetensors", 8000, 12, {3}, 99}};
  write_cache_index(dir.path.string(), entries);
  const auto back = read_cache_index(dir.path.string());
  REQUIRE(back.size() == 2);
  CHECK(back[0].id == "synth-needle-0");
  CHECK(back[0].task == "synth-needle");
  CHECK(back[0].path == "synth-needle/synth-needle-0.safetensors");
  CHECK(back[0].n_tokens == 1000);
  CHECK(back[0].m_answer == 8);
  CHECK(back[0].layers == std::vector<int>{0, 1});
  CHECK(back[0].file_size == 123456);
  CHECK(back[1].layers == std::vector<int>{3});
  // One JSON object per line.
  const std::string text = read_bytes(dir.file("index.jsonl"));
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  CHECK(json::parse(text.substr(0, text.find('\n')))["file_size"] == 123456);

  CHECK_THROWS_WITH(read_cache_index(dir.file("nowhere")), Contains("nowhere") && Contains("does not exist"));
  TempDir empty;
  CHECK_THROWS_WITH(read_cache_index(empty.path.string()), Contains("index.jsonl") && Contains("missing"));

  const std::string good = text.substr(0, text.find('\n') + 1);
  write_bytes(dir.file("index.jsonl"), good + "{\"id\": \"x\"\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()), Contains("index.jsonl:2") && Contains("invalid JSON"));
  write_bytes(dir.file("index.jsonl"), good + "\n" + R"({"id":"x","task":"t","path":"p","n_tokens":"9","m_answer":1,"layers":[0],"file_size":1})"
                                                     "\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()),
                    Contains("index.jsonl:3") && Contains("field 'n_tokens' must be a non-negative integer"));
  // Values an int field cannot hold are refused, not narrowed (3000000000 read back as
  // -1294967296, layer 4294967296 as layer 0: found by the index fuzz target).
  write_bytes(dir.file("index.jsonl"), good + R"({"id":"x","task":"t","path":"p","n_tokens":3000000000,"m_answer":1,"layers":[0],"file_size":1})"
                                              "\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()),
                    Contains("index.jsonl:2: field 'n_tokens' is 3000000000, more than the largest supported (2147483647)"));
  write_bytes(dir.file("index.jsonl"), good + R"({"id":"x","task":"t","path":"p","n_tokens":9,"m_answer":1,"layers":[4294967296],"file_size":1})"
                                              "\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()),
                    Contains("index.jsonl:2: field 'layers' must be a list of non-negative integers (at most 2147483647), got [4294967296]"));
  write_bytes(dir.file("index.jsonl"), good + R"({"id":"x","task":"t","path":"p","n_tokens":9,"m_answer":1,"layers":[0],"file_size":18446744073709551615})"
                                              "\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()),
                    Contains("index.jsonl:2: field 'file_size' is 18446744073709551615, more than the largest supported"));
  write_bytes(dir.file("index.jsonl"), good + R"({"id":"x","task":"t","path":"p","n_tokens":9,"m_answer":1,"layers":[-1],"file_size":1})"
                                              "\n");
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()),
                    Contains("index.jsonl:2: field 'layers' must be a list of non-negative integers"));
  write_bytes(dir.file("index.jsonl"), R"({"id":"x","task":"t","n_tokens":9,"m_answer":1,"layers":[0],"file_size":1})"
                                       "\n");
  CHECK_THROWS_AS(read_cache_index(dir.path.string()), InputError);
  CHECK_THROWS_WITH(read_cache_index(dir.path.string()), Contains("index.jsonl:1: field 'path' is missing"));
}

TEST_CASE("token ids of captured caches are read and validated", "[cache][sample]") {
  TempDir dir;
  const std::string path = dir.file("ids.safetensors");
  RawSample sample;  // n_tokens = 16, m_answer = 3
  std::vector<int32_t> prompt(16), answer = {7, 8, 9};
  for (int i = 0; i < 16; ++i) prompt[size_t(i)] = 100 + i;
  sample.ids["input_ids"] = {DType::I32, {16}, prompt};
  sample.ids["answer_ids"] = {DType::I32, {3}, answer};
  auto expect = [&](const std::string& fragment) {
    sample.write(path);
    CHECK_THROWS_WITH(SampleCache::open(path), Contains("ids.safetensors") && Contains(fragment));
  };

  SECTION("present and consistent: read into the metadata") {
    sample.write(path);
    const SampleCache cache = SampleCache::open(path);
    CHECK(cache.meta().input_ids == prompt);
    CHECK(cache.meta().answer_ids == answer);
    const auto file = SafetensorsFile::open(path);
    CHECK(file->require("input_ids").dtype == DType::I32);
    CHECK(file->read_i32("answer_ids") == answer);
    CHECK_THROWS_WITH(file->read_f32("input_ids"), Contains("tensor 'input_ids' holds I32 values"));
    CHECK_THROWS_WITH(file->read_i32("layers.0.q"), Contains("tensor 'layers.0.q' has dtype F16, expected I32"));
  }
  SECTION("absent (synthetic caches): empty") {
    sample.ids.clear();
    sample.write(path);
    CHECK(SampleCache::open(path).meta().input_ids.empty());
  }
  SECTION("input_ids longer than the prompt") {
    sample.ids["input_ids"] = {DType::I32, {17}, std::vector<int32_t>(17, 1)};
    expect("tensor 'input_ids': shape [17] disagrees with expected [16] (n_tokens = 16)");
  }
  SECTION("answer_ids shorter than the answer") {
    sample.ids["answer_ids"] = {DType::I32, {2}, {1, 2}};
    expect("tensor 'answer_ids': shape [2] disagrees with expected [3] (m_answer = 3)");
  }
  SECTION("token ids not one-dimensional") {
    sample.ids["input_ids"] = {DType::I32, {1, 16}, prompt};
    expect("tensor 'input_ids': shape [1,16] disagrees with expected [16]");
  }
  SECTION("token ids stored as floats") {
    sample.ids["answer_ids"] = {DType::F16, {3}, answer};
    expect("tensor 'answer_ids': dtype F16, expected I32 (token ids)");
  }
  SECTION("negative token id") {
    prompt[4] = -1;
    sample.ids["input_ids"] = {DType::I32, {16}, prompt};
    expect("tensor 'input_ids': token id -1 at position 4 is negative");
  }
  SECTION("a layer tensor stored as I32") {
    sample.dtypes["layers.0.k_answer"] = DType::I32;
    expect("tensor 'layers.0.k_answer': dtype I32 is not a float type");
  }
}

TEST_CASE("token texts of captured caches are read and validated", "[cache][sample]") {
  TempDir dir;
  const std::string path = dir.file("texts.safetensors");
  RawSample sample;  // n_tokens = 16
  // As ckv-capture writes them (json.dumps, ensure_ascii=False): BOS, words with their leading
  // space, a newline, a tab, markup, é as UTF-8, and 東 split over two byte-level pieces.
  const std::string texts =
      "[{\"special\":\"<s>\"},\"Paris\",\"\\n\",\" caf\",\"\xC3\xA9\",\" <b>\",\"&amp;\",\"\\t\",\"42\",\",\","
      "{\"hex\":\"e69d\"},{\"hex\":\"B1\"},\" \\\"x\\\"\",\" end\",\".\",\"\"]";
  sample.metadata["token_texts"] = texts;
  sample.metadata["token_text_method"] = "byte-level";
  auto expect = [&](const std::string& value, const std::string& fragment) {
    sample.metadata["token_texts"] = value;
    sample.write(path);
    CHECK_THROWS_WITH(SampleCache::open(path), Contains("texts.safetensors") && Contains(fragment));
  };
  using K = TokenText::Kind;

  SECTION("present: every entry's bytes and kind") {
    sample.write(path);
    const SampleMeta meta = SampleCache::open(path).meta();
    REQUIRE(meta.token_texts.size() == 16);
    CHECK(meta.token_text_method == "byte-level");
    CHECK(meta.token_texts[0] == TokenText{K::kSpecial, "<s>"});
    CHECK(meta.token_texts[2] == TokenText{K::kText, "\n"});
    CHECK(meta.token_texts[4] == TokenText{K::kText, "\xC3\xA9"});
    CHECK(meta.token_texts[10] == TokenText{K::kBytes, "\xE6\x9D"});
    CHECK(meta.token_texts[11] == TokenText{K::kBytes, "\xB1"});  // upper-case hex digits too
    CHECK(meta.token_texts[12] == TokenText{K::kText, " \"x\""});
    CHECK(meta.token_texts[15] == TokenText{K::kText, ""});
    // and back: the writer's value parses to the same entries (hex written in lower case)
    CHECK(parse_token_texts("x", token_texts_json(meta.token_texts), 16) == meta.token_texts);
    CHECK(token_texts_json(meta.token_texts).find("{\"hex\":\"b1\"}") != std::string::npos);
  }
  SECTION("absent (older captures, synthetic caches): empty, the sample still loads") {
    sample.metadata.erase("token_texts");
    sample.metadata.erase("token_text_method");
    sample.write(path);
    const SampleMeta meta = SampleCache::open(path).meta();
    CHECK(meta.token_texts.empty());
    CHECK(meta.token_text_method.empty());
  }
  SECTION("one entry short") {
    expect("[\"a\"]", "metadata 'token_texts' has 1 entries, expected n_tokens = 16");
  }
  SECTION("not a list") { expect("{\"a\":1}", "metadata 'token_texts' is not a JSON list"); }
  SECTION("not JSON") { expect("[\"a\",", "metadata 'token_texts' is not a JSON list"); }
  SECTION("an odd number of hex digits") {
    std::string bad = texts;
    bad.replace(bad.find("e69d"), 4, "e69");
    expect(bad, "entry 10 {\"hex\":\"e69\"} is not an even number of hex digits");
  }
  SECTION("a non-hex digit") {
    std::string bad = texts;
    bad.replace(bad.find("e69d"), 4, "zz9d");
    expect(bad, "entry 10 {\"hex\":\"zz9d\"} is not an even number of hex digits");
  }
  SECTION("an unknown entry") {
    std::string bad = texts;
    bad.replace(bad.find("{\"special\""), 10, "{\"other\"");
    expect(bad, "entry 0 {\"other\":\"<s>\"} is neither a string");
  }
  SECTION("a number") {
    std::string bad = texts;
    bad.replace(bad.find("\"42\""), 4, "42");
    expect(bad, "entry 8 42 is neither a string");
  }
}

TEST_CASE("write_sample writes token texts and the reader returns them", "[cache][sample]") {
  TempDir dir;
  SampleFixture fixture;  // n_tokens = 16
  for (int i = 0; i < 16; ++i)
    fixture.meta.token_texts.push_back(i == 5   ? TokenText{TokenText::Kind::kBytes, std::string("\xFF\x00", 2)}
                                       : i == 0 ? TokenText{TokenText::Kind::kSpecial, "<s>"}
                                                : TokenText{TokenText::Kind::kText, " w" + std::to_string(i)});
  fixture.meta.token_text_method = "synthetic";
  const std::string path = dir.file("with-texts.safetensors");
  write_sample(path, fixture.meta, fixture.layers, DType::F16);
  const SampleMeta meta = SampleCache::open(path).meta();
  CHECK(meta.token_texts == fixture.meta.token_texts);
  CHECK(meta.token_text_method == "synthetic");
  fixture.meta.token_texts.pop_back();
  CHECK_THROWS_WITH(write_sample(dir.file("bad.safetensors"), fixture.meta, fixture.layers, DType::F16),
                    Contains("15 token texts for n_tokens = 16"));
}

TEST_CASE("write_sample writes token ids and the reader returns them", "[cache][sample]") {
  TempDir dir;
  SampleFixture fixture;
  fixture.meta.input_ids.resize(16);
  for (int i = 0; i < 16; ++i) fixture.meta.input_ids[size_t(i)] = 3 * i;
  fixture.meta.answer_ids = {5, 0, 70000};
  const std::string path = dir.file("with-ids.safetensors");
  write_sample(path, fixture.meta, fixture.layers, DType::BF16);
  const SampleCache cache = SampleCache::open(path);
  CHECK(cache.meta().input_ids == fixture.meta.input_ids);
  CHECK(cache.meta().answer_ids == fixture.meta.answer_ids);
  // Byte order of Python's writer: I32 tensors sort between BF16 and F32 (descending), so they
  // come first here, before the BF16 layer tensors.
  const auto file = SafetensorsFile::open(path);
  CHECK(file->require("answer_ids").begin == 0);
  CHECK(file->require("input_ids").begin == 12);
  CHECK(file->require("layers.0.k").begin == 76);

  fixture.meta.answer_ids.pop_back();
  CHECK_THROWS_WITH(write_sample(dir.file("bad.safetensors"), fixture.meta, fixture.layers, DType::F16),
                    Contains("16 input ids and 2 answer ids for n_tokens = 16, m_answer = 3"));
}
