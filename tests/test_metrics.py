"""Our metrics against scikit-learn and SciPy on random predictions."""
import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from minbert.evaluate.metrics import classification_report, expected_calibration_error, overall, pearson, spearman, task_metrics


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_classification_report_matches_sklearn(rng):
    gold, pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    pred[:5] = 4  # make class supports uneven
    r = classification_report(gold, pred, 5)
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(gold, pred))
    assert r["confusion"] == skm.confusion_matrix(gold, pred, labels=range(5)).tolist()
    p, rc, f, s = skm.precision_recall_fscore_support(gold, pred, labels=range(5), zero_division=0)
    np.testing.assert_allclose(r["per_class"]["precision"], p)
    np.testing.assert_allclose(r["per_class"]["recall"], rc)
    np.testing.assert_allclose(r["per_class"]["f1"], f)
    assert r["macro_f1"] == pytest.approx(skm.f1_score(gold, pred, average="macro"))


def test_binary_f1_matches_sklearn(rng):
    gold = rng.integers(0, 2, 300)
    prob = np.clip(gold * 0.3 + rng.random(300) * 0.7, 0, 1)
    out = {"prob": prob, "pred": (prob > 0.5).astype(int), "cosine": prob}
    m = task_metrics("para", gold.astype(float), out)
    assert m["f1"] == pytest.approx(skm.f1_score(gold, out["pred"]))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(gold, out["pred"]))


def test_correlations_match_scipy(rng):
    x = rng.random(200)
    y = x + rng.normal(0, 0.3, 200)
    y[:20] = np.round(y[:20], 1)  # ties
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0])
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0])


def test_ece_by_hand():
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 0, 1, 1])
    ece = expected_calibration_error(conf, correct)["ece"]
    assert ece == pytest.approx(0.5 * abs(0.95 - 0.5) + 0.5 * abs(0.55 - 1.0))


def test_overall_is_the_cs224n_formula():
    assert overall(0.5, 0.8, 0.6) == pytest.approx((0.5 + 0.8 + 0.8) / 3)


def test_bootstrap_intervals_against_scipy():
    """Percentile intervals from our vectorised resampling match scipy.stats.bootstrap on the same draws."""
    from scipy import stats

    from minbert.evaluate.bootstrap import confidence_intervals, resampled_metrics
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 5, 400)
    pred = np.where(rng.random(400) < 0.5, gold, rng.integers(0, 5, 400))
    res = resampled_metrics("sst", gold, {"pred": pred}, n=2000)
    ref = stats.bootstrap(((gold == pred).astype(float),), np.mean, n_resamples=2000, method="percentile",
                          random_state=0).confidence_interval
    lo, hi = np.percentile(res["accuracy"], [2.5, 97.5])
    assert abs(lo - ref.low) < 0.01 and abs(hi - ref.high) < 0.01
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    sts = resampled_metrics("sts", y, {"score": x}, n=300)
    i = np.random.default_rng(0).integers(0, 300, (300, 300))  # the same draws, metric by metric
    assert np.allclose(sts["pearson"][:5], [stats.pearsonr(x[r], y[r])[0] for r in i[:5]])
    assert np.allclose(sts["spearman"][:5], [stats.spearmanr(x[r], y[r])[0] for r in i[:5]])
    ci = confidence_intervals({"sst": gold, "sts": y}, {"sst": {"pred": pred}, "sts": {"score": x}})
    assert ci["sst_acc_ci95"][0] < (gold == pred).mean() < ci["sst_acc_ci95"][1] and "overall_ci95" not in ci
    assert set(ci) == {"sst_acc_ci95", "sst_macro_f1_ci95", "sts_pearson_ci95", "sts_spearman_ci95"}
