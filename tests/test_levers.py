"""The lever table: mean ± sd over seeds and the 'beyond the seed spread' mark, against numbers by hand."""
import pytest

from analysis.levers import cells, markdown, summarise


def metrics(sst, para=0.8, sts=0.85):
    return {"sst_acc": sst, "para_acc": para, "sts_pearson": sts, "overall": (sst + para + (sts + 1) / 2) / 3}


def test_means_sds_and_marks():
    runs = {"baseline": {1: metrics(0.40), 2: metrics(0.42), 3: metrics(0.44)},
            "phrases": {1: metrics(0.46), 2: metrics(0.47), 3: metrics(0.48, para=0.81)},
            "ordinal": {1: metrics(0.41), 2: metrics(0.45)}}
    t = summarise(runs, ["baseline", "phrases", "ordinal", "llrd"])
    base, phr, ordi = t["rows"]
    assert base["sst_acc"]["mean"] == pytest.approx(0.42) and base["sst_acc"]["sd"] == pytest.approx(0.02)
    assert phr["sst_acc"]["delta"] == pytest.approx(0.05) and phr["sst_acc"]["exceeds_spread"]  # 0.46 > 0.44
    assert not phr["para_acc"]["exceeds_spread"]  # 0.80-0.81 overlaps 0.80
    assert not ordi["sst_acc"]["exceeds_spread"]  # 0.41-0.45 overlaps 0.40-0.44
    assert [r["lever"] for r in t["rows"]] == ["baseline", "phrases", "ordinal"]  # no runs, no row
    for r in t["rows"]:
        r["minutes"] = 5.0
    md = markdown(t)
    assert "0.4700 ± 0.0100 (+0.0500 ✓)" in md and "0.4300 ± 0.0283 (+0.0100)" in md
    assert len(cells(t)) == 3


def test_one_seed_has_no_sd_and_no_mark():
    t = summarise({"baseline": {1: metrics(0.4)}, "llrd": {1: metrics(0.5)}}, ["baseline", "llrd"])
    assert t["rows"][1]["sst_acc"]["sd"] is None and not t["rows"][1]["sst_acc"]["exceeds_spread"]
