// "did you mean ...?" for a mistyped name: the closest of the valid names by edit distance.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ckv {

// Levenshtein distance (insertions, deletions, substitutions, each 1), case-sensitive.
size_t edit_distance(const std::string& a, const std::string& b);

// The valid name closest to `word`, when it is close enough to be a slip of the keyboard: at
// most 1 edit for names up to 4 characters, 2 up to 8, 3 beyond. Ties go to the first in
// `valid`; nothing when `word` is valid itself or no name is that close.
std::optional<std::string> closest_name(const std::string& word, const std::vector<std::string>& valid);

// " (did you mean 'budget'?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& valid);

}  // namespace ckv
