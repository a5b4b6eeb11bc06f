// Sweep specs as data (docs/spec/STYLE.md, DuckDB-style): tests/data/spec/good/*.toml each expand to the
// configurations listed in the matching .expected file, and tests/data/spec/bad/*.toml each fail
// with the exact message in the matching .expected file. Adding a case is adding two files.
//
// good/*.expected: '#' lines are comments; then `eval <canonical eval document>`; then one line
// per configuration, in expansion order: `<method id> <method> <params>` where <params> is the
// canonical JSON of the resolved parameters that differ from the method's defaults (the full
// resolved set is checked separately in test_spec_identity.cpp).
// bad/*.expected: the message, with the spec passed as "bad/<file>.toml". Both run in
// tests/data/spec, so `include`d files (kept in good/include/ and bad/include/, which are not
// cases themselves) are read from there.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "scheduler/spec.hpp"

namespace fs = std::filesystem;
using namespace ckv;

namespace {

const fs::path kSpecData = fs::path(CKV_TEST_DATA_DIR) / "spec";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<fs::path> cases(const std::string& folder) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kSpecData / folder))
    if (entry.path().extension() == ".toml") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Runs in tests/data/spec, so that "good/x.toml" names the file itself and its `include`s resolve.
struct InSpecData {
  fs::path before = fs::current_path();
  InSpecData() { fs::current_path(kSpecData); }
  ~InSpecData() { fs::current_path(before); }
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string describe(const GridPoint& c) {
  json changed = json::object();
  for (const auto& p : c.method->params)
    if (c.params.contains(p.key()) && c.params.at(p.key()) != p.default_value)
      changed[p.name] = c.params.at(p.key());
  return c.method_id + " " + c.method->name + " " + canonical_json(changed);
}

}  // namespace

TEST_CASE("good sweep specs expand as expected", "[spec]") {
  const auto files = cases("good");
  REQUIRE(files.size() >= 8);
  InSpecData in_spec_data;
  for (const auto& file : files) {
    const std::string name = "good/" + file.filename().string();
    SECTION(name) {
      fs::path expected_path = file;
      expected_path.replace_extension(".expected");
      std::vector<std::string> expected;
      std::istringstream lines(read_text(expected_path));
      for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line[0] != '#') expected.push_back(trim(line));

      CampaignSpec spec = parse_spec(read_text(file), name);
      std::vector<std::string> actual = {"eval " + canonical_json(eval_settings(spec).to_json())};
      for (const auto& c : expand_grid(spec)) actual.push_back(describe(c));
      INFO("actual expansion:\n"
           << [&] {
                std::string all;
                for (const auto& a : actual) all += a + "\n";
                return all;
              }());
      CHECK(actual == expected);
    }
  }
}

TEST_CASE("bad sweep specs fail with the expected message", "[spec]") {
  const auto files = cases("bad");
  REQUIRE(files.size() >= 12);
  InSpecData in_spec_data;
  for (const auto& file : files) {
    const std::string name = "bad/" + file.filename().string();
    SECTION(name) {
      fs::path expected_path = file;
      expected_path.replace_extension(".expected");
      const std::string expected = trim(read_text(expected_path));
      std::string actual = "(no error)";
      try {
        CampaignSpec spec = parse_spec(read_text(file), name);
        expand_grid(spec);
      } catch (const InputError& e) {
        actual = e.what();
      }
      CHECK(actual == expected);
    }
  }
}

TEST_CASE("an included block gives the configurations, hashes included, of the same block inline", "[spec]") {
  InSpecData in_spec_data;
  const CampaignSpec included = load_spec("good/include.toml");
  const CampaignSpec inline_ = load_spec("good/include_inline.toml");
  const auto a = expand_grid(included), b = expand_grid(inline_);
  REQUIRE(a.size() == 2);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].hash == b[i].hash);
  CHECK(included.data.cache_dir == "cache/demo");
  CHECK(included.data.synthetic.has_value());
  CHECK(included.topk == 8);
  // The database records every file that defined the campaign.
  CHECK(included.text.find("# ---- included from good/include/shared_data.toml ----") != std::string::npos);
  CHECK(included.text.find("# ---- included from good/include/metrics.toml ----") != std::string::npos);
}

TEST_CASE("the sweeps in sweeps/ keep their configuration hashes", "[spec]") {
  // tests/data/spec/sweep_hashes/<name>.txt: the 12-digit hash prefixes `plan --list` printed
  // before the sweeps shared their data block through `include`, in expansion order. They were
  // numerics-2 configurations: the same points under numerics 2 keep those hashes (a later
  // numerics changes every hash by design, docs/numerics.md).
  const fs::path sweeps = fs::path(CKV_SOURCE_DIR) / "sweeps";
  size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(kSpecData / "sweep_hashes")) {
    const std::string name = entry.path().stem().string();
    SECTION(name) {
      std::vector<std::string> expected;
      std::istringstream lines(read_text(entry.path()));
      for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line[0] != '#') expected.push_back(trim(line));
      std::vector<std::string> actual;
      for (const auto& c : expand_grid(load_spec((sweeps / (name + ".toml")).string())))
        actual.push_back(c.hash_under_numerics(2).substr(0, 12));
      CHECK(actual == expected);
    }
    ++checked;
  }
  CHECK(checked == 8);
}
