// Schema versions of a database file: the writer migrates it to kSchemaVersion, a reader
// refuses any other version (docs/database.md, "Schema").
#include "db/schema_version.hpp"

#include <sqlite3.h>

#include <optional>

#include <spdlog/spdlog.h>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/schema.hpp"

namespace ckv::db_detail {

namespace {

bool table_exists(Database& db, const std::string& name) {
  Statement q = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  q.bind(1, name);
  return q.step();
}

int user_table_count(Database& db) {
  Statement q = db.prepare(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  q.step();
  return int(q.column_int64(0));
}

}  // namespace

void migrate(Database& db) {
  std::optional<Transaction> transaction;
  try {
    transaction.emplace(db);
  } catch (const Error&) {
    if ((sqlite3_errcode(db.handle()) & 0xff) == SQLITE_BUSY)
      CKV_FAIL(
          "{}: database is locked by another writer (another program has held SQLite's "
          "write lock for over a second); run again when it has finished",
          db.path());
    throw;
  }
  int version = 0;
  if (table_exists(db, "schema_version")) {
    version = db.schema_version();
  } else if (user_table_count(db) > 0) {
    CKV_FAIL("{}: not a ckv-sweep database (it has tables but no schema_version table)",
             db.path());
  }
  CKV_CHECK(version <= kSchemaVersion,
            "{}: database schema version {} is newer than this ckv-sweep knows ({}); use a newer "
            "build",
            db.path(), version, kSchemaVersion);
  for (const Migration& migration : migrations()) {
    if (migration.version <= version) continue;
    spdlog::info("{}: migrating schema to version {} ({})", db.path(), migration.version,
                 migration.description);
    db.exec(migration.sql);
    Statement bump = db.prepare(
        "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)");
    bump.bind(1, int64_t(migration.version))
        .bind(2, now_seconds())
        .bind(3, migration.description);
    bump.run();
  }
  Statement task = db.prepare(
      "INSERT OR IGNORE INTO tasks (name, category, e2e_metric, synthetic) VALUES (?, ?, ?, ?)");
  for (const TaskInfo& info : known_tasks()) {
    task.bind(1, info.name).bind(2, info.category).bind(3, info.e2e_metric);
    task.bind(4, int64_t(info.synthetic ? 1 : 0));
    task.run();
    task.reset();
  }
  transaction->commit();
}

void check_readable_version(Database& db) {
  if (!table_exists(db, "schema_version"))
    CKV_FAIL("{}: not a ckv-sweep database (no schema_version table)", db.path());
  int version = db.schema_version();
  CKV_CHECK(version <= kSchemaVersion,
            "{}: database schema version {} is newer than this ckv-sweep knows ({}); use a newer "
            "build",
            db.path(), version, kSchemaVersion);
  CKV_CHECK(version == kSchemaVersion,
            "{}: database schema version {} is older than this ckv-sweep's ({}); run a campaign "
            "on it (the writer migrates it) before reading it with this build",
            db.path(), version, kSchemaVersion);
}

}  // namespace ckv::db_detail
