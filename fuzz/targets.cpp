#include "fuzz/targets.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "cache/cache_index.hpp"
#include "cache/safetensors.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "e2e/prediction_import.hpp"
#include "scheduler/spec.hpp"

namespace ckv::fuzz {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz target: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs `body`; a ckv::Error is the reader refusing the input (fine); any other exception is a
// finding: its message would not name the file, and nothing upstream expects it.
// Returns whether `body` finished (the input was accepted).
template <class Body>
bool expect_accept_or_refuse(Body&& body) {
  try {
    body();
    return true;
  } catch (const ckv::Error&) {
  } catch (const std::exception& e) {
    broken(std::string("an exception that is not a ckv::Error escaped the reader: ") + e.what());
  }
  return false;
}

// One scratch directory per process, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "ckv-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) broken("cannot create a scratch directory");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch(), ec);
    });
    return fs::path(pattern);
  }();
  return dir;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) broken("cannot write " + path.string());
}

}  // namespace

bool safetensors_file(const uint8_t* data, size_t size) {
  const fs::path path = scratch() / "sample.safetensors";
  write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  std::string fingerprint;
  const bool accepted = expect_accept_or_refuse([&] {
    auto file = SafetensorsFile::open(path.string());
    fingerprint = file->fingerprint();
    for (const auto& tensor : file->tensors()) {
      // Named copies: clang 14 cannot capture structured bindings in the lambda below.
      const std::string& name = tensor.first;
      const TensorInfo& info = tensor.second;
      if (info.end < info.begin) broken("tensor '" + name + "' ends before it begins");
      expect_accept_or_refuse([&] {
        if (info.dtype == DType::I32) {
          if (file->read_i32(name).size() != size_t(info.numel())) broken("read_i32 size of " + name);
        } else {
          size_t first = 0;
          if (file->read_f32(name, &first).size() != size_t(info.numel())) broken("read_f32 size of " + name);
          if (first > size_t(info.numel())) broken("first_non_finite past the end of " + name);
        }
      });
    }
  });
  // identify_safetensors_file never throws for a problem of the file, and agrees with open.
  expect_accept_or_refuse([&] {
    for (bool trust : {false, true}) {
      const SampleFileIdentity id = identify_safetensors_file(path.string(), trust);
      if (id.fingerprint.size() != 64) broken("identify_safetensors_file: fingerprint '" + id.fingerprint + "'");
      if (!trust && !fingerprint.empty() && id.fingerprint != fingerprint)
        broken("open and identify_safetensors_file disagree on the fingerprint");
    }
  });
  return accepted;
}

bool cache_index(const uint8_t* data, size_t size) {
  const fs::path dir = scratch() / "cache";
  const fs::path copy = scratch() / "cache-copy";
  fs::create_directories(dir);
  fs::create_directories(copy);
  write_file(dir / "index.jsonl", std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<IndexEntry> entries;
  if (!expect_accept_or_refuse([&] { entries = read_cache_index(dir.string()); })) return false;
  // What was accepted is written back and must read back the same (any refusal now is a fault:
  // the reader took a value it cannot represent).
  try {
    write_cache_index(copy.string(), entries);
    const std::vector<IndexEntry> again = read_cache_index(copy.string());
    if (again.size() != entries.size()) broken("index written back has another number of entries");
    for (size_t i = 0; i < entries.size(); ++i) {
      const IndexEntry& a = entries[i];
      const IndexEntry& b = again[i];
      if (a.id != b.id || a.task != b.task || a.path != b.path || a.n_tokens != b.n_tokens ||
          a.m_answer != b.m_answer || a.layers != b.layers || a.file_size != b.file_size)
        broken("index written back reads back differently at entry " + std::to_string(i));
    }
  } catch (const std::exception& e) {
    broken(std::string("an accepted index written back does not read back: ") + e.what());
  }
  return true;
}

bool sweep_file(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return expect_accept_or_refuse([&] {
    const CampaignSpec spec = parse_spec(text, "fuzz.toml");
    // Expanding a large grid is slow by design (the user asked for it): only small ones.
    double points = 0;
    for (const GridBlock& block : spec.grid) {
      double product = 1;
      for (const GridAxis& axis : block.axes) product *= double(axis.values.size());
      for (const ZipGroup& zip : block.zips)
        product *= zip.axes.empty() ? 1.0 : double(zip.axes.front().values.size());
      points += product * double(block.methods.empty() ? spec.methods.size() : block.methods.size());
    }
    if (points <= 512) expand_grid(spec);
  });
}

bool predictions_file(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string task = "hotpotqa";
  if (text.substr(0, 6) == "#task ") {
    const size_t end = text.find('\n');
    task = std::string(text.substr(6, end == std::string_view::npos ? std::string_view::npos : end - 6));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  std::string_view gold =
      "{\"input\": \"q\", \"context\": \"c\", \"answers\": [\"Paris\"], \"length\": 10, "
      "\"dataset\": \"hotpotqa\", \"language\": \"en\", \"all_classes\": null, \"_id\": \"h1\"}\n"
      "{\"input\": \"q\", \"context\": \"c\", \"answers\": [\"Barack Obama\", \"Obama\"], \"length\": 10, "
      "\"dataset\": \"hotpotqa\", \"language\": \"en\", \"all_classes\": [\"a\", \"b\"], \"_id\": \"h2\"}\n";
  const size_t split = text.find("\n#gold\n");
  if (split != std::string_view::npos) {
    gold = text.substr(split + 7);
    text = text.substr(0, split + 1);
  }
  const fs::path dir = scratch() / "e2e";
  fs::create_directories(dir);
  const fs::path predictions = dir / "predictions.jsonl";
  const fs::path longbench = dir / "longbench.jsonl";
  write_file(predictions, text);
  write_file(longbench, gold);

  // One database per process: a campaign and a configuration to import into.
  static Database db = [&] {
    Database opened = Database::open((scratch() / "e2e.sqlite").string(), Database::Mode::Writer);
    opened.exec("PRAGMA synchronous = OFF");
    // The configuration is one of the campaign's: it has a unit on one sample.
    ResultStore store(opened);
    const int64_t campaign = store.upsert_campaign("fuzz", "fuzz.toml", "");
    const int64_t configuration = store.upsert_configuration(std::string(64, 'a'), "snapkv", "{}");
    const int64_t sample = store.upsert_sample(SampleRow{"hotpotqa", "h1", "h1.safetensors", 10, 1, std::string(64, 'b')});
    store.ensure_units(campaign, {{configuration, sample}});
    store.flush();
    return opened;
  }();
  e2e::ImportOptions options;
  options.campaign = "fuzz";
  options.configuration = std::string(64, 'a');
  options.prediction_files = {predictions.string()};
  options.task = task;
  options.longbench = {longbench.string()};
  return expect_accept_or_refuse([&] { e2e::import_predictions(db, options); });
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", safetensors_file},
      {"cache_index", cache_index},
      {"sweep_file", sweep_file},
      {"predictions", predictions_file},
  };
  return all;
}

}  // namespace ckv::fuzz
