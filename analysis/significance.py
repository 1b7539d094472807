"""Paired significance tests for two models scored on the same examples.

- McNemar's exact test on the discordant pairs (b: A right and B wrong, c: the reverse): under H0 a
  discordant pair goes either way with probability 1/2, so p is scipy.stats.binomtest's two-sided p of b
  successes in b + c trials at 1/2 (= 2 * P(Binomial(b + c, 1/2) <= min(b, c)), at most 1).
- A paired bootstrap of any metric (scipy.stats.bootstrap): the same resampled examples score both models,
  giving a 95% interval of B - A and a two-sided p-value from how often the resampled difference crosses zero.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from minbert.evaluate.bootstrap import N_RESAMPLES, SEED, bootstrap, interval, metric_names, metric_rows
from minbert.tasks import get


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test; b = A right and B wrong, c = A wrong and B right; p = 1 when nothing flips."""
    a, b_ = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    p = float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    return {"a_right_b_wrong": b, "a_wrong_b_right": c, "p_value": p}


def paired_bootstrap(task, gold: np.ndarray, out_a: dict, out_b: dict, n: int = N_RESAMPLES,
                     seed: int = SEED) -> dict[str, dict]:
    """Per metric of `task` (a Task or built-in key): the difference B - A, its 95% percentile interval and a
    two-sided p-value, over `n` resamples drawn once and shared by both models (so the comparison is paired)."""
    task = get(task)
    res = bootstrap(task, gold, [out_a, out_b], lambda g, a, b: metric_rows(task, g, b) - metric_rows(task, g, a),
                    n, seed)
    out = {}
    for k, d, lo, hi in zip(metric_names(task), res.bootstrap_distribution, res.confidence_interval.low,
                            res.confidence_interval.high):  # d: (n,) resampled B - A
        p = min(1.0, 2 * (min((d <= 0).sum(), (d >= 0).sum()) + 1) / (n + 1))  # add-one: never 0 from n draws
        out[k] = {"ci95": interval(lo, hi), "p_value": float(p)}
    return out
