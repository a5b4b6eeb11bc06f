// Opening databases: migrations, version checks, and the clear errors of docs/spec/MISSION.md R13 (read-only
// paths, missing files, a second writer).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "common/tasks.hpp"
#include "db/database.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::RawConnection;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;

namespace {

std::string open_error(const std::string& path, Database::Mode mode) {
  try {
    Database::open(path, mode);
  } catch (const Error& e) {
    return e.what();
  }
  return "<opened without error>";
}

// Opens read-only and counts campaigns, or returns the error.
std::string live_read(const std::string& path) {
  try {
    Database db = Database::open(path, Database::Mode::ReadOnly);
    return "campaigns: " + std::to_string(scalar_int(db, "SELECT COUNT(*) FROM campaigns"));
  } catch (const Error& e) {
    return e.what();
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a new database is created at the current schema version with every table and view", "[db]") {
  TempDir dir;
  std::string path = dir.file("nested/deeper/ckv.sqlite");  // parent directories created
  {
    Database db = Database::open(path, Database::Mode::Writer);
    CHECK(db.schema_version() == kSchemaVersion);
    CHECK(kSchemaVersion == 2);
    CHECK(scalar_text(db, "PRAGMA journal_mode") == "wal");
    CHECK(scalar_int(db, "PRAGMA foreign_keys") == 1);
    CHECK(scalar_int(db, "PRAGMA synchronous") == 1);  // NORMAL
    for (const char* table : {"schema_version", "campaigns", "configurations", "tasks", "samples",
                              "units", "campaign_units", "attempts", "results", "e2e_predictions",
                              "e2e_tasks"})
      CHECK(scalar_int(db, fmt::format("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                                       "AND name = '{}'",
                                       table)) == 1);
    for (const char* view :
         {"unit_results", "task_scores", "campaign_summary", "campaign_progress", "unit_failures",
          "e2e_task_scores", "e2e_vs_proxy"})
      CHECK(scalar_int(db, fmt::format("SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' "
                                       "AND name = '{}'",
                                       view)) == 1);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM tasks") == int64_t(known_tasks().size()));
    CHECK(scalar_text(db, "SELECT category FROM tasks WHERE name = 'trec'") == "few-shot");
    CHECK(scalar_int(db, "SELECT synthetic FROM tasks WHERE name = 'synth-needle'") == 1);
    // The state CHECK constraint rejects states outside the machine.
    db.exec(
        "INSERT INTO configurations (hash, method, canonical_json, created_at) "
        "VALUES ('h', 'snapkv', '{}', 0)");
    db.exec(
        "INSERT INTO samples (task, sample_key, path, n_tokens, m_answer) "
        "VALUES ('trec', '0', '/x', 10, 2)");
    CHECK_THROWS_WITH(db.exec("INSERT INTO units (configuration_id, sample_id, state, updated_at) "
                              "VALUES (1, 1, 'finished', 0)"),
                      Contains("CHECK constraint failed"));
  }
  SECTION("reopening is idempotent and refreshes the task list") {
    {
      Database db = Database::open(path, Database::Mode::Writer);
      db.exec("DELETE FROM tasks WHERE name = 'lcc'");
    }
    Database db = Database::open(path, Database::Mode::Writer);
    CHECK(db.schema_version() == kSchemaVersion);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM schema_version") == kSchemaVersion);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM tasks") == int64_t(known_tasks().size()));
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM configurations") == 1);  // data kept
  }
  SECTION("a reader opens it while the writer has it open") {
    Database writer = Database::open(path, Database::Mode::Writer);
    Database reader = Database::open(path, Database::Mode::ReadOnly);
    CHECK(reader.schema_version() == kSchemaVersion);
    CHECK_THROWS_WITH(reader.exec("DELETE FROM tasks"), Contains("readonly"));
  }
}

TEST_CASE("a database newer than this build is refused by writer and reader", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  { Database::open(path, Database::Mode::Writer); }
  {
    RawConnection raw(path);
    REQUIRE(raw.exec("INSERT INTO schema_version VALUES (99, 0, 'from the future')") == SQLITE_OK);
  }
  std::string message = open_error(path, Database::Mode::Writer);
  CHECK_THAT(message, Contains(path) && Contains("schema version 99 is newer") &&
                          Contains(fmt::format("knows ({})", kSchemaVersion)));
  CHECK_THAT(open_error(path, Database::Mode::ReadOnly),
             Contains(path) && Contains("schema version 99 is newer"));
  // The refused writer changed nothing.
  RawConnection raw(path);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw.db, "SELECT MAX(version) FROM schema_version", -1, &stmt, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(sqlite3_column_int(stmt, 0) == 99);
  sqlite3_finalize(stmt);
}

TEST_CASE("files that are not ckv-sweep databases are refused with a clear message", "[db]") {
  TempDir dir;
  SECTION("another program's SQLite database") {
    std::string path = dir.file("other.sqlite");
    {
      RawConnection raw(path);
      REQUIRE(raw.exec("CREATE TABLE notes (text TEXT)") == SQLITE_OK);
    }
    CHECK_THAT(open_error(path, Database::Mode::Writer),
               Contains(path) && Contains("not a ckv-sweep database"));
    CHECK_THAT(open_error(path, Database::Mode::ReadOnly),
               Contains(path) && Contains("not a ckv-sweep database"));
  }
  SECTION("a text file") {
    std::string path = dir.file("notes.txt");
    std::ofstream(path) << "this is not a database, just some text that is long enough to fill "
                           "a header of one hundred bytes or so, which SQLite reads first.\n";
    CHECK_THAT(open_error(path, Database::Mode::Writer),
               Contains(path) && Contains("not an SQLite database"));
    CHECK_THAT(open_error(path, Database::Mode::ReadOnly),
               Contains(path) && Contains("not an SQLite database"));
  }
}

TEST_CASE("read-only open of a missing file says so and creates nothing", "[db]") {
  TempDir dir;
  std::string path = dir.file("results/missing.sqlite");
  CHECK_THAT(open_error(path, Database::Mode::ReadOnly),
             Contains(path) && Contains("no such database file"));
  CHECK_FALSE(std::filesystem::exists(dir.file("results")));
  CHECK_THAT(open_error(dir.path.string(), Database::Mode::ReadOnly), Contains("is a directory"));
}

TEST_CASE("a writer on a path it cannot write gets a clear error", "[db]") {
  TempDir dir;
  SECTION("the parent 'directory' is a regular file") {
    std::ofstream(dir.file("plain")) << "x";
    std::string path = dir.file("plain/ckv.sqlite");
    CHECK_THAT(open_error(path, Database::Mode::Writer),
               Contains(path) && Contains("cannot open for writing") &&
                   Contains("cannot create directory") && Contains("Not a directory"));
  }
  SECTION("a directory where nobody may create files (sysfs refuses even root)") {
    // /sys exists on every Linux machine and rejects file creation with EACCES for root too,
    // which chmod cannot do for a root test runner.
    REQUIRE(std::filesystem::is_directory("/sys"));
    std::string path = "/sys/ckv-test.sqlite";
    CHECK_THAT(open_error(path, Database::Mode::Writer),
               Contains(path) && Contains("cannot open for writing") &&
                   Contains("Permission denied"));
  }
  SECTION("an unprivileged user: unwritable directory and read-only database file") {
    // Root ignores file modes, so the permission checks run in a child that drops to the
    // 'nobody' user (or in this process when the tests already run unprivileged).
    std::string locked_dir = dir.file("locked");
    std::filesystem::create_directories(locked_dir);
    std::string ro_dir = dir.file("open");
    std::filesystem::create_directories(ro_dir);
    std::string ro_db = ro_dir + "/ro.sqlite";
    { Database::open(ro_db, Database::Mode::Writer); }
    // As if copied from elsewhere: no lock file yet, so the check reaches the database file.
    std::filesystem::remove(ro_db + "-lock");
    // Someone else's results: a directory this user may not write, holding one database no
    // writer has open (no -wal/-shm files) and one a writer is running on right now.
    std::string shared_dir = dir.file("shared");
    { Database::open(shared_dir + "/idle.sqlite", Database::Mode::Writer); }
    Database live = Database::open(shared_dir + "/live.sqlite", Database::Mode::Writer);
    live.exec(
        "INSERT INTO campaigns (name, spec_path, spec_text, created_at, updated_at) "
        "VALUES ('c', 'c.toml', '', 0, 0)");
    REQUIRE_FALSE(std::filesystem::exists(shared_dir + "/idle.sqlite-shm"));
    REQUIRE(std::filesystem::exists(shared_dir + "/live.sqlite-shm"));
    std::filesystem::permissions(shared_dir, std::filesystem::perms(0555));
    std::filesystem::permissions(locked_dir, std::filesystem::perms(0555));
    std::filesystem::permissions(ro_dir, std::filesystem::perms(0777));
    std::filesystem::permissions(ro_db, std::filesystem::perms(0444));
    std::filesystem::permissions(dir.path, std::filesystem::perms(0755));

    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(2);
      std::string report = open_error(locked_dir + "/ckv.sqlite", Database::Mode::Writer) +
                           "\n" + open_error(ro_db, Database::Mode::Writer) + "\n" +
                           open_error(ro_db, Database::Mode::ReadOnly) + "\n" +
                           open_error(shared_dir + "/idle.sqlite", Database::Mode::ReadOnly) +
                           "\n" + live_read(shared_dir + "/live.sqlite") + "\n";
      ssize_t written = ::write(pipe_fds[1], report.data(), report.size());
      ::_exit(written == ssize_t(report.size()) ? 0 : 3);
    }
    ::close(pipe_fds[1]);
    std::string report;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) report.append(buffer, size_t(n));
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t end; (end = report.find('\n', start)) != std::string::npos; start = end + 1)
      lines.push_back(report.substr(start, end - start));
    REQUIRE(lines.size() == 5);
    CHECK_THAT(lines[0], Contains(locked_dir + "/ckv.sqlite") &&
                             Contains("cannot open for writing") && Contains("Permission denied"));
    CHECK_THAT(lines[1], Contains(ro_db) && Contains("cannot open for writing") &&
                             Contains("read-only"));
    CHECK(lines[2] == "<opened without error>");  // reading a read-only file is fine
    CHECK(lines[3] == "<opened without error>");
    CHECK(lines[4] == "campaigns: 1");  // sees the live writer's committed rows
  }
}

TEST_CASE("a second writer gets a clear error instead of waiting", "[db]") {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  SECTION("another ckv-sweep writer holds the database open") {
    Database first = Database::open(path, Database::Mode::Writer);
    auto start = std::chrono::steady_clock::now();
    std::string message = open_error(path, Database::Mode::Writer);
    CHECK(seconds_since(start) < 5.0);
    CHECK_THAT(message, Contains(path) && Contains("locked by another writer") &&
                            Contains(fmt::format("pid {}", ::getpid())));
    // Readers are not writers: they still open.
    Database reader = Database::open(path, Database::Mode::ReadOnly);
    CHECK(reader.schema_version() == kSchemaVersion);
  }
  SECTION("the lock is released when the writer closes") {
    { Database first = Database::open(path, Database::Mode::Writer); }
    Database second = Database::open(path, Database::Mode::Writer);
    CHECK(second.schema_version() == kSchemaVersion);
  }
  SECTION("another program holds SQLite's write lock") {
    { Database::open(path, Database::Mode::Writer); }
    RawConnection other(path);
    REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
    auto start = std::chrono::steady_clock::now();
    std::string message = open_error(path, Database::Mode::Writer);
    CHECK(seconds_since(start) < 5.0);
    CHECK_THAT(message, Contains(path) && Contains("locked by another writer"));
    REQUIRE(other.exec("COMMIT") == SQLITE_OK);
    Database db = Database::open(path, Database::Mode::Writer);
    CHECK(db.schema_version() == kSchemaVersion);
  }
}

TEST_CASE("transactions roll back unless committed", "[db]") {
  TempDir dir;
  Database db = Database::open(dir.file("ckv.sqlite"), Database::Mode::Writer);
  {
    Transaction t(db);
    db.exec(
        "INSERT INTO campaigns (name, spec_path, spec_text, created_at, updated_at) "
        "VALUES ('gone', 'a.toml', '', 0, 0)");
  }
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaigns") == 0);
  {
    Transaction t(db);
    db.exec(
        "INSERT INTO campaigns (name, spec_path, spec_text, created_at, updated_at) "
        "VALUES ('kept', 'a.toml', '', 0, 0)");
    t.commit();
  }
  CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaigns") == 1);
  // Statement errors name the file and the statement.
  CHECK_THROWS_WITH(db.prepare("SELECT nonsense FROM nowhere"),
                    Contains(db.path()) && Contains("no such table: nowhere"));
}
