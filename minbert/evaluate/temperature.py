"""Temperature scaling (Guo et al., 2017): one scalar T per classification head, served as softmax(logits / T)
(a sentence task's classes) and sigmoid(logit / T) (a yes/no pair task). T changes confidence, never the
predicted class.

T is fit by minimising the negative log-likelihood on the dev set, and judged by cross-fitting: the dev set
is split in two fixed halves (by a hash of the example id), each half is scored at the temperature fit on
the other, and ECE and NLL are pooled over both, so no example is scored by a temperature that saw it.
The result lives in the checkpoint sidecar under "calibration" (`python -m analysis.calibrate`); every
tool that serves probabilities reads it through `temperatures(meta)`.
"""
from __future__ import annotations

import hashlib

import numpy as np
from scipy.optimize import minimize_scalar

from minbert.evaluate.metrics import expected_calibration_error
from minbert.tasks import Task, get, model_tasks

T_BOUNDS = (0.05, 20.0)  # the temperatures searched


def half_b(ids: list[str]) -> np.ndarray:
    """True for the report half (B), False for the fit half (A): a fixed split by a hash of each id."""
    return np.array([hashlib.sha1(i.encode()).digest()[0] % 2 == 1 for i in ids])


def per_class_logits(task: "str | Task") -> bool:
    """A sentence head scores each class ((N, C) logits, softmax); a yes/no pair head emits one logit ((N,),
    sigmoid: P(second class))."""
    return not get(task).pair


def _probs(logits: np.ndarray, t: float, per_class: bool) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / t
    if per_class:
        z = z - z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-z))


def scaled_probs(task: "str | Task", logits: np.ndarray, t: float) -> np.ndarray:
    """Probabilities at temperature t: (N, C) for a sentence task, (N,) P(yes) for a yes/no pair task."""
    return _probs(logits, t, per_class_logits(task))


def nll(task: "str | Task", logits: np.ndarray, gold: np.ndarray, t: float) -> float:
    p = scaled_probs(task, logits, t)
    g = np.asarray(gold).astype(int)
    picked = p[np.arange(len(g)), g] if per_class_logits(task) else np.where(g == 1, p, 1 - p)
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(task: "str | Task", logits: np.ndarray, gold: np.ndarray) -> float:
    """The temperature of least NLL in T_BOUNDS: scipy's bounded Brent search over log T."""
    res = minimize_scalar(lambda log_t: nll(task, logits, gold, float(np.exp(log_t))), bounds=np.log(T_BOUNDS),
                          method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


def confidence_and_correct(task: "str | Task", logits: np.ndarray, gold: np.ndarray,
                           t: float) -> tuple[np.ndarray, np.ndarray]:
    p = scaled_probs(task, logits, t)
    g = np.asarray(gold).astype(int)
    if per_class_logits(task):
        return p.max(-1), p.argmax(-1) == g
    pred = (p > 0.5).astype(int)
    return np.where(pred == 1, p, 1 - p), pred == g


def ece(task: str, logits: np.ndarray, gold: np.ndarray, t: float) -> float:
    return expected_calibration_error(*confidence_and_correct(task, logits, gold, t))["ece"]


def calibrate(task: str, ids: list[str], logits: np.ndarray, gold: np.ndarray) -> dict:
    """The served temperature (fit on all of dev) and its cross-fitted ECE and NLL, before and after."""
    b = half_b(ids)
    logits, gold = np.asarray(logits), np.asarray(gold)
    t_a, t_b = fit_temperature(task, logits[~b], gold[~b]), fit_temperature(task, logits[b], gold[b])
    halves = [(b, t_a), (~b, t_b)]  # each half at the other half's temperature
    pooled = [np.concatenate(x) for x in zip(*(confidence_and_correct(task, logits[m], gold[m], t) for m, t in halves))]
    nll_after = sum(nll(task, logits[m], gold[m], t) * m.sum() for m, t in halves) / len(gold)
    return {"temperature": round(fit_temperature(task, logits, gold), 4), "fit_on": f"all {len(gold)} dev examples",
            "cross_fit": {"halves": f"{int((~b).sum())} / {int(b.sum())} examples", "t_half_a": round(t_a, 4),
                          "t_half_b": round(t_b, 4)},
            "ece_before": round(ece(task, logits, gold, 1.0), 4),
            "ece_after": round(expected_calibration_error(*pooled)["ece"], 4),
            "nll_before": round(nll(task, logits, gold, 1.0), 4), "nll_after": round(float(nll_after), 4)}


def best_threshold(logit: np.ndarray, gold: np.ndarray) -> float:
    """The logit threshold of best accuracy when a duplicate is predicted where logit > it: one of the logits
    (or just below the lowest); ties go to the lowest such threshold."""
    logit, gold = np.asarray(logit, dtype=np.float64), np.asarray(gold).astype(int)
    order = np.argsort(logit, kind="stable")
    g = gold[order]
    correct = (g == 1).sum() - np.concatenate([[0], np.cumsum(np.where(g == 1, 1, -1))])  # threshold at index k
    return float(np.concatenate([[logit.min() - 1], logit[order]])[int(np.argmax(correct))])


def threshold_check(ids: list[str], logit: np.ndarray, gold: np.ndarray) -> dict:
    """Would another paraphrase decision threshold do better? Diagnostic only, never served: each fixed half
    of dev is scored at the logit threshold of best accuracy on the other half, pooled. Serving a threshold
    fit on dev would make the dev accuracy a tuned number (training fits one on held-out training pairs
    instead: --para-val)."""
    b = half_b(ids)
    logit, gold = np.asarray(logit, dtype=np.float64), np.asarray(gold).astype(int)
    t_a, t_b = best_threshold(logit[~b], gold[~b]), best_threshold(logit[b], gold[b])
    hits = ((logit[b] > t_a) == gold[b]).sum() + ((logit[~b] > t_b) == gold[~b]).sum()
    return {"accuracy_at_0": round(float(((logit > 0) == gold).mean()), 4),
            "accuracy_cross_fitted": round(float(hits / len(gold)), 4),
            "threshold_half_a": round(t_a, 3), "threshold_half_b": round(t_b, 3),
            "predicted_positive_rate": round(float((logit > 0).mean()), 4),
            "gold_positive_rate": round(float(gold.mean()), 4)}


def temperatures(meta: dict) -> dict[str, float]:
    """Task key -> T of every classification task of a checkpoint sidecar (its "tasks", else the built-ins); 1.0
    (raw probabilities) where it was never calibrated."""
    cal = meta.get("calibration") or {}
    return {t.key: float(cal.get(t.key, {}).get("temperature", 1.0))
            for t in model_tasks(meta.get("tasks") or ()) if t.classes}


def apply(task: "str | Task", out: dict[str, np.ndarray], temps: dict[str, float]) -> dict[str, np.ndarray]:
    """predict outputs with calibrated probabilities (raw logits kept); other keys, and other tasks', unchanged."""
    key = task.key if isinstance(task, Task) else task
    t = temps.get(key, 1.0)
    if "logits" in out:  # a sentence head's (N, C)
        return {**out, "probs": _probs(out["logits"], t, per_class=True).astype(np.float32)}
    if "logit" in out:  # a yes/no pair head's (N,)
        return {**out, "prob": _probs(out["logit"], t, per_class=False).astype(np.float32)}
    return out
