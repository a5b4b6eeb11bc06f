// A connection to a results database: the writer (created, locked, configured, migrated at
// open) or a reader (read-only, refusing another schema version), and transactions.
#include "db/database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "db/schema_version.hpp"
#include "db/sqlite_util.hpp"
#include "db/writer_lock.hpp"

namespace ckv {

namespace fs = std::filesystem;
using db_detail::check_rc;
using db_detail::DatabaseFiles;
using db_detail::describe_failure;
using db_detail::sql_excerpt;

namespace {

// A damaged file is refused when a writer opens it, before any work: writing into it could
// spread the damage, and a run would fail at its first commit after hours of computing.
// PRAGMA quick_check reads every page (O(N), without the index cross-checks of integrity_check).
void refuse_if_corrupt(Database& db) {
  std::vector<std::string> problems;
  try {
    Statement check = db.prepare("PRAGMA quick_check(3)");
    while (check.step()) problems.push_back(check.column_text(0));
  } catch (const DatabaseError& e) {
    if (e.primary_code() != SQLITE_CORRUPT && e.primary_code() != SQLITE_NOTADB) throw;
    problems.push_back(e.what());
  }
  if (problems.size() == 1 && problems[0] == "ok") return;
  std::string found;
  for (const std::string& p : problems) found += (found.empty() ? "" : "; ") + p;
  CKV_FAIL(
      "{}: the database file is corrupt (PRAGMA quick_check: {}); nothing was written to it. Restore it "
      "from a copy, or save what is readable: sqlite3 {} .recover | sqlite3 recovered.sqlite",
      db.path(), found, db.path());
}

std::string uri_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#')
      out += fmt::format("%{:02X}", unsigned(static_cast<unsigned char>(c)));
    else
      out += c;
  }
  return out;
}

void create_parent_directory(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  if (fs::is_directory(parent, ec)) return;
  fs::create_directories(parent, ec);
  if (ec)
    CKV_FAIL("{}: cannot open for writing: cannot create directory {}: {}", path, parent.string(), ec.message());
}

}  // namespace

Database Database::open(const std::string& path, Mode mode) {
  CKV_CHECK(!path.empty(), "database path is empty");
  return mode == Mode::Writer ? open_writer(path) : open_reader(path);
}

Database Database::open_writer(const std::string& path) {
  Database db;
  db.path_ = path;
  create_parent_directory(path);
  db.lock_for_writing();
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  check_rc(db.db_, rc, path, "cannot open for writing");
  sqlite3_extended_result_codes(db.db_, 1);
  // SQLite silently falls back to read-only when it may not write the file itself.
  if (sqlite3_db_readonly(db.db_, "main") == 1)
    CKV_FAIL("{}: cannot open for writing: the file is read-only (permission denied)", path);
  // A short wait for the lock check at open: another connection holding the write lock
  // longer than this is another writer, and the user should hear so rather than wait.
  check_rc(db.db_, sqlite3_busy_timeout(db.db_, 1000), path, "cannot set the busy timeout");
  db.configure_writer();
  db_detail::migrate(db);
  check_rc(db.db_, sqlite3_busy_timeout(db.db_, 5000), path, "cannot set the busy timeout");
  return db;
}

// The database file is opened (created when new) and locked before SQLite touches it
// (db/writer_lock.hpp).
void Database::lock_for_writing() {
  std::error_code ec;
  CKV_CHECK(!fs::is_directory(path_, ec), "{}: is a directory, not a database file", path_);
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  const int open_error = errno;
  if (fd < 0 && (open_error == EACCES || open_error == EROFS || open_error == EPERM) && fs::exists(path_, ec))
    fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // SQLite says below that it is read-only
  if (fd < 0) CKV_FAIL("{}: cannot open for writing: {}", path_, std::strerror(open_error));
  file_fd_ = fd;
  file_key_ = db_detail::file_key(fd);
  if (file_key_) DatabaseFiles::instance().add_user(*file_key_);
  if (db_detail::lock_database_file(fd, path_, file_key_)) holder_fd_ = db_detail::record_holder(path_, holder_path_);
}

// Foreign keys, WAL journaling and the durability level; a damaged file is refused here.
void Database::configure_writer() {
  try {
    exec("PRAGMA foreign_keys = ON");
    {
      Statement journal = prepare("PRAGMA journal_mode = WAL");
      std::string mode_now = journal.step() ? journal.column_text(0) : "";
      if (mode_now != "wal")
        spdlog::warn(
            "{}: could not switch to WAL journaling (got '{}'); readers may block the "
            "writer on this file system",
            path_, mode_now);
    }
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash or power loss
    // can roll back the last commits, and never corrupts the file.
    exec("PRAGMA synchronous = NORMAL");
    refuse_if_corrupt(*this);
  } catch (const DatabaseError& e) {
    if (e.primary_code() != SQLITE_CORRUPT) throw;  // "not an SQLite database" says it already
    CKV_FAIL(
        "{}: the database file is corrupt ({}); nothing was written to it. Restore it from a copy, or "
        "save what is readable: sqlite3 {} .recover | sqlite3 recovered.sqlite",
        path_, e.what(), path_);
  }
}

Database Database::open_reader(const std::string& path) {
  Database db;
  db.path_ = path;
  std::error_code ec;
  if (!fs::exists(path, ec))
    CKV_FAIL("{}: no such database file (nothing has been run into it yet, or the path is wrong)",
             path);
  CKV_CHECK(!fs::is_directory(path, ec), "{}: is a directory, not a database file", path);
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, SQLITE_OPEN_READONLY, nullptr);
  check_rc(db.db_, rc, path, "cannot open for reading");
  {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      db.file_key_ = std::pair{st.st_dev, st.st_ino};
      DatabaseFiles::instance().add_user(*db.file_key_);
    }
  }
  sqlite3_extended_result_codes(db.db_, 1);
  check_rc(db.db_, sqlite3_busy_timeout(db.db_, 5000), path, "cannot set the busy timeout");
  try {
    db_detail::check_readable_version(db);
  } catch (const Error&) {
    // A WAL database needs its -shm file. A reader in a directory it may not write (someone
    // else's results) cannot create it; when no -wal file exists either, no writer is active,
    // and opening the file as immutable reads exactly what is committed.
    fs::path parent = fs::absolute(path, ec).parent_path();
    bool directory_writable = ::access(parent.c_str(), W_OK) == 0;
    if (directory_writable || fs::exists(path + "-wal", ec) || fs::exists(path + "-shm", ec))
      throw;
    sqlite3_close_v2(db.db_);
    db.db_ = nullptr;
    std::string uri = "file:" + uri_escape(fs::absolute(path).string()) + "?immutable=1";
    rc = sqlite3_open_v2(uri.c_str(), &db.db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
    check_rc(db.db_, rc, path, "cannot open for reading");
    sqlite3_extended_result_codes(db.db_, 1);
    db_detail::check_readable_version(db);
    spdlog::debug("{}: opened as immutable (no writer active, directory not writable)", path);
  }
  return db;
}

Database::~Database() {
  if (db_) {
    int rc = sqlite3_close_v2(db_);
    if (rc != SQLITE_OK) spdlog::error("{}: closing the database failed: {}", path_, sqlite3_errstr(rc));
  }
  if (holder_fd_ >= 0) {
    // The record goes while this writer still holds the database file's lock, so it never
    // removes the record of the next writer (which takes that lock before writing its own).
    if (::unlink(holder_path_.c_str()) != 0 && errno != ENOENT)
      spdlog::debug("{}: could not remove {}: {}", path_, holder_path_, std::strerror(errno));
    ::close(holder_fd_);
  }
  if (file_fd_ >= 0) {
    ::flock(file_fd_, LOCK_UN);  // the writer lock ends here, even while the descriptor is parked
    if (file_key_) DatabaseFiles::instance().release(*file_key_, file_fd_);
    else ::close(file_fd_);
  }
  if (file_key_) DatabaseFiles::instance().remove_user(*file_key_);
}

Database::Database(Database&& other) noexcept
    : db_(other.db_),
      path_(std::move(other.path_)),
      file_fd_(other.file_fd_),
      holder_fd_(other.holder_fd_),
      holder_path_(std::move(other.holder_path_)),
      file_key_(std::move(other.file_key_)) {
  other.db_ = nullptr;
  other.file_fd_ = -1;
  other.holder_fd_ = -1;
  other.file_key_.reset();
}

void Database::exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    sqlite3_free(error);  // the same text is still available from sqlite3_errmsg
    throw DatabaseError(describe_failure(db_, rc, path_, "`" + sql_excerpt(sql) + "` failed"), rc);
  }
}

Statement Database::prepare(const std::string& sql) { return Statement(db_, sql, path_); }

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

int Database::schema_version() {
  Statement q = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  CKV_CHECK(q.step(), "{}: cannot read the schema version", path_);
  return int(q.column_int64(0));
}

// ---- Transaction ---------------------------------------------------------------------------

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  // Some errors (disk full, I/O) already rolled the transaction back inside SQLite.
  if (done_ || sqlite3_get_autocommit(db_.handle())) return;
  int rc = sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    spdlog::error("{}", describe_failure(db_.handle(), rc, db_.path(), "rollback failed"));
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ckv
