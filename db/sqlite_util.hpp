// Helpers shared by the db/ sources only (not part of the db interface): turning an SQLite
// failure into one message that names the database file and says what went wrong in words a user
// can act on.
#pragma once
#include <string>

struct sqlite3;

namespace ckv::db_detail {

// "<path>: <what> (<sqlite message>)" with common result codes spelled out: a held write lock,
// a full disk, a read-only file or directory, a file that is not a database.
std::string describe_failure(sqlite3* db, int rc, const std::string& path, const std::string& what);

// The first line of a statement, shortened, to say which statement failed.
std::string sql_excerpt(const std::string& sql);

// Throws DatabaseError (describe_failure's message) unless rc is SQLITE_OK.
void check_rc(sqlite3* db, int rc, const std::string& path, const std::string& what);

}  // namespace ckv::db_detail
