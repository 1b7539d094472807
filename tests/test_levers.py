"""Seeded tables (levers, ablation, grid search): mean ± sd over seeds and the "beyond the seed spread" mark, by hand."""
import pytest

from analysis.experiments.seeded import Row, cells, markdown, summarise


def metrics(sst, para=0.8, sts=0.85):
    return {"sst_acc": sst, "para_acc": para, "sts_pearson": sts, "overall": (sst + para + (sts + 1) / 2) / 3}


def rows(*keys):
    return [Row(k, k, []) for k in keys]


def test_means_sds_and_marks():
    runs = {"baseline": {1: metrics(0.40), 2: metrics(0.42), 3: metrics(0.44)},
            "phrases": {1: metrics(0.46), 2: metrics(0.47), 3: metrics(0.48, para=0.81)},
            "ordinal": {1: metrics(0.41), 2: metrics(0.45)}}
    t = summarise(runs, rows("baseline", "phrases", "ordinal", "llrd"))
    base, phr, ordi = t["rows"]
    assert base["sst_acc"]["mean"] == pytest.approx(0.42) and base["sst_acc"]["sd"] == pytest.approx(0.02)
    assert phr["sst_acc"]["delta"] == pytest.approx(0.05) and phr["sst_acc"]["exceeds_spread"]  # 0.46 > 0.44
    assert not phr["para_acc"]["exceeds_spread"]  # 0.80-0.81 overlaps 0.80
    assert not ordi["sst_acc"]["exceeds_spread"]  # 0.41-0.45 overlaps 0.40-0.44
    assert [r["key"] for r in t["rows"]] == ["baseline", "phrases", "ordinal"]  # no runs, no row
    for r in t["rows"]:
        r["minutes"] = 5.0
    md = markdown(t)
    assert "0.4700 ± 0.0100 (+0.0500 ✓)" in md and "0.4300 ± 0.0283 (+0.0100)" in md
    assert len(cells(t)) == 3


def test_one_seed_has_no_sd_and_no_mark():
    t = summarise({"baseline": {1: metrics(0.4)}, "llrd": {1: metrics(0.5)}}, rows("baseline", "llrd"))
    assert t["rows"][1]["sst_acc"]["sd"] is None and not t["rows"][1]["sst_acc"]["exceeds_spread"]


def test_grid_cells_share_the_lever_baseline_and_start_from_it():
    from analysis.experiments.grid_search import grid_rows
    from analysis.experiments.levers import BASE, LEVERS
    g = grid_rows(["2e-5", "5e-5", "1e-4"], ["0.3"])
    assert [r.key for r in g][0] == "baseline" and len(g) == 3
    assert g[0].flags == [*BASE, *LEVERS["baseline"][1]]  # the same run as the lever table's baseline
    assert all(r.flags[:len(BASE)] == BASE for r in g) and "--lr" in g[1].flags


def test_a_seeded_table_renders_in_the_training_tab():
    from analysis.studio.training_view import any_table
    t = summarise({"baseline": {1: metrics(0.4), 2: metrics(0.42)}, "x": {1: metrics(0.5), 2: metrics(0.52)}},
                  rows("baseline", "x"))
    t.update(title="Grid search", row_label="cell")
    cols, cells_, title = any_table(t, "how")
    assert cols[0] == "cell" and cells_[1][2].startswith("0.5100 ± 0.0141 (+0.1000 ✓)")
    assert any_table(None, "python -m x")[1][0][0].endswith("python -m x")


def test_a_row_is_compared_with_its_parent_when_it_names_one():
    runs = {"a": {1: metrics(0.30), 2: metrics(0.31)}, "b": {1: metrics(0.40), 2: metrics(0.41)},
            "c": {1: metrics(0.41), 2: metrics(0.42)}}
    t = summarise(runs, [Row("a", "a", []), Row("b", "b", [], "a"), Row("c", "c", [], "b")], reference="")
    a, b, c = t["rows"]
    assert "delta" not in a["sst_acc"] and "against" not in a  # the first row has nothing to add to
    assert b["against"] == "a" and b["sst_acc"]["delta"] == pytest.approx(0.10) and b["sst_acc"]["exceeds_spread"]
    assert c["against"] == "b" and c["sst_acc"]["delta"] == pytest.approx(0.01) and not c["sst_acc"]["exceeds_spread"]
    t2 = summarise(runs, [Row("a", "a", []), Row("b", "+ b", [], "a"), Row("c", "+ c", [], "a")], reference="")
    for r in t2["rows"]:
        r["minutes"] = 1.0
    assert [row[0] for row in cells(t2)] == ["a", "+ b", "+ c [vs a]"]  # c's reference is not the row above
    assert [row[0] for row in cells(t)] == ["a", "b", "c"]


def test_ablation_rows_walk_from_the_report_to_the_lever_baseline():
    from analysis.experiments.ablation import FIRST, cumulative_rows
    from analysis.experiments.levers import BASE
    from minbert.train.recipe import parse_args
    for use_mlm in (False, True):
        rows = FIRST + cumulative_rows(use_mlm)
        keys = [r.key for r in rows]
        assert len(set(keys)) == len(keys) and all(r.parent in keys for r in rows[1:])
        assert all(r.flags[:len(BASE)] == BASE for r in rows)
        assert all(keys.index(r.parent) < keys.index(r.key) for r in rows[1:])  # parents come first
    linear = next(r for r in cumulative_rows(False) if r.key == "baseline")
    same = [parse_args(flags).__dict__ | {"command": ""} for flags in (linear.flags, BASE)]
    assert same[0] == same[1]  # the shared run really is the lever baseline
    assert parse_args(cumulative_rows(True)[4].flags).mlm_epochs == 1


def test_a_finished_run_is_reused_only_for_its_own_settings(tmp_path):
    import json
    from dataclasses import asdict

    from analysis.experiments.runner import check_same_config
    from minbert.train.recipe import parse_args
    flags = ["--lr", "1e-4", "--para-val", "0", "--sst-layers", "0"]
    cfg = parse_args([*flags, "--out-dir", str(tmp_path)])
    stored = asdict(cfg)
    del stored["para_val"], stored["sst_layers"]  # added after the run with defaults that are not off: it had them off
    (tmp_path / "model.json").write_text(json.dumps({"train_config": {**stored, "out_dir": "elsewhere"}}))
    check_same_config(tmp_path, cfg)
    check_same_config(tmp_path, parse_args([*flags, "--threads", "1"]))  # speed only
    with pytest.raises(SystemExit, match="lr: 0.0001 there, 5e-05 now"):
        check_same_config(tmp_path, parse_args([*flags[2:], "--out-dir", str(tmp_path)]))
    with pytest.raises(SystemExit, match="para_val: 0 there, 1000 now"):
        check_same_config(tmp_path, parse_args(["--lr", "1e-4", "--sst-layers", "0"]))
    with pytest.raises(SystemExit, match="sst_layers: 0 there, 1 now"):
        check_same_config(tmp_path, parse_args(flags[:4]))
    (tmp_path / "model.json").write_text(json.dumps({"train_config": {**stored, "mnrl_weight": 0.0}}))
    check_same_config(tmp_path, cfg)  # a retired lever at its off value: what every run trains now
    (tmp_path / "model.json").write_text(json.dumps({"train_config": {**stored, "mnrl_weight": 1.0}}))
    with pytest.raises(SystemExit, match="mnrl_weight: 1.0 there"):  # a retired lever, on: not today's run
        check_same_config(tmp_path, cfg)


def test_the_ablation_carries_mlm_only_beyond_the_seed_spread():
    from analysis.experiments.ablation import FIRST, mlm_helps
    close = {"abl-finetune": {1: metrics(0.30), 2: metrics(0.32)}, "abl-mlm": {1: metrics(0.31), 2: metrics(0.33)}}
    clear = {"abl-finetune": {1: metrics(0.30), 2: metrics(0.32)}, "abl-mlm": {1: metrics(0.36), 2: metrics(0.38)}}
    worse = {"abl-finetune": {1: metrics(0.36), 2: metrics(0.38)}, "abl-mlm": {1: metrics(0.30), 2: metrics(0.32)}}
    assert not mlm_helps(summarise(close, FIRST, reference=""))  # a better mean inside the spread is not enough
    assert mlm_helps(summarise(clear, FIRST, reference=""))
    assert not mlm_helps(summarise(worse, FIRST, reference=""))


def test_markdown_escapes_pipes_in_row_names():
    t = summarise({"baseline": {1: metrics(0.4)}}, [Row("baseline", "[u,v,|u-v|,uv] head", [])])
    t["rows"][0]["minutes"] = 1.0
    assert "[u,v,\\|u-v\\|,uv] head" in markdown(t) and markdown(t).splitlines()[-1].count(" | ") == 6


@pytest.mark.parametrize("cli", ["levers", "grid_search", "ablation"])
def test_seeded_clis_share_the_budget_flags(cli, tmp_path, capsys, monkeypatch):
    import importlib
    import minbert.machine
    main = importlib.import_module(f"analysis.experiments.{cli}").main
    monkeypatch.setattr(minbert.machine, "cpu_info", lambda: ("Test CPU", set()))
    for bad in (["--seeds", "1,x"], ["--threads", "-1"]):
        with pytest.raises(SystemExit) as e:
            main(["--out", str(tmp_path), "--table-only", *bad])
        assert e.value.code == 2 and "error:" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--table-only", "--threads", "1", "--seeds", "5"]) == 0  # nothing run yet
    assert "seeds 5, " in (out := capsys.readouterr().out) and "-core Test CPU; " in out  # the machine it ran on
