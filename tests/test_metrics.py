"""Metrics (sklearn.metrics and scipy.stats inside) against the hand formulas they replaced, known values, and the
bootstrap against the project's old resampling (the same draws, the same intervals)."""
import dataclasses

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from minbert.evaluate.metrics import (classification_report, expected_calibration_error, overall, overall_score,
                                      pearson, spearman, summary_metrics, task_metrics)
from minbert.tasks import PARA, SST, STS, TASKS, Task


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- the hand formulas the library calls replaced (the code before issue 34), kept as references -------------------
def hand_confusion(gold, pred, n):
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (gold.astype(int), pred.astype(int)), 1)
    return m


def hand_per_class(conf):
    tp = np.diag(conf).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / conf.sum(0))
        recall = np.nan_to_num(tp / conf.sum(1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return precision, recall, f1


def hand_pearson(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return 0.0 if x.std() == 0 or y.std() == 0 else float(np.corrcoef(x, y)[0, 1])


def hand_rank(x):
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=ranks) / counts)[inv]


def hand_resamples(gold, values, n, seed=0):
    idx = np.random.default_rng(seed).integers(0, len(gold), (n, len(gold)))  # the old bootstrap's draws
    return np.asarray(gold)[idx], np.asarray(values)[idx]


def hand_pearson_rows(x, y):
    x, y = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1)).clip(min=1e-12)


def hand_macro_f1_rows(g, p, n):
    f1 = []
    for c in range(n):
        tp, fp, fn = ((p == c) & (g == c)).sum(1), ((p == c) & (g != c)).sum(1), ((p != c) & (g == c)).sum(1)
        f1.append(2 * tp / np.maximum(2 * tp + fp + fn, 1))
    return np.mean(f1, 0)


# --- metrics ----------------------------------------------------------------------------------------------------------
def test_classification_report_matches_the_hand_formulas_and_sklearn(rng):
    gold, pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    pred[:5] = 4  # uneven supports
    pred[pred == 2] = 3  # a class never predicted: precision and F1 0, as zero_division=0 and the old code give
    r = classification_report(gold, pred, 5)
    conf = hand_confusion(gold, pred, 5)
    p, rc, f = hand_per_class(conf)
    assert r["confusion"] == conf.tolist() and r["accuracy"] == (gold == pred).mean()
    np.testing.assert_allclose(r["per_class"]["precision"], p, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r["per_class"]["recall"], rc, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r["per_class"]["f1"], f, rtol=0, atol=1e-15)
    assert r["per_class"]["support"] == conf.sum(1).tolist() and r["per_class"]["f1"][2] == 0
    assert r["macro_f1"] == pytest.approx(np.mean(f), abs=1e-15)
    assert r["macro_f1"] == pytest.approx(skm.f1_score(gold, pred, average="macro", zero_division=0))


def test_a_class_absent_from_gold_and_predictions_still_has_its_row():
    r = classification_report(np.array([0, 1, 1]), np.array([0, 1, 0]), 5)
    assert np.array(r["confusion"]).shape == (5, 5) and r["per_class"]["support"] == [1, 2, 0, 0, 0]
    assert r["per_class"]["precision"][:2] == [0.5, 1.0] and r["per_class"]["recall"][:2] == [1.0, 0.5]
    assert r["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 5)  # every class counts, absent ones as 0


def test_binary_f1_matches_the_hand_formula(rng):
    gold = rng.integers(0, 2, 300)
    prob = np.clip(gold * 0.3 + rng.random(300) * 0.7, 0, 1)
    out = {"prob": prob, "pred": (prob > 0.5).astype(int), "cosine": prob}
    m = task_metrics(PARA, gold.astype(float), out)
    tp, fp, fn = [int(((out["pred"] == a) & (gold == b)).sum()) for a, b in ((1, 1), (1, 0), (0, 1))]
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-15)
    assert m["accuracy"] == (gold == out["pred"]).mean()
    assert summary_metrics(PARA, m) == {"para_acc": m["accuracy"], "para_f1": m["f1"]}


def test_correlations_match_the_hand_formulas_and_known_values(rng):
    x = rng.random(200)
    y = x + rng.normal(0, 0.3, 200)
    y[:20] = np.round(y[:20], 1)  # ties
    x[20:40] = np.round(x[20:40], 1)
    assert pearson(x, y) == pytest.approx(hand_pearson(x, y), abs=1e-14)
    assert spearman(x, y) == pytest.approx(hand_pearson(hand_rank(x), hand_rank(y)), abs=1e-14)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(5 / np.sqrt(2 * 114 / 9), abs=1e-15)  # by hand
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5), abs=1e-15)  # ranks 2.5, 2.5
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1) and spearman([1, 5, 9], [0, 1, 100]) == pytest.approx(1)
    assert pearson([1, 1, 1], [1, 2, 3]) == 0.0 == spearman([1, 2, 3], [4, 4, 4]) == pearson([1], [2])  # undefined


def test_score_task_metrics(rng):
    gold = rng.random(100) * 5
    out = {"score": gold + rng.normal(0, 1, 100), "cosine": gold / 5 + rng.normal(0, 0.2, 100)}
    m = task_metrics(STS, gold, out)
    assert m["pearson"] == pytest.approx(hand_pearson(out["score"], gold), abs=1e-14)
    assert m["pearson_cosine"] == pytest.approx(hand_pearson(out["cosine"], gold), abs=1e-14)
    assert m["mse"] == pytest.approx(np.mean((out["score"] - gold) ** 2))
    assert summary_metrics(STS, m) == {"sts_pearson": m["pearson"], "sts_spearman": m["spearman"]}


def test_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 0, 1, 1])
    ece = expected_calibration_error(conf, correct)["ece"]
    assert ece == pytest.approx(0.5 * abs(0.95 - 0.5) + 0.5 * abs(0.55 - 1.0))


def test_overall_is_the_cs224n_formula():
    summary = {"sst_acc": 0.5, "para_acc": 0.8, "sts_pearson": 0.6}
    assert overall(summary, TASKS.values()) == pytest.approx((0.5 + 0.8 + (0.6 + 1) / 2) / 3)
    assert overall_score(summary, list(TASKS.values())) == overall(summary, TASKS.values())
    assert overall_score(summary, [SST, STS]) is None and overall({"sst_acc": 0.5}, [SST, STS]) is None
    added = Task(key="extra", name="Extra", kind="sentence_classes", classes=("no", "yes"))
    assert overall_score({**summary, "extra_acc": 0.9}, [*TASKS.values(), added]) == pytest.approx(
        (0.5 + 0.8 + 0.8 + 0.9) / 4)


# --- bootstrap --------------------------------------------------------------------------------------------------------
def test_bootstrap_reproduces_the_old_draws_and_intervals():
    """scipy.stats.bootstrap draws the same resamples as the old hand loop (default_rng(0).integers(0, N, (n, N))),
    so every metric on every resample, and each interval, equals the old computation."""
    from minbert.evaluate.bootstrap import confidence_intervals, resampled_metrics
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 5, 400)
    pred = np.where(rng.random(400) < 0.5, gold, rng.integers(0, 5, 400))
    res = resampled_metrics("sst", gold, {"pred": pred}, n=500)
    g, p = hand_resamples(gold, pred, 500)
    assert np.array_equal(res["accuracy"], (g == p).mean(1)) and set(res) == {"accuracy", "macro_f1"}
    np.testing.assert_allclose(res["macro_f1"], hand_macro_f1_rows(g, p, 5), rtol=0, atol=1e-15)
    assert res["macro_f1"][0] == pytest.approx(skm.f1_score(g[0], p[0], labels=range(5), average="macro",
                                                            zero_division=0))
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    y[:50] = np.round(y[:50])  # ties
    sts = resampled_metrics("sts", y, {"score": x}, n=300)
    gy, sx = hand_resamples(y, x, 300)
    np.testing.assert_allclose(sts["pearson"], hand_pearson_rows(sx, gy), rtol=0, atol=1e-13)
    ranks = [hand_pearson_rows(np.stack([hand_rank(r) for r in sx]), np.stack([hand_rank(r) for r in gy]))]
    np.testing.assert_allclose(sts["spearman"], ranks[0], rtol=0, atol=1e-13)
    assert sts["spearman"][0] == pytest.approx(stats.spearmanr(sx[0], gy[0]).statistic)
    ci = confidence_intervals({"sst": gold, "sts": y}, {"sst": {"pred": pred}, "sts": {"score": x}})
    g, p = hand_resamples(gold, pred, 1000)
    old = [round(float(np.percentile((g == p).mean(1), q)), 4) for q in (2.5, 97.5)]
    assert ci["sst_acc_ci95"] == old and "overall_ci95" not in ci
    assert set(ci) == {"sst_acc_ci95", "sst_macro_f1_ci95", "sts_pearson_ci95", "sts_spearman_ci95"}


def test_overall_interval_combines_each_tasks_resamples():
    from minbert.evaluate.bootstrap import confidence_intervals
    rng = np.random.default_rng(5)
    golds = {"sst": rng.integers(0, 5, 120), "para": rng.integers(0, 2, 200), "sts": rng.random(90) * 5}
    outs = {"sst": {"pred": np.where(rng.random(120) < 0.5, golds["sst"], 0)},
            "para": {"pred": np.where(rng.random(200) < 0.8, golds["para"], 1 - golds["para"])},
            "sts": {"score": golds["sts"] + rng.normal(0, 1, 90)}}
    ci = confidence_intervals(golds, outs)
    g, p = hand_resamples(golds["sst"], outs["sst"]["pred"], 1000)
    sst = (g == p).mean(1)
    g, p = hand_resamples(golds["para"], outs["para"]["pred"], 1000)
    para = (g == p).mean(1)
    tp, fp, fn = ((p == 1) & (g == 1)).sum(1), ((p == 1) & (g == 0)).sum(1), ((p == 0) & (g == 1)).sum(1)
    g, s = hand_resamples(golds["sts"], outs["sts"]["score"], 1000)
    old = (sst + para + (hand_pearson_rows(s, g) + 1) / 2) / 3  # the old bootstrap's overall draws
    assert ci["overall_ci95"] == [round(float(np.percentile(old, q)), 4) for q in (2.5, 97.5)]
    assert ci["para_f1_ci95"] == [round(float(np.percentile(2 * tp / (2 * tp + fp + fn), q)), 4) for q in (2.5, 97.5)]
    assert list(ci) == ["sst_acc_ci95", "sst_macro_f1_ci95", "para_acc_ci95", "para_f1_ci95", "sts_pearson_ci95",
                        "sts_spearman_ci95", "overall_ci95"]  # the JSON's order, as before


def test_an_added_task_gets_its_intervals_and_joins_overall():
    from minbert.evaluate.bootstrap import confidence_intervals
    added = dataclasses.replace(SST, key="cfimdb", name="CFIMDB", classes=("negative", "positive"), own_layers=False, label_words={})
    rng = np.random.default_rng(1)
    golds = {k: rng.integers(0, 2, 80).astype(float) for k in ("sst", "para", "cfimdb")} | {"sts": rng.random(80)}
    outs = {k: {"pred": g} for k, g in golds.items()} | {"sts": {"score": golds["sts"]}}  # all right
    ci = confidence_intervals(golds, outs, tasks={**TASKS, "cfimdb": added})
    assert ci["cfimdb_acc_ci95"] == ci["cfimdb_f1_ci95"] == ci["overall_ci95"] == [1.0, 1.0]


# --- the CLI's summary and prediction files, from the task specs -----------------------------------------------------
def test_summary_lines_come_from_the_tasks(tmp_path):
    from minbert.data import Example
    from minbert.evaluate import QUORA_CAVEAT, _write_prediction_file, summary_lines
    added = Task(key="cfimdb", name="CFIMDB", kind="sentence_classes", classes=("negative", "positive"),
                 prediction_column="Predicted_Sentiment")
    m = {"sst_acc": 0.5286, "sst_macro_f1": 0.5136, "sst_acc_ci95": [0.4968, 0.5577], "para_acc": 0.8405,
         "para_f1": 0.8026, "sts_pearson": 0.878, "sts_spearman": 0.8669, "cfimdb_acc": 0.9, "cfimdb_f1": 0.91,
         "overall": 0.7694, "overall_ci95": [0.7578, 0.7801], "para_threshold": 0.0, "para_threshold_stored": 0.889,
         "para_protocol": "quora-dev split"}
    lines = summary_lines(m, [*TASKS.values(), added])
    assert lines[0] == "SST-5 accuracy        0.5286 [0.4968, 0.5577]  (macro-F1 0.5136)"
    assert lines[2] == "STS-B Pearson r       0.8780  (Spearman 0.8669)" and lines[3].startswith("CFIMDB accuracy")
    assert lines[3].endswith("(F1 0.9100)") and lines[4] == "overall               0.7694 [0.7578, 0.7801]"
    assert lines[5] == "paraphrase decision at logit threshold +0.000 (the checkpoint's own: +0.889)"
    assert lines[-2] == "paraphrase protocol: quora-dev split" and lines[-1] == QUORA_CAVEAT
    examples = [Example("a1", "good", None, 1), Example("b2", "bad", None, 0)]
    _write_prediction_file(tmp_path / "cfimdb-dev-output.csv", added, examples, {"pred": np.array([1, 0])})
    _write_prediction_file(tmp_path / "sts-dev-output.csv", STS, examples, {"score": np.array([4.12346, 0.5])})
    assert (tmp_path / "cfimdb-dev-output.csv").read_text() == "id,Predicted_Sentiment\na1,1\nb2,0\n"
    assert (tmp_path / "sts-dev-output.csv").read_text() == "id,Predicted_Similarity\na1,4.1235\nb2,0.5000\n"
