"""Comparing two models: the paired tests against SciPy, self-comparison, epoch records from training."""
import json

import numpy as np
import pytest

from analysis import compare
from analysis.significance import mcnemar, paired_bootstrap
from tests.app_server import CHECKPOINT
from tests.tiny_recipe import TINY_RECIPE

needs_ckpt = pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")


@pytest.mark.parametrize("n,pa,pb", [(40, 0.6, 0.7), (600, 0.8, 0.82), (3000, 0.5, 0.5)])
def test_mcnemar_matches_scipy_binomtest(n, pa, pb):
    from scipy.stats import binomtest
    rng = np.random.default_rng(n)
    a, b = rng.random(n) < pa, rng.random(n) < pb
    r = mcnemar(a, b)
    k = r["a_right_b_wrong"] + r["a_wrong_b_right"]
    assert r["p_value"] == pytest.approx(binomtest(r["a_right_b_wrong"], k, 0.5).pvalue, rel=1e-9)
    assert r["a_right_b_wrong"] == int((a & ~b).sum())


def test_paired_bootstrap_sees_a_real_difference_and_none_in_a_copy():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 5, 800).astype(float)
    good = np.where(rng.random(800) < 0.7, gold, rng.integers(0, 5, 800))
    bad = np.where(rng.random(800) < 0.5, gold, rng.integers(0, 5, 800))
    r = paired_bootstrap("sst", gold, {"pred": bad}, {"pred": good})["accuracy"]
    assert r["ci95"][0] > 0 and r["p_value"] < 0.01
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
