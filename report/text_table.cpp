#include "report/text_table.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "report/query_table.hpp"

namespace ckv {

namespace {

// Display width of UTF-8 text: code points, not bytes (±, −, τ, ρ are one column).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad(const std::string& s, size_t width, bool left) {
  const size_t w = display_width(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return left ? s + fill : fill + s;
}

}  // namespace

std::string latex_escape(const std::string& text) {
  // The few non-ASCII symbols the tables use, as math (pdfLaTeX's utf8 input knows none of them).
  static const std::pair<const char*, const char*> kSymbols[] = {
      {"\u2212", "$-$"}, {"\u00b1", "$\\pm$"}, {"\u03c1", "$\\rho$"}, {"\u03c4", "$\\tau$"}, {"\u221e", "$\\infty$"}};
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    bool symbol = false;
    for (const auto& [utf8, latex] : kSymbols)
      if (text.compare(i, std::char_traits<char>::length(utf8), utf8) == 0) {
        out += latex;
        i += std::char_traits<char>::length(utf8) - 1;
        symbol = true;
        break;
      }
    if (symbol) continue;
    const char c = text[i];
    switch (c) {
      case '_':
      case '%':
      case '&':
      case '#':
      case '$':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_text_table(const TextTable& t, const std::string& format) {
  std::string out;
  if (format == "csv") {
    for (size_t c = 0; c < t.header.size(); ++c) out += (c ? "," : "") + csv_quote(t.header[c]);
    out += "\n";
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + csv_quote(row[c]);
      out += "\n";
    }
    return out;
  }
  if (format == "latex") {
    if (!t.title.empty()) out += "% " + t.title + "\n";
    out += "\\begin{tabular}{" + std::string(t.label_columns, 'l') +
           std::string(t.header.size() - std::min(t.label_columns, t.header.size()), 'r') + "}\n\\toprule\n";
    for (size_t c = 0; c < t.header.size(); ++c) out += (c ? " & " : "") + latex_escape(t.header[c]);
    out += " \\\\\n\\midrule\n";
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? " & " : "") + latex_escape(row[c]);
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
    for (const auto& note : t.notes) out += "% " + note + "\n";
    return out;
  }
  CKV_CHECK(format == "markdown", "format must be markdown, csv, json or latex (got '{}')", format);
  std::vector<size_t> width(t.header.size());
  for (size_t c = 0; c < width.size(); ++c) width[c] = std::max<size_t>(3, display_width(t.header[c]));
  for (const auto& row : t.rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t c = 0; c < cells.size(); ++c) s += " " + pad(cells[c], width[c], c < t.label_columns) + " |";
    return s + "\n";
  };
  if (!t.title.empty()) out += "**" + t.title + "**\n\n";
  out += line(t.header);
  std::string rule = "|";
  for (size_t c = 0; c < width.size(); ++c)
    rule += c < t.label_columns ? std::string(width[c] + 2, '-') + "|" : std::string(width[c] + 1, '-') + ":|";
  out += rule + "\n";
  for (const auto& row : t.rows) out += line(row);
  for (const auto& note : t.notes) out += "\n" + note + "\n";
  return out;
}

}  // namespace ckv
