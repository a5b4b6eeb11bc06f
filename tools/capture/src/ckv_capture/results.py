"""A campaign's results as a pandas DataFrame (docs/user-guide.md, "Results in Python").

    from ckv_capture.results import load_campaign
    df = load_campaign("results/a2.sqlite", "a2")

One row per done unit and metric: the unit's configuration (hash, method, every parameter of its
canonical document as a column, the evaluation settings as `eval.*` columns, the numerics
version), its sample (task, LongBench category, sample id) and the metric's value (NaN where the
metric could not be computed, as NULL in the database). The database is opened read-only; a
campaign still running is read as far as it is done.
"""

from __future__ import annotations

import json
import os
import sqlite3

_QUERY = """
SELECT u.id AS unit, cf.hash AS configuration, cf.method AS method, cf.canonical_json AS canonical_json,
       s.task AS task, COALESCE(t.category, 'other') AS category, s.sample_key AS sample,
       r.metric AS metric, r.value AS value
FROM campaigns c
JOIN campaign_units cu ON cu.campaign_id = c.id
JOIN units u ON u.id = cu.unit_id
JOIN configurations cf ON cf.id = u.configuration_id
JOIN samples s ON s.id = u.sample_id
LEFT JOIN tasks t ON t.name = s.task
JOIN results r ON r.unit_id = u.id
WHERE u.state = 'done' AND c.name = ?
ORDER BY u.id, r.metric
"""

FIXED_COLUMNS = ("campaign", "unit", "configuration", "method", "numerics", "task", "category", "sample", "metric",
                 "value")


def _cell(value):
    # Lists and objects (e.g. eval.layers [0, 8]) as canonical JSON text, so that every column can
    # be grouped on and compared.
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def load_campaign(db_path: str, campaign: str | None = None, metrics: list[str] | None = None):
    """The done results of `campaign` (default: the database's only campaign) in `db_path`.

    Columns: campaign, unit, configuration (hash), method, numerics (the configuration's numerics
    version, 1 for documents stored before it existed), task, category, sample, metric, value,
    then one column per method parameter (named as in the sweep file; NaN/None for methods that do
    not have it; a parameter whose name is one of the fixed columns gets the prefix `param.`),
    then `eval.topk`, `eval.layers` (lists as JSON text). `metrics` keeps only those metrics.
    Raises FileNotFoundError for a missing file, ValueError for an unknown campaign."""
    import pandas as pd

    if not os.path.isfile(db_path):
        raise FileNotFoundError(f"{db_path}: no such database file")
    connection = sqlite3.connect(f"file:{os.path.abspath(db_path)}?mode=ro", uri=True)
    try:
        names = [row[0] for row in connection.execute("SELECT name FROM campaigns ORDER BY name")]
        if campaign is None:
            if len(names) != 1:
                raise ValueError(f"{db_path}: {len(names)} campaigns; name one ({', '.join(names)})")
            campaign = names[0]
        if campaign not in names:
            raise ValueError(f"{db_path}: no campaign '{campaign}' (campaigns: {', '.join(names) or 'none'})")
        rows = connection.execute(_QUERY, (campaign,)).fetchall()
    finally:
        connection.close()

    wanted = set(metrics) if metrics is not None else None
    records, param_names, eval_names, documents = [], [], [], {}
    for unit, configuration, method, canonical, task, category, sample, metric, value in rows:
        if wanted is not None and metric not in wanted:
            continue
        if configuration not in documents:
            document = json.loads(canonical)
            documents[configuration] = document
            for name in document.get("params", {}):
                if name not in param_names:
                    param_names.append(name)
            for name in document.get("eval", {}):
                if name != "numerics" and name not in eval_names:
                    eval_names.append(name)
        document = documents[configuration]
        record = {"campaign": campaign, "unit": unit, "configuration": configuration, "method": method,
                  "numerics": int(document.get("eval", {}).get("numerics", 1)), "task": task, "category": category,
                  "sample": sample, "metric": metric, "value": float("nan") if value is None else float(value)}
        for name, v in document.get("params", {}).items():
            record[f"param.{name}" if name in FIXED_COLUMNS else name] = _cell(v)
        for name, v in document.get("eval", {}).items():
            if name != "numerics":
                record[f"eval.{name}"] = _cell(v)
        records.append(record)
    columns = list(FIXED_COLUMNS) + [f"param.{n}" if n in FIXED_COLUMNS else n for n in param_names] + \
        [f"eval.{n}" for n in eval_names]
    return pd.DataFrame.from_records(records, columns=columns)
