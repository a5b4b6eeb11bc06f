// A table of already-formatted cells rendered as markdown, CSV or LaTeX (booktabs), the formats
// of `report`, for the analysis commands (`compare`; JSON is each command's own structured
// document). Label columns are left-aligned, the others right-aligned.
#pragma once
#include <string>
#include <vector>

namespace ckv {

struct TextTable {
  std::string title;  // markdown: a bold first line; LaTeX: a comment; CSV: not shown
  std::vector<std::string> header;
  size_t label_columns = 1;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // after the table (markdown paragraphs, LaTeX comments); not in CSV
};

// format: markdown | csv | latex. Throws ckv::Error for another.
std::string render_text_table(const TextTable& table, const std::string& format);

// LaTeX special characters of a cell escaped (_ % & # $ { } ~ ^ \).
std::string latex_escape(const std::string& text);

}  // namespace ckv
