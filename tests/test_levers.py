"""Seeded tables (levers, grid search): mean ± sd over seeds and the 'beyond the seed spread' mark, by hand."""
import pytest

from analysis.seeded import Row, cells, markdown, summarise


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
    from analysis.grid_search import grid_rows
    from analysis.levers import BASE, LEVERS
    g = grid_rows(["2e-5", "5e-5", "1e-4"], ["0.3"], ["1"])
    assert [r.key for r in g][0] == "baseline" and len(g) == 3
    assert g[0].flags == [*BASE, *LEVERS["baseline"][1]]  # the same run as the lever table's baseline
    assert all(r.flags[:len(BASE)] == BASE for r in g) and "--lr" in g[1].flags


def test_a_seeded_table_renders_in_the_training_tab():
    from analysis.training_view import any_table
    t = summarise({"baseline": {1: metrics(0.4), 2: metrics(0.42)}, "x": {1: metrics(0.5), 2: metrics(0.52)}},
                  rows("baseline", "x"))
    t.update(title="Grid search", row_label="cell")
    cols, cells_, title = any_table(t, "how")
    assert cols[0] == "cell" and cells_[1][2].startswith("0.5100 ± 0.0141 (+0.1000 ✓)")
    assert any_table(None, "python -m x")[1][0][0].endswith("python -m x")
