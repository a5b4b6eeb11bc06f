#include "e2e/python_text.hpp"

#include <algorithm>
#include <iterator>

namespace ckv::e2e {

namespace {

struct CodeRange {
  char32_t first, last;
};
struct LowerMapping {
  char32_t from, to, second;  // second: 0 unless the lowercase has two code points (U+0130)
};

#include "e2e/unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(table), std::end(table), c,
                             [](char32_t value, const CodeRange& r) { return value < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

const LowerMapping* find_lower(char32_t c) {
  auto it = std::lower_bound(std::begin(kLowercase), std::end(kLowercase), c,
                             [](const LowerMapping& m, char32_t value) { return m.from < value; });
  return it != std::end(kLowercase) && it->from == c ? &*it : nullptr;
}

bool is_case_ignorable(char32_t c) { return in_ranges(kCaseIgnorable, c); }
bool is_cased(char32_t c) { return in_ranges(kCasedNotIgnorable, c); }  // consulted only for non-ignorable

// CPython unicodeobject.c handle_capital_sigma: U+03A3 lowers to final sigma when preceded by a
// cased letter and not followed by one, case-ignorable characters skipped both ways.
char32_t lower_capital_sigma(std::u32string_view text, size_t i) {
  size_t j = i;
  while (j > 0 && is_case_ignorable(text[j - 1])) --j;
  bool final_sigma = j > 0 && is_cased(text[j - 1]);
  if (final_sigma) {
    size_t k = i + 1;
    while (k < text.size() && is_case_ignorable(text[k])) ++k;
    final_sigma = k == text.size() || !is_cased(text[k]);
  }
  return final_sigma ? U'\u03C2' : U'\u03C3';
}

}  // namespace

std::u32string to_code_points(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b = s[i];
    int extra = b < 0x80 ? 0 : (b >> 5) == 0x6 ? 1
                           : (b >> 4) == 0xE   ? 2
                           : (b >> 3) == 0x1E  ? 3
                                               : -1;
    char32_t c = extra == 0 ? b : extra == 1 ? (b & 0x1F)
                              : extra == 2   ? (b & 0x0F)
                                             : (b & 0x07);
    bool ok = extra >= 0 && i + extra < s.size();
    for (int k = 1; ok && k <= extra; ++k) {
      const unsigned char t = s[i + k];
      if ((t & 0xC0) != 0x80) ok = false;
      else c = (c << 6) | (t & 0x3F);
    }
    if (!ok) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    out.push_back(c);
    i += extra + 1;
  }
  return out;
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | (c >> 12));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | (c >> 18));
      out += char(0x80 | ((c >> 12) & 0x3F));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

bool is_python_space(char32_t c) { return in_ranges(kWhitespace, c); }
bool is_python_word(char32_t c) { return in_ranges(kWord, c); }
bool is_python_decimal(char32_t c) { return in_ranges(kDecimal, c); }

std::u32string python_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\u03A3') {
      out.push_back(lower_capital_sigma(text, i));
    } else if (const LowerMapping* m = find_lower(c)) {
      out.push_back(m->to);
      if (m->second) out.push_back(m->second);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::u32string> python_split(std::u32string_view text) {
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_python_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_python_space(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::vector<std::u32string> python_split(std::u32string_view text, char32_t separator) {
  std::vector<std::u32string> out;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      out.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::vector<std::u32string> find_decimal_runs(std::u32string_view text) {
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < text.size()) {
    if (!is_python_decimal(text[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < text.size() && is_python_decimal(text[i])) ++i;
    out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace ckv::e2e
