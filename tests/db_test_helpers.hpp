// Shared by tests/test_db_*.cpp: a scratch directory per test and small SQL probes.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

#include <sqlite3.h>

#include "db/database.hpp"
#include "support/temp_dir.hpp"

namespace ckv_test {

namespace fs = std::filesystem;

// A fresh directory removed at scope exit, so reruns never see an old database.
struct TempDir : MkdtempDir {
  TempDir() : MkdtempDir("ckv_db_test") {}
};

inline int64_t scalar_int(ckv::Database& db, const std::string& sql) {
  ckv::Statement q = db.prepare(sql);
  if (!q.step()) return -1;
  return q.column_int64(0);
}

inline std::string scalar_text(ckv::Database& db, const std::string& sql) {
  ckv::Statement q = db.prepare(sql);
  if (!q.step()) return "<no row>";
  return q.column_text(0);
}

// A connection that bypasses ckv::Database, standing for another program (sqlite3 CLI, a
// second tool) touching the same file.
struct RawConnection {
  sqlite3* db = nullptr;
  explicit RawConnection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
  }
  ~RawConnection() { sqlite3_close_v2(db); }
  int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
};

}  // namespace ckv_test
