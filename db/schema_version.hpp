// Schema versions of a database file (internal to db/): migration by the writer, the version
// check of a reader.
#pragma once
#include "db/database.hpp"

namespace ckv::db_detail {

// Applies every migration newer than the database, and refreshes the task table, in one
// BEGIN IMMEDIATE transaction: a database is never left half-migrated, and the transaction
// doubles as the check that no other connection holds the write lock. Refuses a database of
// another program, or of a newer schema than this build knows.
void migrate(Database& db);

// A reader must not change anything: an older schema is reported, not migrated; a newer one is
// refused.
void check_readable_version(Database& db);

}  // namespace ckv::db_detail
