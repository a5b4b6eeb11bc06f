// The schema as an ordered list of migrations (docs/database.md). Migration i takes a database
// from version i-1 to version i, and the schema version this build writes is their count: the
// version is written nowhere else. A migration is only ever appended, never edited once
// released: databases in the field were built by the old text.
#pragma once
#include <iterator>
#include <string>
#include <vector>

namespace ckv {

// The SQL of each migration (db/schema.cpp).
extern const char kSchemaV1[];
extern const char kSchemaV2[];

struct MigrationScript {
  const char* description;
  const char* sql;  // one script, run inside the migrating transaction
};

inline constexpr MigrationScript kMigrationScripts[] = {
    {"initial schema: campaigns, configurations, tasks, samples, units, attempts, results", kSchemaV1},
    {"end-to-end scores: e2e_predictions, e2e_tasks, e2e_task_scores, e2e_vs_proxy", kSchemaV2},
};

inline constexpr int kSchemaVersion = int(std::size(kMigrationScripts));

struct Migration {
  int version;  // its position in kMigrationScripts, from 1
  std::string description;
  std::string sql;
};

// kMigrationScripts with their versions, oldest first.
const std::vector<Migration>& migrations();

}  // namespace ckv
