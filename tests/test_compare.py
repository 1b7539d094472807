"""Comparing two models: the paired tests against SciPy, self-comparison, epoch records from training."""
import json

import numpy as np
import pytest

from analysis import compare
from analysis.significance import mcnemar, paired_bootstrap
from tests.app_server import CHECKPOINT
from tests.tiny_recipe import TINY_RECIPE

needs_ckpt = pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")


def hand_mcnemar_p(b: int, c: int) -> float:
    """The exact two-sided p by hand: 2 * P(Binomial(b + c, 1/2) <= min(b, c)), at most 1."""
    from math import comb
    n = b + c
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n) if n else 1.0


@pytest.mark.parametrize("n,pa,pb", [(40, 0.6, 0.7), (600, 0.8, 0.82), (3000, 0.5, 0.5)])
def test_mcnemar_matches_the_exact_binomial_by_hand(n, pa, pb):
    rng = np.random.default_rng(n)
    a, b = rng.random(n) < pa, rng.random(n) < pb
    r = mcnemar(a, b)
    assert r["a_right_b_wrong"] == int((a & ~b).sum()) and r["a_wrong_b_right"] == int((~a & b).sum())
    assert r["p_value"] == pytest.approx(hand_mcnemar_p(r["a_right_b_wrong"], r["a_wrong_b_right"]), rel=1e-9)


def test_mcnemar_known_values():
    def flips(b, c):  # b pairs A right and B wrong, c the reverse, 5 both right
        return np.array([1] * b + [0] * c + [1] * 5, bool), np.array([0] * b + [1] * c + [1] * 5, bool)
    assert mcnemar(*flips(2, 8))["p_value"] == pytest.approx(2 * (1 + 10 + 45) / 2 ** 10)  # 0.109375
    assert mcnemar(*flips(0, 6))["p_value"] == pytest.approx(2 / 2 ** 6)
    assert mcnemar(*flips(4, 4))["p_value"] == 1.0 and mcnemar(*flips(0, 0))["p_value"] == 1.0  # nothing flips


def test_paired_bootstrap_sees_a_real_difference_and_none_in_a_copy():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 5, 800).astype(float)
    good = np.where(rng.random(800) < 0.7, gold, rng.integers(0, 5, 800))
    bad = np.where(rng.random(800) < 0.5, gold, rng.integers(0, 5, 800))
    r = paired_bootstrap("sst", gold, {"pred": bad}, {"pred": good})["accuracy"]
    assert r["ci95"][0] > 0 and r["p_value"] < 0.01
    idx = np.random.default_rng(0).integers(0, 800, (1000, 800))  # the old hand bootstrap: shared draws, seed 0
    d = (good[idx] == gold[idx]).mean(1) - (bad[idx] == gold[idx]).mean(1)
    assert r["ci95"] == [round(float(np.percentile(d, q)), 4) for q in (2.5, 97.5)]
    assert r["p_value"] == min(1.0, 2 * (min((d <= 0).sum(), (d >= 0).sum()) + 1) / 1001)
    same = paired_bootstrap("sst", gold, {"pred": good}, {"pred": good})["accuracy"]
    assert same["ci95"] == [0.0, 0.0] and same["p_value"] == 1.0


@needs_ckpt
def test_a_model_compared_with_itself_shows_nothing():
    src = compare.load_source(str(CHECKPOINT))
    r = compare.compare(src, src)
    assert set(r["tasks"]) == {"sst", "para", "sts"}
    for t, res in r["tasks"].items():
        assert res["diff"] == 0 and res["ci95"] == [0.0, 0.0] and res["p_value"] == 1.0
        if t == "sts":
            assert res["closer_in_a"] == [] == res["closer_in_b"]
        else:
            assert res["a_right_b_wrong"] == [] == res["a_wrong_b_right"]
            assert not np.any(res["confusion_diff"])


@needs_ckpt
def test_the_shipped_model_against_its_first_epoch():
    r = compare.compare(compare.load_source(f"{CHECKPOINT}@epoch1"), compare.load_source(str(CHECKPOINT)))
    meta = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    first, final = meta["epoch_predictions"]["epochs"][0]["metrics"], meta["metrics"]
    assert r["tasks"]["sst"]["diff"] == pytest.approx(final["sst_acc"] - first["sst_acc"], abs=1e-9)
    assert r["tasks"]["sts"]["b"] == pytest.approx(final["sts_pearson"], abs=1e-4)  # scores are stored to 4-5 decimals
    for t in ("sst", "para"):
        res = r["tasks"][t]
        assert len(res["a_wrong_b_right"]) == res["mcnemar"]["a_wrong_b_right"]
        assert np.sum(res["confusion_diff"]) == 0  # the same examples, only moved between cells
        net = res["mcnemar"]["a_wrong_b_right"] - res["mcnemar"]["a_right_b_wrong"]
        assert res["diff"] == pytest.approx(net / res["n"])


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(compare.CompareError, match="no such checkpoint"):
        compare.load_source(str(tmp_path / "nothing"))
    if CHECKPOINT.with_suffix(".json").exists():
        with pytest.raises(compare.CompareError, match="no dev predictions of epoch 9"):
            compare.load_source(f"{CHECKPOINT}@epoch9")


@pytest.mark.slow
def test_training_records_every_epoch_and_the_cli_compares_them(data_dir, tmp_path, capsys):
    from minbert.train.loop import main as train
    run = tmp_path / "run"
    assert train(["--data-dir", str(data_dir), "--limit", "24", "--epochs", "2", "--out-dir", str(run), "--quiet",
                  *TINY_RECIPE]) == 0
    rec = json.loads((run / "epoch_predictions.json").read_text())
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in rec["epochs"]] == [1, 2] and "final" in rec
    assert [e["metrics"] for e in rec["epochs"]] == [x["dev"] for x in log]
    assert json.loads((run / "model.json").read_text())["epoch_predictions"]["epochs"][1]["epoch"] == 2
    assert f"{run}/model@epoch1" in compare.list_sources([tmp_path])
    assert compare.main([f"{run}@epoch1", str(run), "--out-json", str(tmp_path / "c.json")]) == 0
    assert "McNemar" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["tasks"]["sst"]["n"] == 24


@needs_ckpt
def test_the_app_lists_its_own_epochs_first_and_takes_compare_other(tmp_path):
    from analysis.studio.service import Studio
    other = f"{CHECKPOINT}@epoch1"
    s = Studio(CHECKPOINT, compare_with=other)
    src = s.compare_sources()
    assert src[:2] == [str(CHECKPOINT), other]
    msg, fig, report = s.compare(str(CHECKPOINT), other)
    assert report["b"] == other and fig is not None
    cap, rows = s.flips(report, "para", "A right, B wrong")
    assert len(rows) == report["tasks"]["para"]["mcnemar"]["a_right_b_wrong"] and "A right and B wrong" in cap
    assert s.compare(str(tmp_path), str(CHECKPOINT))[0].startswith("⚠️")  # not listed: refused with a message


def test_each_confusion_difference_panel_has_its_own_scale_and_colour_bar():
    """SST's +19 and Quora's +95 were drawn on one shared bar; each panel now spans ± its own largest change and
    carries a bar beside it."""
    from analysis.studio.compare_view import confusion_diff_figure
    sst, quora = np.array([[19, -19], [0, 3]]), np.array([[95, -5], [-90, 0]])
    report = {"tasks": {"sst": {"name": "SST-5", "classes": ["neg", "pos"], "confusion_diff": sst.tolist()},
                        "quora": {"name": "Quora", "classes": ["no", "yes"], "confusion_diff": quora.tolist()},
                        "sts": {"name": "STS-B", "classes": None}}}
    fig = confusion_diff_figure(report)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert [(t.zmin, t.zmax) for t in fig.data] == [(-19, 19), (-95, 95)]
    assert all(t.showscale is not False for t in fig.data)
    bars = [t.colorbar.x for t in fig.data]
    panels = [fig.layout.xaxis.domain, fig.layout.xaxis2.domain]
    assert panels[0][1] < bars[0] < panels[1][0] and bars[1] > panels[1][1]  # each bar right of its own panel
