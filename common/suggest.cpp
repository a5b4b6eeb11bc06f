#include "common/suggest.hpp"

#include <algorithm>

namespace ckv {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest_name(const std::string& word, const std::vector<std::string>& valid) {
  const size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2
                                                               : 3;
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const std::string& name : valid) {
    const size_t d = edit_distance(word, name);
    if (d == 0) return std::nullopt;
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& valid) {
  const auto name = closest_name(word, valid);
  return name ? " (did you mean '" + *name + "'?)" : std::string();
}

}  // namespace ckv
