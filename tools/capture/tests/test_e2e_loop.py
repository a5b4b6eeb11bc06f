"""The end-to-end loop with the installed commands: ckv-capture -> ckv-sweep campaign (two methods,
two budgets) -> export-keep -> ckv-generate -> import-predictions -> compare-e2e's table."""

from __future__ import annotations

import csv
import io
import json

from conftest import console_script, run


def _query(ckv_sweep, db, sql):
    out = run([ckv_sweep, "query", db, sql, "--format", "csv"]).stdout
    return list(csv.reader(io.StringIO(out)))[1:]


def test_capture_campaign_export_generate_import_compare(assets, tmp_path, ckv_sweep):
    cache, db = str(tmp_path / "cache"), str(tmp_path / "loop.sqlite")
    capture_cmd, generate_cmd = console_script("ckv-capture"), console_script("ckv-generate")
    # window rows suffice for window methods (SnapKV, StreamingLLM); every layer for generation
    run([capture_cmd, "--model", assets["llama"], "--longbench", assets["longbench"], "--out", cache,
         "--device", "cpu", "--dtype", "float32", "--max-length", "400", "--query-rows", "64", "--samples", "2"])
    spec = tmp_path / "loop.toml"
    spec.write_text(f"""
[campaign]
name = "loop"
database = "{db}"

[data]
cache = "{cache}"
tasks = ["hotpotqa", "trec"]

[run]
threads = 2

[[methods]]
name = "snapkv"
window = 16

[[methods]]
name = "streaming_llm"
window = 16

[[grid]]
budget = [48, 160]
""")
    run([ckv_sweep, str(spec), "--progress", "off"])
    configurations = _query(ckv_sweep, db, "select hash, method, canonical_json from configurations order by method, hash")
    assert len(configurations) == 4 and {m for _, m, _ in configurations} == {"snapkv", "streaming_llm"}
    assert _query(ckv_sweep, db, "select count(*) from units where state = 'done'") == [["16"]]

    for config_hash, _method, canonical in configurations:
        config_file = tmp_path / f"{config_hash[:12]}.json"
        config_file.write_text(canonical)
        keep = tmp_path / f"keep-{config_hash[:12]}.jsonl"
        run([ckv_sweep, "export-keep", "--cache", cache, "--config", str(config_file), "--out", str(keep)])
        lines = [json.loads(text) for text in open(keep)]
        assert len(lines) == 4 and all(entry["config_hash"] == config_hash and sorted(entry["layers"]) == ["0", "1", "2"]
                                       for entry in lines)
        pred = tmp_path / f"pred-{config_hash[:12]}"
        run([generate_cmd, "--model", assets["llama"], "--longbench", assets["longbench"], "--keep", str(keep),
             "--out", str(pred), "--cache", cache, "--device", "cpu"])
        imported = run([ckv_sweep, "import-predictions", db, "--campaign", "loop", "--config", config_hash,
                        "--predictions", str(pred / "hotpotqa.jsonl"), str(pred / "trec.jsonl"),
                        "--longbench", assets["longbench"]]).stdout
        assert "hotpotqa qa_f1 = " in imported and "trec classification = " in imported

    assert _query(ckv_sweep, db, "select count(*) from e2e_predictions") == [["16"]]
    assert _query(ckv_sweep, db, "select count(distinct configuration_id) from e2e_tasks") == [["4"]]
    table = run([ckv_sweep, "compare-e2e", db, "--campaign", "loop", "--metric", "attn_recall"]).stdout
    assert "mean over 2 task(s): hotpotqa, trec" in table, table
    # each row by its method and varying parameter (two budgets of one method told apart)
    for config_hash, method, canonical in configurations:
        budget = json.loads(canonical)["params"]["budget"]
        assert f"| {method} budget={budget} | {config_hash[:12]} |" in table, table
    # per task and overall: the samples captured and predicted are the same, resampled together
    assert "| hotpotqa | 4 | 2 | 2 |" in table and "| trec | 4 | 2 | 2 |" in table and "| overall | 4 | 4 | 4 |" in table, table
    # keeping more never recalls less attention: the proxy ranks each method's 160 above its 48
    proxy = dict(_query(ckv_sweep, db, "select c.hash, avg(r.value) from results r join units u on u.id = r.unit_id "
                                      "join configurations c on c.id = u.configuration_id where r.metric = 'attn_recall' "
                                      "group by c.hash"))
    budgets = {h: json.loads(c)["params"]["budget"] for h, _, c in configurations}
    for method in ("snapkv", "streaming_llm"):
        small, large = sorted((budgets[h], float(proxy[h])) for h, m, _ in configurations if m == method)
        assert large[1] > small[1]


def test_export_keep_refuses_a_cache_without_every_layer(assets, tmp_path, ckv_sweep):
    cache = str(tmp_path / "partial")
    run([console_script("ckv-capture"), "--model", assets["llama"], "--longbench", assets["longbench"], "--out", cache,
         "--device", "cpu", "--dtype", "float32", "--max-length", "400", "--query-rows", "64", "--layers", "0,2",
         "--tasks", "trec", "--samples", "1"])
    result = run([ckv_sweep, "export-keep", "--cache", cache, "--method", "snapkv", "--set", "budget=48",
                  "--set", "window=16", "--out", str(tmp_path / "keep.jsonl")], expect=1)
    assert ("(sample 'tr00'): the keep-sets would cover layers [0, 2] of the model's 3; missing layers [1]"
            in result.stderr), result.stderr
    assert not (tmp_path / "keep.jsonl").exists()
