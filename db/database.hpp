// SQLite access (docs/spec/MISSION.md R7). One writer connection (rank 0 / the embedded scheduler), readers open
// read-only and never stall the writer (WAL). Every SQLite call is checked; messages name the
// database file.
#pragma once
#include <sys/types.h>
#include <cstdint>

#include <optional>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "db/schema.hpp"  // kSchemaVersion

struct sqlite3;
struct sqlite3_stmt;

namespace ckv {

// A failed SQLite call: the message names the database file; `code` is SQLite's (extended)
// result code, for callers that retry what may pass (a held lock, a full disk).
class DatabaseError : public Error {
 public:
  DatabaseError(const std::string& message, int code) : Error(message), code(code) {}
  int code;
  int primary_code() const { return code & 0xff; }
};

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& db_path);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, int64_t(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bind_null(int index);
  Statement& bind(int index, std::optional<double> value);

  bool step();   // true while a row is available
  void run();    // step to completion (for statements returning no rows)
  void reset();  // reset and clear bindings for reuse

  int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  bool column_is_null(int column) const;
  std::optional<double> column_optional_double(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string db_path_;
};

class Database {
 public:
  enum class Mode { Writer,
                    ReadOnly };
  // Writer: creates the file (and its parent directory), WAL mode, busy timeout, applies
  // migrations up to kSchemaVersion. ReadOnly: opens with SQLITE_OPEN_READONLY, refuses a
  // file that does not exist or whose schema is newer than this binary knows.
  static Database open(const std::string& path, Mode mode);
  ~Database();
  Database(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t last_insert_id() const;
  int schema_version();

 private:
  Database() = default;
  static Database open_writer(const std::string& path);
  static Database open_reader(const std::string& path);
  void lock_for_writing();
  void configure_writer();

  sqlite3* db_ = nullptr;
  std::string path_;
  // Writer: a descriptor of the database file itself, flock'd exclusively while open (one
  // writer per file, whatever path names it), and of "<real path>-lock" (who holds it; removed
  // when the writer closes).
  int file_fd_ = -1;
  int holder_fd_ = -1;
  std::string holder_path_;
  std::optional<std::pair<dev_t, ino_t>> file_key_;  // the file's identity while open
};

// "pid N on host H" of the writer that holds the database file's lock, nullopt when none does.
// Safe to call in a process that has the database open.
std::optional<std::string> database_writer(const std::string& path);

// BEGIN IMMEDIATE ... COMMIT; rolls back if destroyed without commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace ckv
