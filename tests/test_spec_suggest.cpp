// "did you mean ...?" for misspelt sweep-file keys and command names (common/suggest.hpp):
// Levenshtein distances checked against hand-computed values and an exhaustive recursive
// definition on short strings.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "common/suggest.hpp"

using namespace ckv;

namespace {

// The textbook recursion, exponential but obviously right on short strings.
size_t slow_distance(const std::string& a, const std::string& b) {
  if (a.empty()) return b.size();
  if (b.empty()) return a.size();
  const std::string ra = a.substr(1), rb = b.substr(1);
  if (a[0] == b[0]) return slow_distance(ra, rb);
  return 1 + std::min({slow_distance(ra, b), slow_distance(a, rb), slow_distance(ra, rb)});
}

}  // namespace

TEST_CASE("edit distance: hand-computed values", "[spec]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("budget", "budget") == 0);
  CHECK(edit_distance("budgets", "budget") == 1);  // one deletion
  CHECK(edit_distance("kitten", "sitting") == 3);  // k->s, e->i, +g
  CHECK(edit_distance("stauts", "status") == 2);   // two substitutions
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("flaw", "lawn") == 2);
}

TEST_CASE("edit distance equals the recursive definition on every pair of short strings", "[spec]") {
  std::vector<std::string> words = {""};
  for (size_t len = 1; len <= 3; ++len) {
    std::vector<std::string> next;
    for (const auto& w : words)
      if (w.size() == len - 1)
        for (char c : {'a', 'b', 'c'}) next.push_back(w + c);
    words.insert(words.end(), next.begin(), next.end());
  }
  REQUIRE(words.size() == 1 + 3 + 9 + 27);
  for (const auto& a : words)
    for (const auto& b : words) REQUIRE(edit_distance(a, b) == slow_distance(a, b));
}

TEST_CASE("closest_name suggests only a near slip, never the word itself", "[spec]") {
  const std::vector<std::string> keys = {"budget", "window", "sink_size", "budget_mode", "kernel"};
  CHECK(closest_name("budgets", keys) == std::optional<std::string>("budget"));
  CHECK(closest_name("kernal", keys) == std::optional<std::string>("kernel"));
  CHECK(closest_name("budget", keys) == std::nullopt);       // valid already
  CHECK(closest_name("temperature", keys) == std::nullopt);  // nothing close
  CHECK(closest_name("thr", {"threads"}) == std::nullopt);   // a prefix is not a slip
  CHECK(closest_name("ab", {"xy"}) == std::nullopt);         // 2 edits on a short name: too far
  CHECK(did_you_mean("budgets", keys) == " (did you mean 'budget'?)");
  CHECK(did_you_mean("zzz", keys).empty());
}
