// Python `str` semantics that LongBench's scoring depends on (THUDM/LongBench metrics.py runs on
// CPython): text as code points, str.lower() (full mapping and Final_Sigma), str.split(),
// str.isspace(), and the `re` classes \w and \d of str patterns. The Unicode properties come
// from CPython itself (e2e/make_unicode_tables.py writes e2e/unicode_tables.inc).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ckv::e2e {

// UTF-8 to code points; an invalid byte becomes U+FFFD (Python would refuse the file; the JSON
// reader already rejects invalid UTF-8, so this only guards direct callers).
std::u32string to_code_points(std::string_view utf8);
std::string to_utf8(std::u32string_view text);

bool is_python_space(char32_t c);    // str.isspace()
bool is_python_word(char32_t c);     // re \w (str pattern): str.isalnum() or '_'
bool is_python_decimal(char32_t c);  // re \d (str pattern): str.isdecimal()

std::u32string python_lower(std::u32string_view text);                                   // str.lower()
std::vector<std::u32string> python_split(std::u32string_view text);                      // str.split()
std::vector<std::u32string> python_split(std::u32string_view text, char32_t separator);  // str.split(sep)

// re.findall(r"\d+", text)
std::vector<std::u32string> find_decimal_runs(std::u32string_view text);

}  // namespace ckv::e2e
