#include "db/schema.hpp"

namespace ckv {

// Version 1. Timestamps are unix seconds (REAL). Units are keyed by (configuration, sample)
// and shared by every campaign that links them, so a unit done under one spec counts as done
// for any later spec that contains it (docs/spec/MISSION.md R2).
const char kSchemaV1[] = R"sql(
CREATE TABLE schema_version (
  version     INTEGER PRIMARY KEY,
  applied_at  REAL NOT NULL,
  description TEXT NOT NULL
);

CREATE TABLE campaigns (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  spec_path  TEXT NOT NULL,
  spec_text  TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);

CREATE TABLE configurations (
  id             INTEGER PRIMARY KEY,
  hash           TEXT NOT NULL UNIQUE,   -- SHA-256 of canonical_json
  method         TEXT NOT NULL,
  canonical_json TEXT NOT NULL,
  created_at     REAL NOT NULL
);

-- Filled from common/tasks.hpp each time a writer opens the database (insert-or-ignore), so
-- tasks added to a later build appear. Not a foreign key of samples: a cache may carry a task
-- this build does not know; the views put it in category 'other'.
CREATE TABLE tasks (
  name       TEXT PRIMARY KEY,
  category   TEXT NOT NULL,
  e2e_metric TEXT NOT NULL,              -- '' for synthetic tasks
  synthetic  INTEGER NOT NULL CHECK (synthetic IN (0, 1))
);

CREATE TABLE samples (
  id         INTEGER PRIMARY KEY,
  task       TEXT NOT NULL,
  sample_key TEXT NOT NULL,
  path       TEXT NOT NULL,
  n_tokens   INTEGER NOT NULL,
  m_answer   INTEGER NOT NULL,
  -- Two caches may hold samples with the same task and id (different models, seeds or
  -- captures): the fingerprint of the file's content tells them apart (cache/sample_cache.hpp).
  fingerprint TEXT NOT NULL DEFAULT '',
  UNIQUE (task, sample_key, fingerprint)
);

CREATE TABLE units (
  id               INTEGER PRIMARY KEY,
  configuration_id INTEGER NOT NULL REFERENCES configurations (id),
  sample_id        INTEGER NOT NULL REFERENCES samples (id),
  state            TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'running', 'done', 'failed', 'lost')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  updated_at       REAL NOT NULL,
  UNIQUE (configuration_id, sample_id)
);

CREATE TABLE campaign_units (
  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
  unit_id     INTEGER NOT NULL REFERENCES units (id),
  PRIMARY KEY (campaign_id, unit_id)
) WITHOUT ROWID;
CREATE INDEX campaign_units_by_unit ON campaign_units (unit_id);

CREATE TABLE attempts (
  id         INTEGER PRIMARY KEY,
  unit_id    INTEGER NOT NULL REFERENCES units (id),
  rank       INTEGER NOT NULL,
  host       TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  started_at REAL NOT NULL,
  ended_at   REAL,
  outcome    TEXT CHECK (outcome IS NULL OR outcome IN ('done', 'failed', 'lost')),
  error      TEXT
);
CREATE INDEX attempts_by_unit ON attempts (unit_id);
-- status: attempts that ended in the recent window (rate, ETA).
CREATE INDEX attempts_by_end ON attempts (ended_at);

CREATE TABLE results (
  unit_id INTEGER NOT NULL REFERENCES units (id),
  metric  TEXT NOT NULL,
  value   REAL,                           -- NULL: the metric could not be computed (docs/spec/METRICS.md)
  PRIMARY KEY (unit_id, metric)
) WITHOUT ROWID;
-- report: list metrics without scanning every result.
CREATE INDEX results_by_metric ON results (metric, unit_id);

-- One row per result of a done unit, per campaign that includes the unit.
CREATE VIEW unit_results AS
SELECT c.name AS campaign, cf.hash AS configuration, cf.method AS method,
       cf.canonical_json AS canonical_json, s.task AS task, s.sample_key AS sample_key,
       r.metric AS metric, r.value AS value
FROM campaigns c
JOIN campaign_units cu ON cu.campaign_id = c.id
JOIN units u ON u.id = cu.unit_id
JOIN configurations cf ON cf.id = u.configuration_id
JOIN samples s ON s.id = u.sample_id
JOIN results r ON r.unit_id = u.id
WHERE u.state = 'done';

-- Per task: mean over samples of done units. AVG and COUNT skip NULL values, so a metric that
-- could not be computed for a sample neither drags the mean to 0 nor counts.
-- Grouped by the output columns (not ids) so that `WHERE campaign = ... AND metric = ...` on
-- the view is applied before aggregating.
CREATE VIEW task_scores AS
SELECT c.name AS campaign, cf.hash AS configuration, cf.method AS method, s.task AS task,
       COALESCE(t.category, 'other') AS category, r.metric AS metric,
       AVG(r.value) AS mean, COUNT(r.value) AS count
FROM campaigns c
JOIN campaign_units cu ON cu.campaign_id = c.id
JOIN units u ON u.id = cu.unit_id
JOIN configurations cf ON cf.id = u.configuration_id
JOIN samples s ON s.id = u.sample_id
LEFT JOIN tasks t ON t.name = s.task
JOIN results r ON r.unit_id = u.id
WHERE u.state = 'done'
GROUP BY c.name, cf.hash, cf.method, s.task, COALESCE(t.category, 'other'), r.metric;

-- Cross-task aggregates (docs/spec/METRICS.md): task_mean is the mean of the task means (the 16-task
-- mean of the KV-compression papers), category_mean the mean over categories of the mean of
-- the task means within each category (LongBench). Tasks without any value are left out of
-- both; `tasks` and `categories` say how many went in. One chain of aggregates (no join),
-- so `WHERE campaign = ... AND metric = ...` reaches task_scores and its indexes.
CREATE VIEW campaign_summary AS
SELECT campaign, configuration, method, metric,
       SUM(task_sum) / SUM(task_count) AS task_mean,
       AVG(category_mean) AS category_mean,
       SUM(task_count) AS tasks, COUNT(*) AS categories
FROM (SELECT campaign, configuration, method, metric, category,
             SUM(mean) AS task_sum, COUNT(*) AS task_count, AVG(mean) AS category_mean
      FROM task_scores WHERE mean IS NOT NULL
      GROUP BY campaign, configuration, method, metric, category)
GROUP BY campaign, configuration, method, metric;

CREATE VIEW campaign_progress AS
SELECT c.name AS campaign, COUNT(u.id) AS total,
       COALESCE(SUM(u.state = 'pending'), 0) AS pending,
       COALESCE(SUM(u.state = 'running'), 0) AS running,
       COALESCE(SUM(u.state = 'done'), 0) AS done,
       COALESCE(SUM(u.state = 'failed'), 0) AS failed,
       COALESCE(SUM(u.state = 'lost'), 0) AS lost
FROM campaigns c
LEFT JOIN campaign_units cu ON cu.campaign_id = c.id
LEFT JOIN units u ON u.id = cu.unit_id
GROUP BY c.id, c.name;

-- What went wrong and where: failed and lost units with their last error.
CREATE VIEW unit_failures AS
SELECT c.name AS campaign, cf.hash AS configuration, cf.method AS method, s.task AS task,
       s.sample_key AS sample_key, u.state AS state, u.attempts AS attempts,
       u.last_error AS last_error, u.updated_at AS updated_at
FROM campaigns c
JOIN campaign_units cu ON cu.campaign_id = c.id
JOIN units u ON u.id = cu.unit_id
JOIN configurations cf ON cf.id = u.configuration_id
JOIN samples s ON s.id = u.sample_id
WHERE u.state IN ('failed', 'lost');
)sql";

// Version 2 (docs/spec/MISSION.md R11, docs/e2e.md): end-to-end scores of predictions generated elsewhere with a
// configuration's keep-sets, imported by `ckv-sweep import-predictions`, so proxy rankings and
// LongBench scores sit in the same database. An import replaces one (campaign, configuration,
// task) in one transaction: its per-sample rows and its task row stay consistent.
const char kSchemaV2[] = R"sql(
CREATE TABLE e2e_predictions (
  campaign_id      INTEGER NOT NULL REFERENCES campaigns (id),
  configuration_id INTEGER NOT NULL REFERENCES configurations (id),
  task             TEXT NOT NULL,
  sample_key       TEXT NOT NULL,          -- LongBench _id
  prediction       TEXT NOT NULL,
  metric           TEXT NOT NULL,          -- qa_f1, rouge, classification, retrieval, count, code_sim
  score            REAL NOT NULL,          -- LongBench's per-sample score in [0, 1]
  source           TEXT NOT NULL,          -- the predictions FILE:LINE it came from
  imported_at      REAL NOT NULL,
  PRIMARY KEY (campaign_id, configuration_id, task, sample_key)
) WITHOUT ROWID;

-- The task figure as LongBench's eval.py prints it, computed at import (file order, Python
-- rounding) rather than by SQLite's ROUND, which may round a tie differently.
CREATE TABLE e2e_tasks (
  campaign_id      INTEGER NOT NULL REFERENCES campaigns (id),
  configuration_id INTEGER NOT NULL REFERENCES configurations (id),
  task             TEXT NOT NULL,
  metric           TEXT NOT NULL,
  score            REAL NOT NULL,          -- round(100 * mean of the sample scores, 2)
  count            INTEGER NOT NULL,       -- samples scored
  source           TEXT NOT NULL,          -- the predictions file
  imported_at      REAL NOT NULL,
  PRIMARY KEY (campaign_id, configuration_id, task)
) WITHOUT ROWID;

CREATE VIEW e2e_task_scores AS
SELECT c.name AS campaign, cf.hash AS configuration, cf.method AS method, e.task AS task,
       COALESCE(t.category, 'other') AS category, e.metric AS metric, e.score AS score,
       e.count AS count
FROM e2e_tasks e
JOIN campaigns c ON c.id = e.campaign_id
JOIN configurations cf ON cf.id = e.configuration_id
LEFT JOIN tasks t ON t.name = e.task;

-- Per task, the end-to-end score beside every proxy metric of the same campaign and
-- configuration (proxy means are over the cached samples of that task).
CREATE VIEW e2e_vs_proxy AS
SELECT e.campaign AS campaign, e.configuration AS configuration, e.method AS method,
       e.task AS task, e.category AS category, e.metric AS e2e_metric, e.score AS e2e_score,
       e.count AS e2e_count, p.metric AS proxy_metric, p.mean AS proxy_mean,
       p.count AS proxy_count
FROM e2e_task_scores e
JOIN task_scores p
  ON p.campaign = e.campaign AND p.configuration = e.configuration AND p.task = e.task;
)sql";

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = [] {
    std::vector<Migration> out;
    for (const MigrationScript& script : kMigrationScripts)
      out.push_back(Migration{int(out.size()) + 1, script.description, script.sql});
    return out;
  }();
  return list;
}

}  // namespace ckv
