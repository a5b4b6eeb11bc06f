#include "report/query_table.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

std::string render_query_result(const QueryResult& result, const std::string& format) {
  const size_t columns = result.columns.size();
  auto text = [](const json& v) {
    if (v.is_null()) return std::string("NULL");
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
  };
  std::string out;
  if (format == "json") {
    json rows = json::array();
    for (const auto& row : result.rows) {
      json object = json::object();
      for (size_t c = 0; c < columns; ++c) object[result.columns[c]] = row[c];
      rows.push_back(object);
    }
    return rows.dump(2) + "\n";
  }
  if (format == "csv") {
    for (size_t c = 0; c < columns; ++c) out += (c ? "," : "") + csv_quote(result.columns[c]);
    out += "\n";
    for (const auto& row : result.rows) {
      for (size_t c = 0; c < columns; ++c) out += (c ? "," : "") + (row[c].is_null() ? "" : csv_quote(text(row[c])));
      out += "\n";
    }
    return out;
  }
  CKV_CHECK(format == "table", "--format must be table, csv or json (got '{}')", format);
  std::vector<size_t> width(columns);
  for (size_t c = 0; c < columns; ++c) width[c] = result.columns[c].size();
  for (const auto& row : result.rows)
    for (size_t c = 0; c < columns; ++c) width[c] = std::max(width[c], text(row[c]).size());
  for (size_t c = 0; c < columns; ++c) out += fmt::format("{:<{}}", result.columns[c], width[c] + 2);
  out += "\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < columns; ++c) out += fmt::format("{:<{}}", text(row[c]), width[c] + 2);
    out += "\n";
  }
  out += "(" + std::to_string(result.rows.size()) + " rows)\n";
  return out;
}

}  // namespace ckv
