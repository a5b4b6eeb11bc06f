// LongBench v1 JSONL reader: the fields of a real line, and each malformed line rejected with
// FILE:LINE and the field.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cache/longbench.hpp"
#include "common/error.hpp"

namespace fs = std::filesystem;
using namespace ckv;
using Catch::Matchers::Contains;

namespace {

const std::string kSample = std::string(CKV_TEST_DATA_DIR) + "/cache/longbench_sample.jsonl";

struct TempFile {
  fs::path dir, path;
  TempFile() {
    std::string pattern = (fs::temp_directory_path() / "ckv-longbench-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    path = dir / "bad.jsonl";
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& text) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
};

const std::string kGoodLine =
    R"({"input": "q?", "context": "ctx", "answers": ["a"], "length": 3, "dataset": "trec", )"
    R"("language": "en", "all_classes": ["a", "b"], "_id": "id-1"})";

// kGoodLine with one field's value replaced (or the field removed when value is empty).
std::string with_field(const std::string& field, const std::string& value) {
  std::string line = kGoodLine;
  const std::string key = "\"" + field + "\": ";
  const size_t start = line.find(key);
  REQUIRE(start != std::string::npos);
  const std::vector<std::string> order = {"input", "context", "answers", "length", "dataset",
                                          "language", "all_classes", "_id"};
  const auto next = std::find(order.begin(), order.end(), field) + 1;
  const size_t end = next == order.end() ? line.size() - 1  // last field, before '}'
                                         : line.find(", \"" + *next + "\"", start);
  if (value.empty()) {
    const bool last = line[end] == '}';
    return last ? line.substr(0, start - 2) + "}" : line.substr(0, start) + line.substr(end + 2);
  }
  return line.substr(0, start + key.size()) + value + line.substr(end);
}

}  // namespace

TEST_CASE("LongBench JSONL: real-format lines", "[cache][longbench]") {
  const auto samples = read_longbench_jsonl(kSample);
  REQUIRE(samples.size() == 3);

  const LongBenchSample& hotpot = samples[0];
  CHECK(hotpot.dataset == "hotpotqa");
  CHECK(hotpot.language == "en");
  CHECK(hotpot.input == "Which magazine was started first, Arthur's Magazine or First for Women?");
  CHECK(hotpot.context.rfind("Passage 1:\nArthur's Magazine (1844–1846)", 0) == 0);
  CHECK(hotpot.answers == std::vector<std::string>{"Arthur's Magazine"});
  CHECK(hotpot.length == 41);
  CHECK(hotpot.all_classes.empty());  // null in LongBench
  CHECK(hotpot.id == "9bd3d1d6f0a2e0c4bd0b5e9d2a4d5b0c1e3f7a8b9c0d1e2f");

  const LongBenchSample& trec = samples[1];
  CHECK(trec.dataset == "trec");
  CHECK(trec.all_classes == std::vector<std::string>{"Distance", "City", "Country", "Other location"});
  CHECK(trec.answers == std::vector<std::string>{"City"});

  const LongBenchSample& lcc = samples[2];
  CHECK(lcc.input.empty());
  CHECK(lcc.language == "python");
  CHECK(lcc.answers[0] == "        self.count += 1");

  const auto found = find_longbench_sample(samples, trec.id);
  REQUIRE(found.has_value());
  CHECK(found->dataset == "trec");
  CHECK_FALSE(find_longbench_sample(samples, "nope").has_value());
}

TEST_CASE("LongBench JSONL: the helper edits lines as intended", "[cache][longbench]") {
  CHECK(parse_longbench_line(kGoodLine, "x:1").id == "id-1");
  CHECK(with_field("length", "7") == R"({"input": "q?", "context": "ctx", "answers": ["a"], "length": 7, "dataset": "trec", )"
                                     R"("language": "en", "all_classes": ["a", "b"], "_id": "id-1"})");
  CHECK(with_field("_id", "") == R"({"input": "q?", "context": "ctx", "answers": ["a"], "length": 3, "dataset": "trec", )"
                                 R"("language": "en", "all_classes": ["a", "b"]})");
  CHECK(with_field("input", "") == R"({"context": "ctx", "answers": ["a"], "length": 3, "dataset": "trec", )"
                                   R"("language": "en", "all_classes": ["a", "b"], "_id": "id-1"})");
}

TEST_CASE("LongBench JSONL: malformed lines name file, line and field", "[cache][longbench]") {
  TempFile file;
  const std::string name = file.path.string();
  auto expect = [&](const std::string& bad_line, const std::string& fragment) {
    // Line 1 good, line 2 blank (skipped but counted), line 3 bad.
    file.write(kGoodLine + "\n\n" + bad_line + "\n");
    CHECK_THROWS_AS(read_longbench_jsonl(name), InputError);
    CHECK_THROWS_WITH(read_longbench_jsonl(name), Contains(name + ":3: " + fragment));
  };
  SECTION("blank lines are skipped") {
    file.write(kGoodLine + "\n\n" + kGoodLine + "\n\n");
    CHECK(read_longbench_jsonl(name).size() == 2);
  }
  SECTION("invalid JSON") { expect(R"({"input": "q?", )", "invalid JSON"); }
  SECTION("a number out of range") { expect(R"({"input": "q?", "length": 1e99999})", "invalid JSON"); }
  SECTION("not an object") { expect(R"(["input"])", "expected a JSON object, got array"); }
  SECTION("missing field") { expect(with_field("context", ""), "field 'context' is missing"); }
  SECTION("missing _id") { expect(with_field("_id", ""), "field '_id' is missing"); }
  SECTION("answers not a list") { expect(with_field("answers", R"("a")"), "field 'answers' must be a list of strings, got string"); }
  SECTION("answer not a string") { expect(with_field("answers", R"(["a", 2])"), "field 'answers': element 1 must be a string, got number"); }
  SECTION("length not an integer") { expect(with_field("length", R"("3")"), "field 'length' must be a non-negative integer, got \"3\""); }
  SECTION("negative length") { expect(with_field("length", "-1"), "field 'length' must be a non-negative integer, got -1"); }
  SECTION("all_classes wrong type") { expect(with_field("all_classes", "3"), "field 'all_classes' must be a list of strings, got number"); }
  SECTION("input wrong type") { expect(with_field("input", "null"), "field 'input' must be a string, got null"); }
  SECTION("empty id") { expect(with_field("_id", R"("")"), "field '_id' is empty"); }
  SECTION("missing file") {
    CHECK_THROWS_WITH(read_longbench_jsonl((file.dir / "absent.jsonl").string()),
                      Contains("absent.jsonl") && Contains("cannot open"));
  }
}
