// Every input of the fuzz targets' seed corpora (fuzz/corpus/<target>/) and every input a fuzzer
// once found a fault with (fuzz/regressions/<target>/), replayed through the same target
// functions libFuzzer runs (fuzz/targets.hpp): each must be accepted or refused with a
// ckv::Error, and what is accepted must be self-consistent. A broken property aborts the test
// (the fault the input once caused); under the sanitizer build (scripts/sanitize.sh) a memory
// or undefined-behaviour error does too.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs_of(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("every fuzz target's seed corpus and regression inputs replay without a fault", "[fuzz]") {
  const fs::path root = fs::path(CKV_SOURCE_DIR) / "fuzz";
  for (const ckv::fuzz::Target& target : ckv::fuzz::targets()) {
    const auto seeds = inputs_of(root / "corpus" / target.name);
    // A target without seeds would be fuzzed from nothing and replay nothing here.
    INFO("fuzz/corpus/" << target.name);
    CHECK(seeds.size() >= 3);
    auto all = seeds;
    const auto found = inputs_of(root / "regressions" / target.name);
    all.insert(all.end(), found.begin(), found.end());
    size_t accepted = 0;
    for (const fs::path& input : all) {
      INFO(input.string());
      const std::string bytes = bytes_of(input);
      if (target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) ++accepted;
    }
    // The seeds reach past the first refusal: some are valid files the reader accepts.
    CHECK(accepted >= 1);
  }
}
