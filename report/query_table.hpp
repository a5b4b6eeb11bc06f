// Rendering rows of `ckv-sweep query` (table, csv, json), and the CSV quoting every CSV output
// of ckv-sweep uses (RFC 4180: fields with a comma, quote or newline are quoted, quotes doubled).
#pragma once
#include <string>

#include "db/queries.hpp"

namespace ckv {

std::string csv_quote(const std::string& field);

// format: table | csv | json. NULL is "NULL" in a table, empty in CSV, null in JSON.
std::string render_query_result(const QueryResult& result, const std::string& format);

}  // namespace ckv
