// Planning as data: what planning can know is refused before any work. Each
// tests/data/cache/planning/NAME.jsonl is an index.jsonl put over one small synthetic cache (made
// here with fixed options, so its n_tokens are known); NAME.toml, when present, is the spec (else
// a plain one); NAME.expected is the message plan_samples must give ("ok: N samples" when it
// plans), with CACHE for the cache directory and SPEC for the spec file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cache/synthetic.hpp"
#include "common/error.hpp"
#include "scheduler/campaign.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ckv;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
  return text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

const char* kPlainSpec =
    "[campaign]\nname = \"planning\"\ndatabase = \"planning.sqlite\"\n"
    "[data]\ncache = \"CACHE\"\n[[methods]]\nname = \"snapkv\"\n";

}  // namespace

TEST_CASE("planning refuses what it can know, naming the index line and the file", "[spec][data]") {
  ckv_test::MkdtempDir dir("ckv-planning-test");
  const std::string cache = dir.file("cache");
  SynthOptions options;
  options.out_dir = cache;
  options.tasks = {"synth-needle", "synth-multihop"};
  options.samples_per_task = 2;
  options.tokens = 256;
  options.heads = 2;
  options.kv_heads = 1;
  options.head_dim = 32;
  options.layers = {0, 1};
  options.answer_tokens = 2;
  options.seed = 5;
  REQUIRE(generate_synthetic_cache(options) == 4);

  const fs::path folder = fs::path(CKV_TEST_DATA_DIR) / "cache" / "planning";
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().extension() == ".jsonl") cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() >= 8);
  for (const fs::path& index : cases) {
    SECTION(index.stem().string()) {
      fs::path spec_source = index, expected_file = index;
      spec_source.replace_extension(".toml");
      expected_file.replace_extension(".expected");
      const std::string spec_path = dir.file("spec.toml");
      std::ofstream(spec_path) << replace_all(fs::exists(spec_source) ? read_text(spec_source) : kPlainSpec,
                                              "CACHE", cache);
      fs::copy_file(index, fs::path(cache) / "index.jsonl", fs::copy_options::overwrite_existing);
      std::string got;
      try {
        got = "ok: " + std::to_string(plan_samples(load_spec(spec_path)).size()) + " samples";
      } catch (const Error& e) {
        got = e.what();
      }
      got = replace_all(replace_all(got, spec_path, "SPEC"), cache, "CACHE");
      CHECK(got == trim(read_text(expected_file)));
    }
  }
}
