// `ckv-sweep query DB "SQL"`: read-only SQL (the connection is opened read-only, so a query
// can never modify results and never blocks the writer).
#include <iostream>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "report/query_table.hpp"
#include "tools/ckv_sweep/commands.hpp"
#include "tools/ckv_sweep/options.hpp"

namespace ckv::cli {

int query_command(int argc, char** argv) {
  po::options_description options("query options");
  std::string db_path, sql, format = "table";
  options.add_options()("db", po::value(&db_path)->required(), "database file")("sql", po::value(&sql)->required(), "SQL statement")("format", po::value(&format)->default_value("table"), "table | csv | json");
  po::positional_options_description positional;
  positional.add("db", 1).add("sql", 1);
  po::variables_map vm;
  if (!parse_options(argc, argv, "ckv-sweep query DB \"SQL\" [--format table|csv|json]", options, positional, vm))
    return kExitOk;
  usage_check(format == "table" || format == "csv" || format == "json", "query",
              "--format must be table, csv or json (got '" + format + "')");

  Database db = Database::open(db_path, Database::Mode::ReadOnly);
  std::cout << render_query_result(run_query(db, sql), format);
  return kExitOk;
}

}  // namespace ckv::cli
