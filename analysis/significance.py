"""Paired significance tests for two models scored on the same examples.

- McNemar's exact test on the discordant pairs (b: A right and B wrong, c: the reverse): under H0 a
  discordant pair goes either way with probability 1/2, so p = 2 * P(Binomial(b + c, 1/2) <= min(b, c)).
- A paired bootstrap of any metric: the same resampled examples score both models, giving a 95% interval
  of B - A and a two-sided p-value from how often the resampled difference crosses zero.
"""
from __future__ import annotations

import math

import numpy as np

from minbert.evaluate.bootstrap import N_RESAMPLES, SEED, resampled_metrics


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), summed in log space (n may be thousands)."""
    if n == 0:
        return 1.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    m = max(logs)
    return min(1.0, math.exp(m) * sum(math.exp(v - m) for v in logs))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test; b = A right and B wrong, c = A wrong and B right; p = 1 when nothing flips."""
    a, b_ = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    p = min(1.0, 2 * binom_cdf_half(min(b, c), b + c))
    return {"a_right_b_wrong": b, "a_wrong_b_right": c, "p_value": p}


def paired_bootstrap(task: str, gold: np.ndarray, out_a: dict, out_b: dict, n: int = N_RESAMPLES,
                     seed: int = SEED) -> dict[str, dict]:
    """Per metric of `task`: the difference B - A, its 95% percentile interval and a two-sided p-value,
    over `n` resamples drawn once and shared by both models (so the comparison is paired)."""
    ra = resampled_metrics(task, gold, out_a, n, seed)
    rb = resampled_metrics(task, gold, out_b, n, seed)  # same seed and size: the same resampled indices
    res = {}
    for k in ra:
        d = rb[k] - ra[k]  # (n,)
        p = min(1.0, 2 * (min((d <= 0).sum(), (d >= 0).sum()) + 1) / (n + 1))  # add-one: never 0 from n draws
        res[k] = {"ci95": [round(float(np.percentile(d, 2.5)), 4), round(float(np.percentile(d, 97.5)), 4)],
                  "p_value": float(p)}
    return res
