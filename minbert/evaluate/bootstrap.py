"""Bootstrap 95% confidence intervals of dev metrics: resample the examples with replacement, recompute.

scipy.stats.bootstrap resamples each task's examples (paired: gold and outputs move together) from a fixed seed
and gives the percentile interval of each of the task's metrics. The overall score's interval combines the
tasks' b-th resamples (each task's drawn from the same seed, as every model's are), which one scipy call cannot
express: it is taken here from the tasks' bootstrap distributions. Vectorised over resamples: 1,000 of them
cost about a second on the dev sets.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from minbert.evaluate.metrics import overall_score, scored_output, summary_keys
from minbert.tasks import TASKS, Task, get

N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of (B, N) arrays; 0 for a constant row (scipy's r is undefined there)."""
    if x.shape[-1] < 2:
        return np.zeros(x.shape[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(stats.pearsonr(x, y, axis=-1).statistic)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman of each row pair: Pearson of average ranks (ties matter: resamples repeat examples)."""
    return _pearson_rows(stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1))


def _f1_rows(gold: np.ndarray, pred: np.ndarray, c: int) -> np.ndarray:
    """F1 of class c in each row of (B, N) integer arrays; 0 where c is never gold nor predicted (sklearn's
    zero_division=0). By hand: sklearn scores one sample per call, and a bootstrap has a thousand."""
    tp = ((pred == c) & (gold == c)).sum(-1)
    fp = ((pred == c) & (gold != c)).sum(-1)
    fn = ((pred != c) & (gold == c)).sum(-1)
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def metric_names(task: Task) -> tuple[str, ...]:
    """The task's resampled metrics, as its report names them."""
    if task.is_score:
        return "pearson", "spearman"
    return ("accuracy", "macro_f1") + (("f1",) if task.num_classes == 2 else ())  # yes/no: the positive class's F1


def metric_rows(task: Task, gold: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(len(metric_names), B): each metric on each row of (B, N) resampled gold and predictions (class or score)."""
    if task.is_score:
        return np.stack([_pearson_rows(values, gold), _spearman_rows(values, gold)])
    p, g = values.astype(int), gold.astype(int)
    rows = [(p == g).mean(-1), np.mean([_f1_rows(g, p, c) for c in range(task.num_classes)], 0)]
    return np.stack(rows + ([_f1_rows(g, p, 1)] if task.num_classes == 2 else []))


SUMMARY_KEYS = {(t.key, m): k for t in TASKS.values() for m, k in summary_keys(t).items()}  # the built-ins'


def bootstrap(task: "str | Task", gold: np.ndarray, outputs: list[dict], statistic, n: int = N_RESAMPLES,
              seed: int = SEED):
    """scipy.stats.bootstrap of statistic(gold_rows, *value_rows) -> (k, B), the examples resampled together with
    their gold and each output's predictions (class or score). The draws are default_rng(seed).integers(0, N,
    (n, N)): the same for every statistic and model scored on the same N examples, so comparisons are paired."""
    key = scored_output(get(task))
    data = (np.asarray(gold), *(np.asarray(o[key]) for o in outputs))
    return stats.bootstrap(data, lambda g, *v, axis=-1: statistic(g, *v), n_resamples=n, paired=True,
                           vectorized=True, confidence_level=LEVEL, method="percentile",
                           rng=np.random.default_rng(seed))


def task_bootstrap(task: "str | Task", gold: np.ndarray, out: dict[str, np.ndarray], n: int = N_RESAMPLES,
                   seed: int = SEED):
    """scipy's bootstrap of every metric of one task: .bootstrap_distribution (metrics, n), .confidence_interval."""
    task = get(task)
    return bootstrap(task, gold, [out], lambda g, v: metric_rows(task, g, v), n, seed)


def resampled_metrics(task: "str | Task", gold: np.ndarray, out: dict[str, np.ndarray], n: int = N_RESAMPLES,
                      seed: int = SEED) -> dict[str, np.ndarray]:
    """Each metric of one task on `n` bootstrap resamples of its examples: name -> (n,) values."""
    return dict(zip(metric_names(get(task)), task_bootstrap(task, gold, out, n, seed).bootstrap_distribution))


def interval(lo: float, hi: float) -> list[float]:
    return [round(float(lo), 4), round(float(hi), 4)]


def confidence_intervals(golds: dict[str, np.ndarray], outputs: dict[str, dict], n: int = N_RESAMPLES,
                         tasks: dict | None = None) -> dict:
    """`<metric>_ci95: [lo, hi]` for every summary metric of every task in `golds` (key -> gold), and for the overall
    score where evaluate's summary has one. tasks: key -> Task, for added tasks (default: the built-ins)."""
    ts = [(tasks or TASKS)[k] for k in golds]
    draws, cis = {}, {}
    for t in ts:
        res, names = task_bootstrap(t, golds[t.key], outputs[t.key], n), metric_names(t)
        for m, key in summary_keys(t).items():
            i = names.index(m)
            draws[key] = res.bootstrap_distribution[i]
            cis[f"{key}_ci95"] = interval(res.confidence_interval.low[i], res.confidence_interval.high[i])
    score = overall_score(draws, ts)  # (n,): the tasks' b-th resamples combined
    if score is not None:
        cis["overall_ci95"] = interval(*np.percentile(score, [50 * (1 - LEVEL), 50 * (1 + LEVEL)]))
    return cis
