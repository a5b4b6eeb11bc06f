// Samples as data: each tests/data/cache/bad_samples/NAME.safetensors (written by
// make_bad_samples.py there) is a valid sample but for one defect, and opening it and loading its
// layers must fail with the message in NAME.expected ("FILE" stands for the file's path). No
// metric may ever be computed from such a file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cache/sample_cache.hpp"
#include "common/error.hpp"

namespace fs = std::filesystem;
using namespace ckv;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::string load_error(const std::string& path) {
  try {
    SampleCache cache = SampleCache::open(path);
    for (int layer : cache.meta().layers) cache.load_layer(layer);
  } catch (const Error& e) {
    return e.what();
  }
  return "<loaded without error>";
}

}  // namespace

TEST_CASE("bad samples fail to load with the expected message", "[cache][data]") {
  const fs::path folder = fs::path(CKV_TEST_DATA_DIR) / "cache" / "bad_samples";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 5);
  for (const fs::path& file : files) {
    SECTION(file.filename().string()) {
      fs::path expected_file = file;
      expected_file.replace_extension(".expected");
      REQUIRE(fs::exists(expected_file));
      std::string expected = read_text(expected_file);
      for (size_t at; (at = expected.find("FILE")) != std::string::npos;) expected.replace(at, 4, file.string());
      CHECK(load_error(file.string()) == expected);
    }
  }
}
