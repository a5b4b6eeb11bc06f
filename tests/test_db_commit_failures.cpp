// Commits that fail and databases that are damaged: a failing commit is retried with
// back-off for a bounded time and then reported once, with the buffer whole (nothing committed
// is lost, nothing is claimed both kept and lost); a corrupt database is refused when a writer
// opens it, before anything is written.
#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::RawConnection;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;

namespace {

const std::string kHash(64, 'a');

struct Store {
  TempDir dir;
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store{db, 3600.0};
  std::vector<int64_t> units;
  Store() {
    const int64_t campaign = store.upsert_campaign("c", "c.toml", "");
    const int64_t config = store.upsert_configuration(kHash, "h2o", "{}");
    std::vector<std::pair<int64_t, int64_t>> pairs;
    pairs.reserve(3);
    for (int i = 0; i < 3; ++i) pairs.emplace_back(config, store.upsert_sample({"trec", std::to_string(i), "/x", 100, 3}));
    for (const UnitRow& row : store.ensure_units(campaign, pairs)) units.push_back(row.unit_id);
  }
  // Makes the next commit fail with SQLITE_FULL (the file may not grow), as on a full disk.
  void fill_disk() {
    db.exec(fmt::format("PRAGMA max_page_count = {}", scalar_int(db, "PRAGMA page_count")));
  }
  void free_disk() { db.exec("PRAGMA max_page_count = 1073741823"); }
  void buffer_work() {
    store.begin_attempt(units[0], 1, "h", 1, 10.0);
    store.finish_failed(units[0], 11.0, std::string(256 * 1024, 'x'));  // needs new pages
    store.begin_attempt(units[1], 1, "h", 1, 12.0);
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a commit that fails is retried and succeeds once the cause passes", "[db]") {
  Store s;
  s.store.set_commit_retry(30);
  s.fill_disk();
  s.buffer_work();
  // Space comes back while the store waits between attempts.
  std::thread freer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    s.free_disk();
  });
  const auto start = std::chrono::steady_clock::now();
  s.store.flush();
  freer.join();
  CHECK(seconds_since(start) >= 0.5);
  CHECK(seconds_since(start) < 10);
  CHECK(s.store.pending_writes() == 0);
  CHECK(scalar_text(s.db, "SELECT group_concat(state) FROM units ORDER BY id") == "failed,running,pending");
}

TEST_CASE("a commit that keeps failing gives up after the retry window, keeping the buffer whole", "[db]") {
  Store s;
  s.store.set_commit_retry(1.0);
  s.fill_disk();
  s.buffer_work();
  const auto start = std::chrono::steady_clock::now();
  try {
    s.store.flush();
    FAIL("the commit succeeded on a full disk");
  } catch (const CommitError& e) {
    CHECK_THAT(std::string(e.what()), Contains(s.path) && Contains("disk full") &&
                                          Contains("3 buffered writes were not committed after"));
    CHECK_THAT(e.reason, Contains("disk full"));
    CHECK(e.finishes == 1);
    CHECK(e.seconds >= 0.5);
  }
  CHECK(seconds_since(start) < 5);
  CHECK(s.store.pending_writes() == 3);
  CHECK(scalar_int(s.db, "SELECT COUNT(*) FROM attempts") == 0);  // rolled back whole
  s.free_disk();
  s.store.flush();  // the kept buffer is written in full later
  CHECK(scalar_text(s.db, "SELECT group_concat(state) FROM units ORDER BY id") == "failed,running,pending");
  SECTION("abandon drops the buffer without another attempt") {
    s.store.begin_attempt(s.units[2], 1, "h", 1, 13.0);
    s.store.abandon();
    CHECK(s.store.pending_writes() == 0);
  }
}

TEST_CASE("another program holding the write lock past the busy timeout is waited out", "[db]") {
  Store s;
  s.store.set_commit_retry(20);
  s.buffer_work();
  RawConnection other(s.path);
  REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(6500));  // beyond the 5 s busy timeout
    other.exec("COMMIT");
  });
  s.store.flush();
  release.join();
  CHECK(s.store.pending_writes() == 0);
  CHECK(scalar_int(s.db, "SELECT COUNT(*) FROM attempts") == 2);
}

TEST_CASE("a failure that cannot pass is not retried", "[db]") {
  Store s;
  s.store.set_commit_retry(30);
  // A finish whose attempt row vanished: a programming error, reported at once.
  s.store.begin_attempt(s.units[0], 1, "h", 1, 10.0);
  s.store.flush();
  s.db.exec("DELETE FROM attempts");
  s.store.finish_done(s.units[0], 11.0, {});
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(s.store.flush(), Contains("changed no row") && Contains("1 buffered writes were not committed"));
  CHECK(seconds_since(start) < 1);
}

TEST_CASE("a corrupt database is refused when a writer opens it, and left as it was", "[db]") {
  TempDir dir;
  const std::string path = dir.file("ckv.sqlite");
  {
    Database db = Database::open(path, Database::Mode::Writer);
    ResultStore store(db);
    store.upsert_campaign("c", "c.toml", "");
    const int64_t config = store.upsert_configuration(kHash, "h2o", "{}");
    std::vector<std::pair<int64_t, int64_t>> pairs;
    pairs.reserve(400);
    for (int i = 0; i < 400; ++i) pairs.emplace_back(config, store.upsert_sample({"trec", std::to_string(i), "/x", 100, 3}));
    store.ensure_units(1, pairs);
  }
  auto read_all = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string bytes = read_all();
  REQUIRE(bytes.size() > 8 * 4096);
  // Scribble over pages 9-12 (the samples and units tables, filled above) past their headers,
  // as a bad disk block would.
  for (size_t page = 8; page < 12; ++page)
    for (size_t i = page * 4096 + 16; i < (page + 1) * 4096; ++i) bytes[i] = char(0xA5);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  try {
    Database::open(path, Database::Mode::Writer);
    FAIL("a corrupt database was opened for writing");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains(path) && Contains("the database file is corrupt") &&
                                          Contains("nothing was written to it") && Contains(".recover"));
  }
  CHECK(read_all() == bytes);
}
