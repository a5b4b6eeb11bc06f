// Sweep specs as data (docs/spec/STYLE.md, DuckDB-style): tests/data/spec/good/*.toml each expand to the
// configurations listed in the matching .expected file, and tests/data/spec/bad/*.toml each fail
// with the exact message in the matching .expected file. Adding a case is adding two files.
//
// good/*.expected: '#' lines are comments; then `eval <canonical eval document>`; then one line
// per configuration, in expansion order: `<method id> <method> <params>` where <params> is the
// canonical JSON of the resolved parameters that differ from the method's defaults (the full
// resolved set is checked separately in test_spec_identity.cpp).
// bad/*.expected: the message, with the spec passed as "bad/<file>.toml".
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

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string describe(const GridPoint& c) {
  json changed = json::object();
  for (const auto& p : c.method->params)
    if (c.params.contains(p.name) && c.params.at(p.name) != p.default_value)
      changed[p.name] = c.params.at(p.name);
  return c.method_id + " " + c.method->name + " " + canonical_json(changed);
}

}  // namespace

TEST_CASE("good sweep specs expand as expected", "[spec]") {
  const auto files = cases("good");
  REQUIRE(files.size() >= 8);
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
      INFO("actual expansion:\n" << [&] {
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
