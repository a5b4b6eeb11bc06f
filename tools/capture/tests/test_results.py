"""ckv_capture.results.load_campaign on a database made by a real small campaign (ckv-sweep on a
synthetic cache): one row per done unit and metric, parameters as columns, and per-task means
equal to ckv-sweep's own report."""

from __future__ import annotations

import math
import os
import shutil
import sqlite3

import pytest

from ckv_capture.results import load_campaign

from conftest import run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


@pytest.fixture(scope="module")
def campaign_db(tmp_path_factory, ckv_sweep):
    work = tmp_path_factory.mktemp("campaign")
    shutil.copy(os.path.join(ROOT, "tests", "data", "cli", "small.toml"), work / "small.toml")
    run([ckv_sweep, "small.toml", "--progress", "off"], cwd=work)
    return str(work / "small.sqlite")


def test_one_row_per_unit_and_metric_with_parameters_as_columns(campaign_db, ckv_sweep):
    df = load_campaign(campaign_db)  # the only campaign
    assert list(df.columns[:10]) == ["campaign", "unit", "configuration", "method", "numerics", "task", "category",
                                     "sample", "metric", "value"]
    assert "budget" in df.columns and "eval.topk" in df.columns and "eval.layers" in df.columns
    # small.toml: h2o and snapkv at budgets 96 and 128, and full; 2 tasks × 2 samples
    configurations = df.groupby("configuration")[["method", "budget"]].first()
    assert sorted(configurations.method) == ["full", "h2o", "h2o", "snapkv", "snapkv"]
    assert sorted(configurations.budget.dropna().astype(int)) == [96, 96, 128, 128]
    assert math.isnan(configurations[configurations.method == "full"].budget.iloc[0])
    assert set(df.task) == {"synth-multihop", "synth-needle"} and df["sample"].nunique() == 4
    assert (df.campaign == "small").all()
    # every unit carries the same metrics, once each
    assert not df.duplicated(["unit", "metric"]).any()
    per_unit = df.groupby("unit").metric.apply(frozenset)
    assert per_unit.nunique() == 1 and len(per_unit) == 5 * 4
    assert {"attn_recall", "output_error", "kept"} <= set(per_unit.iloc[0])
    assert df.numerics.nunique() == 1 and int(df.numerics.iloc[0]) >= 2

    # per task, the mean over samples is the database's own task_scores view (SQLite's AVG, the
    # figures ckv-sweep report tabulates), configuration by configuration
    connection = sqlite3.connect(campaign_db)
    views = connection.execute("SELECT configuration, task, mean, count FROM task_scores "
                               "WHERE campaign = 'small' AND metric = 'attn_recall'").fetchall()
    connection.close()
    ours = df[df.metric == "attn_recall"].groupby(["configuration", "task"]).value.agg(["mean", "count"])
    assert len(views) == len(ours) == 5 * 2
    for configuration, task, mean, count in views:
        assert ours.loc[(configuration, task), "mean"] == pytest.approx(mean, abs=1e-12)
        assert ours.loc[(configuration, task), "count"] == count == 2

    only = load_campaign(campaign_db, "small", metrics=["kept"])
    assert set(only.metric) == {"kept"} and len(only) == 20


def test_refusals(campaign_db, tmp_path):
    with pytest.raises(ValueError, match="no campaign 'nope' \\(campaigns: small\\)"):
        load_campaign(campaign_db, "nope")
    with pytest.raises(FileNotFoundError, match="no such database file"):
        load_campaign(str(tmp_path / "missing.sqlite"))
