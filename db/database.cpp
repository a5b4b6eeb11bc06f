#include "db/database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <optional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/schema.hpp"
#include "db/sqlite_util.hpp"

namespace ckv {

namespace fs = std::filesystem;

namespace db_detail {

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double monotonic_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

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

}  // namespace db_detail

using db_detail::describe_failure;

namespace {

// The first line of a statement, shortened, to say which statement failed.
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

// POSIX record locks, which SQLite takes on the database file, belong to a process and an inode:
// closing ANY descriptor of that file drops every one of them the process holds, those of
// another open connection included. So a descriptor ckv-sweep opens on a database file itself is
// closed only when no Database of this process has the file open; until then it is parked (as
// SQLite does with its own). Keyed by (device, inode): every path of the file is the same file.
class DatabaseFiles {
 public:
  using Key = std::pair<dev_t, ino_t>;
  static DatabaseFiles& instance() {
    static DatabaseFiles files;
    return files;
  }
  void add_user(Key key) {
    std::lock_guard lock(mutex_);
    ++files_[key].users;
  }
  void remove_user(Key key) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(key);
    if (it == files_.end()) return;
    if (--it->second.users > 0) return;
    for (int fd : it->second.parked) ::close(fd);
    files_.erase(it);
  }
  // A descriptor of the file we no longer need (its flock already released).
  void release(Key key, int fd) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(key);
    if (it == files_.end() || it->second.users == 0) {
      ::close(fd);
      return;
    }
    it->second.parked.push_back(fd);
  }

 private:
  struct File {
    int users = 0;
    std::vector<int> parked;
  };
  std::mutex mutex_;
  std::map<Key, File> files_;
};

std::optional<DatabaseFiles::Key> file_key(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return DatabaseFiles::Key{st.st_dev, st.st_ino};
}

// "<real path>-lock": who holds the writer lock, for the second writer's message and `status`.
std::string holder_path_for(const std::string& path) {
  std::error_code ec;
  const fs::path real = fs::canonical(path, ec);
  return (ec ? fs::path(path) : real).string() + "-lock";
}

// The process of this host holding an exclusive flock on the file (key), from /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 4242 fe:00:10952910 0 EOF"): names the writer when the holder
// file is not where this path would put it (a hard link in another directory).
std::string flock_holder_on_this_host(DatabaseFiles::Key key) {
  std::ifstream locks("/proc/locks");
  const std::string device = fmt::format("{:02x}:{:02x}:{}", major(key.first), minor(key.first), key.second);
  for (std::string line; std::getline(locks, line);) {
    std::istringstream fields(line);
    std::string number, kind, advisory, mode, pid, where;
    if (!(fields >> number >> kind >> advisory >> mode >> pid >> where)) continue;
    if (kind == "FLOCK" && mode == "WRITE" && where == device) return fmt::format("pid {} on host {}", pid, hostname());
  }
  return "";
}

std::string read_holder(const std::string& path, std::optional<DatabaseFiles::Key> key = std::nullopt) {
  std::string who;
  const int fd = ::open(holder_path_for(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char text[256] = {0};
    const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    if (n > 0) who.assign(text, size_t(n));
    ::close(fd);
  }
  while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
  if (who.empty() && key) who = flock_holder_on_this_host(*key);
  return who.empty() ? std::string("unknown process, perhaps on another host") : who;
}

// SQLite's own locks only cover a transaction; two schedulers alternating transactions on one
// database would both dispatch the same units and each call the other's running units lost.
// An exclusive flock on the database file itself, held for the writer's lifetime, makes the
// second one stop at open, whatever path it used (a symlink, `..`, a bind mount or a hard link
// name the same inode, and flock locks the inode). flock and SQLite's POSIX locks do not
// interact on Linux, and the kernel drops the flock when the process dies, so a killed run
// leaves no stale lock. Returns false (after a warning) on a file system without flock.
bool lock_database_file(int fd, const std::string& path, std::optional<DatabaseFiles::Key> key) {
  // A reader checking for a live writer (active_writer) holds a shared lock for an instant;
  // retry briefly so that such a check never makes a writer fail.
  const double deadline = db_detail::monotonic_now() + 1.0;
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    const int error = errno;
    if (error == EWOULDBLOCK || error == EINTR) {
      if (db_detail::monotonic_now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      CKV_FAIL("{}: database is locked by another writer ({}); only one ckv-sweep run may write "
               "to a database at a time",
               path, read_holder(path, key));
    }
    if (error == ENOLCK || error == ENOSYS || error == EINVAL || error == EOPNOTSUPP) {
      // Some cluster file systems are mounted without flock; SQLite's transaction lock still
      // keeps the file consistent, only the early "second writer" check is lost.
      spdlog::warn("{}: the file system does not support flock ({}); a second concurrent writer "
                   "will not be detected",
                   path, std::strerror(error));
      return false;
    }
    CKV_FAIL("{}: cannot lock the database file: {}", path, std::strerror(error));
  }
}

// Records "pid N on host H" in "<real path>-lock" and locks that file too, so that an older
// ckv-sweep (which locked only this file) is kept out as well. Best effort beyond that: the
// database file's lock is the guarantee. Returns the descriptor, or -1.
int record_holder(const std::string& path) {
  const std::string holder_path = holder_path_for(path);
  const int fd = ::open(holder_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::debug("{}: could not record the writer in {}: {}", path, holder_path, std::strerror(errno));
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    ::close(fd);
    CKV_FAIL("{}: database is locked by another writer ({}, holding {}); only one ckv-sweep run may "
             "write to a database at a time",
             path, read_holder(path), holder_path);
  }
  const std::string holder = fmt::format("pid {} on host {}\n", ::getpid(), hostname());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) < 0)
    spdlog::debug("{}: could not record the writer in {}", path, holder_path);
  return fd;
}

void check_rc(sqlite3* db, int rc, const std::string& path, const std::string& what) {
  if (rc != SQLITE_OK) throw DatabaseError(describe_failure(db, rc, path, what), rc);
}

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

// Applies every migration newer than the database, and refreshes the task table, in one
// BEGIN IMMEDIATE transaction: a database is never left half-migrated, and the transaction
// doubles as the check that no other connection holds the write lock.
void migrate(Database& db) {
  const auto& list = migrations();
  CKV_CHECK(!list.empty() && list.back().version == kSchemaVersion,
            "internal: the migration list does not end at schema version {}", kSchemaVersion);
  std::optional<Transaction> transaction;
  try {
    transaction.emplace(db);
  } catch (const Error&) {
    if ((sqlite3_errcode(db.handle()) & 0xff) == SQLITE_BUSY)
      CKV_FAIL("{}: database is locked by another writer (another program has held SQLite's "
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
  for (const Migration& migration : list) {
    if (migration.version <= version) continue;
    spdlog::info("{}: migrating schema to version {} ({})", db.path(), migration.version,
                 migration.description);
    db.exec(migration.sql);
    Statement bump = db.prepare(
        "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)");
    bump.bind(1, int64_t(migration.version))
        .bind(2, db_detail::unix_now())
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
  CKV_FAIL("{}: the database file is corrupt (PRAGMA quick_check: {}); nothing was written to it. Restore it "
           "from a copy, or save what is readable: sqlite3 {} .recover | sqlite3 recovered.sqlite",
           db.path(), found, db.path());
}

// A reader must not change anything: an older schema is reported, not migrated.
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

}  // namespace

// ---- Statement -----------------------------------------------------------------------------

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

// ---- Database ------------------------------------------------------------------------------

Database Database::open(const std::string& path, Mode mode) {
  CKV_CHECK(!path.empty(), "database path is empty");
  Database db;
  db.path_ = path;
  if (mode == Mode::Writer) {
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      if (!fs::is_directory(parent, ec)) {
        fs::create_directories(parent, ec);
        if (ec)
          CKV_FAIL("{}: cannot open for writing: cannot create directory {}: {}", path,
                   parent.string(), ec.message());
      }
    }
    std::error_code ec;
    CKV_CHECK(!fs::is_directory(path, ec), "{}: is a directory, not a database file", path);
    // The database file is opened (created when new) and locked before SQLite touches it.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    const int open_error = errno;
    if (fd < 0 && (open_error == EACCES || open_error == EROFS || open_error == EPERM) && fs::exists(path, ec))
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // SQLite says below that it is read-only
    if (fd < 0) CKV_FAIL("{}: cannot open for writing: {}", path, std::strerror(open_error));
    db.file_fd_ = fd;
    db.file_key_ = file_key(fd);
    if (db.file_key_) DatabaseFiles::instance().add_user(*db.file_key_);
    if (lock_database_file(fd, path, db.file_key_)) db.holder_fd_ = record_holder(path);
    int rc = sqlite3_open_v2(path.c_str(), &db.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             nullptr);
    check_rc(db.db_, rc, path, "cannot open for writing");
    sqlite3_extended_result_codes(db.db_, 1);
    // SQLite silently falls back to read-only when it may not write the file itself.
    if (sqlite3_db_readonly(db.db_, "main") == 1)
      CKV_FAIL("{}: cannot open for writing: the file is read-only (permission denied)", path);
    // A short wait for the lock check at open: another connection holding the write lock
    // longer than this is another writer, and the user should hear so rather than wait.
    check_rc(db.db_, sqlite3_busy_timeout(db.db_, 1000), path, "cannot set the busy timeout");
    try {
      db.exec("PRAGMA foreign_keys = ON");
      {
        Statement journal = db.prepare("PRAGMA journal_mode = WAL");
        std::string mode_now = journal.step() ? journal.column_text(0) : "";
        if (mode_now != "wal")
          spdlog::warn("{}: could not switch to WAL journaling (got '{}'); readers may block the "
                       "writer on this file system",
                       path, mode_now);
      }
      // NORMAL in WAL mode: a commit survives a process crash; only an OS crash or power loss
      // can roll back the last commits, and never corrupts the file.
      db.exec("PRAGMA synchronous = NORMAL");
      refuse_if_corrupt(db);
    } catch (const DatabaseError& e) {
      if (e.primary_code() != SQLITE_CORRUPT) throw;  // "not an SQLite database" says it already
      CKV_FAIL("{}: the database file is corrupt ({}); nothing was written to it. Restore it from a copy, or "
               "save what is readable: sqlite3 {} .recover | sqlite3 recovered.sqlite",
               path, e.what(), path);
    }
    migrate(db);
    check_rc(db.db_, sqlite3_busy_timeout(db.db_, 5000), path, "cannot set the busy timeout");
    return db;
  }

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
    check_readable_version(db);
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
    check_readable_version(db);
    spdlog::debug("{}: opened as immutable (no writer active, directory not writable)", path);
  }
  return db;
}

Database::~Database() {
  if (db_) {
    int rc = sqlite3_close_v2(db_);
    if (rc != SQLITE_OK) spdlog::error("{}: closing the database failed: {}", path_, sqlite3_errstr(rc));
  }
  if (holder_fd_ >= 0) ::close(holder_fd_);
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
      file_key_(other.file_key_) {
  other.db_ = nullptr;
  other.file_fd_ = -1;
  other.holder_fd_ = -1;
  other.file_key_.reset();
}

std::optional<std::string> database_writer(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const auto key = file_key(fd);
  std::optional<std::string> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0)
    ::flock(fd, LOCK_UN);
  else if (errno == EWOULDBLOCK)
    holder = read_holder(path, key);
  if (key) DatabaseFiles::instance().release(*key, fd);  // never drop this process's SQLite locks
  else ::close(fd);
  return holder;
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
