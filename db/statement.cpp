// Statements and SQLite's failures in words (db/sqlite_util.hpp).
#include <sqlite3.h>

#include <cstring>

#include <fmt/format.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/sqlite_util.hpp"

namespace ckv {

namespace db_detail {

std::string describe_failure(sqlite3* db, int rc, const std::string& path, const std::string& what) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int system_errno = db ? sqlite3_system_errno(db) : 0;
  std::string explanation;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      explanation = "database is locked by another writer";
      break;
    case SQLITE_FULL:
      explanation = "disk full";
      break;
    case SQLITE_READONLY:
      explanation = "database is read-only (read-only file, directory or file system)";
      break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      explanation = "permission denied";
      break;
    case SQLITE_CANTOPEN:
      explanation = "cannot open the database file";
      break;
    case SQLITE_NOTADB:
      explanation = "not an SQLite database";
      break;
    case SQLITE_CORRUPT:
      explanation = "database file is corrupt";
      break;
    case SQLITE_IOERR:
      explanation = "I/O error";
      break;
    default:
      break;
  }
  std::string message = fmt::format("{}: {}", path, what);
  if (!explanation.empty()) message += ": " + explanation;
  message += " (" + detail;
  if (system_errno != 0 && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR ||
                            (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_FULL))
    message += fmt::format("; {}", std::strerror(system_errno));
  message += ")";
  return message;
}

std::string sql_excerpt(const std::string& sql) {
  std::string line;
  for (char c : sql) {
    if (c == '\n') {
      if (!line.empty()) break;
      continue;
    }
    line += c;
  }
  size_t start = line.find_first_not_of(' ');
  line = start == std::string::npos ? "" : line.substr(start);
  if (line.size() > 60) line = line.substr(0, 57) + "...";
  return line;
}

void check_rc(sqlite3* db, int rc, const std::string& path, const std::string& what) {
  if (rc != SQLITE_OK) throw DatabaseError(describe_failure(db, rc, path, what), rc);
}

}  // namespace db_detail

using db_detail::check_rc;
using db_detail::describe_failure;
using db_detail::sql_excerpt;

Statement::Statement(sqlite3* db, const std::string& sql, const std::string& db_path)
    : db_(db), db_path_(db_path) {
  int rc = sqlite3_prepare_v2(db, sql.c_str(), int(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = describe_failure(db, rc, db_path, "cannot prepare `" + sql_excerpt(sql) + "`");
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw DatabaseError(message, rc);
  }
  CKV_CHECK(stmt_ != nullptr, "{}: empty SQL statement", db_path);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), db_path_(std::move(other.db_path_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, int64_t value) {
  check_rc(db_, sqlite3_bind_int64(stmt_, index, value), db_path_, "cannot bind a parameter");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_rc(db_, sqlite3_bind_double(stmt_, index, value), db_path_, "cannot bind a parameter");
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  check_rc(db_, sqlite3_bind_text(stmt_, index, value.data(), int(value.size()), SQLITE_TRANSIENT),
           db_path_, "cannot bind a parameter");
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_rc(db_, sqlite3_bind_null(stmt_, index), db_path_, "cannot bind a parameter");
  return *this;
}

Statement& Statement::bind(int index, std::optional<double> value) {
  return value ? bind(index, *value) : bind_null(index);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string message =
      describe_failure(db_, rc, db_path_, "`" + sql_excerpt(sqlite3_sql(stmt_)) + "` failed");
  // Leave the statement reusable after the caller handles the error.
  sqlite3_reset(stmt_);
  throw DatabaseError(message, rc);
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  // sqlite3_reset repeats the last step's error code, already reported by step().
  sqlite3_reset(stmt_);
  check_rc(db_, sqlite3_clear_bindings(stmt_), db_path_, "cannot clear bindings");
}

int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text), size_t(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<double> Statement::column_optional_double(int column) const {
  if (column_is_null(column)) return std::nullopt;
  return column_double(column);
}

}  // namespace ckv
