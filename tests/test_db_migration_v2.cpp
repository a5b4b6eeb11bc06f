// A version-1 database (built here by migration 1 alone, as a v1 binary left it) is migrated to
// version 2 by the first writer that opens it, without losing a row; readers refuse it until then.
#include <catch2/catch.hpp>

#include "db/database.hpp"
#include "db/schema.hpp"
#include "db_test_helpers.hpp"

using namespace ckv;
using ckv_test::RawConnection;
using ckv_test::scalar_int;
using ckv_test::scalar_text;
using ckv_test::TempDir;

TEST_CASE("a version-1 database migrates to version 2 keeping every row", "[db]") {
  TempDir dir;
  const std::string path = dir.file("v1.sqlite");
  {
    RawConnection raw(path);
    REQUIRE(migrations().at(0).version == 1);
    REQUIRE(raw.exec(migrations()[0].sql) == SQLITE_OK);
    REQUIRE(raw.exec(R"sql(
      INSERT INTO schema_version VALUES (1, 0, 'initial schema');
      INSERT INTO campaigns VALUES (1, 'old', 'old.toml', 'text', 0, 0);
      INSERT INTO configurations VALUES (1, 'abc', 'snapkv', '{}', 0);
      INSERT INTO tasks VALUES ('hotpotqa', 'multi-doc QA', 'qa_f1', 0);
      INSERT INTO samples (id, task, sample_key, path, n_tokens, m_answer) VALUES (1, 'hotpotqa', 's1', '/x', 10, 2);
      INSERT INTO units VALUES (1, 1, 1, 'done', 1, NULL, 0);
      INSERT INTO campaign_units VALUES (1, 1);
      INSERT INTO attempts VALUES (1, 1, 0, 'h', 1, 0, 1, 'done', NULL);
      INSERT INTO results VALUES (1, 'attn_recall', 0.75);
    )sql") == SQLITE_OK);
  }
  CHECK_THROWS_WITH(Database::open(path, Database::Mode::ReadOnly),
                    Catch::Contains("schema version 1 is older"));
  {
    Database db = Database::open(path, Database::Mode::Writer);
    CHECK(db.schema_version() == 2);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM schema_version") == 2);
    CHECK(scalar_text(db, "SELECT description FROM schema_version WHERE version = 2").find("e2e") !=
          std::string::npos);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM campaigns") == 1);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM units WHERE state = 'done'") == 1);
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM attempts") == 1);
    CHECK(scalar_text(db, "SELECT mean FROM task_scores WHERE campaign = 'old'") == "0.75");
    CHECK(scalar_int(db, "SELECT COUNT(*) FROM e2e_predictions") == 0);
    db.exec("INSERT INTO e2e_tasks VALUES (1, 1, 'hotpotqa', 'qa_f1', 41.5, 1, 'p.jsonl', 0)");
    CHECK(scalar_text(db,
                      "SELECT e2e_score || ' ' || proxy_metric || ' ' || proxy_mean "
                      "FROM e2e_vs_proxy") == "41.5 attn_recall 0.75");
  }
  Database reader = Database::open(path, Database::Mode::ReadOnly);
  CHECK(reader.schema_version() == 2);
  CHECK(scalar_text(reader, "SELECT category FROM e2e_task_scores") == "multi-doc QA");
}
