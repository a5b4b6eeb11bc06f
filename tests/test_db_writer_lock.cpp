// One writer per database file, whatever path names it (issue 9): the lock is on the file itself
// (its inode), so a symlink, a `..` detour, a hard link or a bind mount (tests/faults/
// writer_lock_paths.sh) cannot make a second writer. Readers still open, `status` sees the writer
// through any path, and a refused writer leaves the holder's connection working.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string open_error(const std::string& path) {
  try {
    Database::open(path, Database::Mode::Writer);
  } catch (const Error& e) {
    return e.what();
  }
  return "<opened without error>";
}

}  // namespace

TEST_CASE("a second writer through another path to the same file is refused", "[db]") {
  TempDir dir;
  fs::create_directories(dir.path / "results" / "sub");
  const std::string path = dir.file("results/ckv.sqlite");
  { Database::open(path, Database::Mode::Writer); }
  fs::create_symlink(path, dir.file("link.sqlite"));
  fs::create_directory_symlink(dir.path / "results", dir.path / "results-link");
  fs::create_hard_link(path, dir.file("hard.sqlite"));
  const std::vector<std::string> aliases = {
      dir.file("link.sqlite"),                // a symlink to the file
      dir.file("results-link/ckv.sqlite"),    // through a symlinked directory
      dir.file("results/sub/../ckv.sqlite"),  // a `..` detour
      dir.file("hard.sqlite"),                // another name of the same inode
  };
  const std::string holder = fmt::format("pid {} on host", ::getpid());

  SECTION("the first writer used the plain path") {
    Database first = Database::open(path, Database::Mode::Writer);
    for (const std::string& alias : aliases) {
      INFO(alias);
      CHECK_THAT(open_error(alias), Contains(alias) && Contains("locked by another writer") && Contains(holder));
      // `status` sees the writer through any path.
      const auto writer = active_writer(alias);
      REQUIRE(writer.has_value());
      CHECK_THAT(*writer, Contains(holder));
    }
    // The refusals left the holder's connection whole: it still writes, and readers read.
    first.exec("INSERT INTO campaigns (name, spec_path, spec_text, created_at, updated_at) VALUES ('c', 'c.toml', '', 0, 0)");
    Database reader = Database::open(dir.file("link.sqlite"), Database::Mode::ReadOnly);
    CHECK(scalar_int(reader, "SELECT COUNT(*) FROM campaigns") == 1);
    CHECK(scalar_text(first, "PRAGMA integrity_check") == "ok");
  }
  SECTION("the first writer used an alias") {
    Database first = Database::open(aliases[1], Database::Mode::Writer);
    CHECK_THAT(open_error(path), Contains("locked by another writer"));
    CHECK_THAT(open_error(aliases[3]), Contains("locked by another writer"));
  }
  SECTION("the lock ends with the writer, whatever path the next one takes") {
    for (const std::string& alias : aliases) {
      { Database first = Database::open(path, Database::Mode::Writer); }
      CHECK_FALSE(active_writer(alias).has_value());
      Database next = Database::open(alias, Database::Mode::Writer);
      CHECK(next.schema_version() == kSchemaVersion);
    }
  }
}

TEST_CASE("the writer's record <db>-lock lasts as long as the writer", "[db]") {
  TempDir dir;
  const std::string path = dir.file("ckv.sqlite");
  const std::string record = path + "-lock";
  const std::string holder = fmt::format("pid {} on host", ::getpid());
  {
    Database writer = Database::open(path, Database::Mode::Writer);
    REQUIRE(fs::exists(record));
    // A refused second writer leaves the holder's record as it is.
    CHECK_THAT(open_error(path), Contains("locked by another writer") && Contains(holder));
    CHECK(fs::exists(record));
    const auto who = active_writer(path);
    REQUIRE(who.has_value());
    CHECK_THAT(*who, Contains(holder));
  }
  CHECK_FALSE(fs::exists(record));
  CHECK_FALSE(active_writer(path).has_value());

  // A writer refused after it took the lock (the file is not a database) removes its record too.
  const std::string garbage = dir.file("garbage.sqlite");
  {
    std::ofstream out(garbage);
    out << std::string(4096, 'x');
  }
  CHECK_THAT(open_error(garbage), Contains("not an SQLite database"));
  CHECK_FALSE(fs::exists(garbage + "-lock"));

  // After a clean close nothing but the database files themselves is left in the directory
  // (SQLite removes its -wal and -shm files when the last connection closes).
  std::set<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path)) left.insert(entry.path().filename().string());
  CHECK(left == std::set<std::string>{"ckv.sqlite", "garbage.sqlite"});
}
