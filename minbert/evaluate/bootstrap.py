"""Bootstrap 95% confidence intervals of dev metrics: resample the examples with replacement, recompute.

Every task's resamples are drawn once (a fixed seed), so the overall score's interval combines the three
tasks' b-th resamples. Vectorised over resamples: 1,000 of them cost well under a second on the dev sets.
"""
from __future__ import annotations

import numpy as np

from minbert.evaluate.metrics import rank

N_RESAMPLES = 1000
SEED = 0


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of (B, N) arrays."""
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1)).clip(min=1e-12)


def _macro_f1_rows(gold: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """Macro-F1 of each row of (B, N) integer gold/pred arrays."""
    f1 = []
    for c in range(n):
        tp = ((pred == c) & (gold == c)).sum(1)
        fp = ((pred == c) & (gold != c)).sum(1)
        fn = ((pred != c) & (gold == c)).sum(1)
        f1.append(2 * tp / np.maximum(2 * tp + fp + fn, 1))
    return np.mean(f1, 0)


def resampled_metrics(task: str, gold: np.ndarray, out: dict[str, np.ndarray], n: int = N_RESAMPLES,
                      seed: int = SEED) -> dict[str, np.ndarray]:
    """Each metric of one task on `n` bootstrap resamples of its examples: name -> (n,) values."""
    idx = np.random.default_rng(seed).integers(0, len(gold), (n, len(gold)))  # (n, N)
    g = np.asarray(gold)[idx]
    if task == "sts":
        s = np.asarray(out["score"])[idx]
        return {"pearson": _pearson_rows(s, g), "spearman": _spearman_rows(s, g)}
    p = np.asarray(out["pred"])[idx].astype(int)
    g = g.astype(int)
    res = {"accuracy": (p == g).mean(1), "macro_f1": _macro_f1_rows(g, p, 5 if task == "sst" else 2)}
    if task == "para":
        tp, fp, fn = ((p == 1) & (g == 1)).sum(1), ((p == 1) & (g == 0)).sum(1), ((p == 0) & (g == 1)).sum(1)
        res["f1"] = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return res


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman of each row pair: Pearson of average ranks (ties matter: resamples repeat examples)."""
    return _pearson_rows(np.stack([rank(r) for r in x]), np.stack([rank(r) for r in y]))


SUMMARY_KEYS = {("sst", "accuracy"): "sst_acc", ("sst", "macro_f1"): "sst_macro_f1", ("para", "accuracy"): "para_acc",
                ("para", "f1"): "para_f1", ("sts", "pearson"): "sts_pearson", ("sts", "spearman"): "sts_spearman"}


def confidence_intervals(golds: dict[str, np.ndarray], outputs: dict[str, dict], n: int = N_RESAMPLES) -> dict:
    """`<metric>_ci95: [lo, hi]` for every summary metric (and overall when all three tasks are there)."""
    res = {t: resampled_metrics(t, golds[t], outputs[t], n) for t in golds}
    draws = {key: res[t][m] for (t, m), key in SUMMARY_KEYS.items() if t in res}
    if {"sst_acc", "para_acc", "sts_pearson"} <= set(draws):
        draws["overall"] = (draws["sst_acc"] + draws["para_acc"] + (draws["sts_pearson"] + 1) / 2) / 3
    return {f"{k}_ci95": [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
            for k, v in draws.items()}
