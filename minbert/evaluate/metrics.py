"""Task metrics: accuracy, F1, correlations, per-class scores, confusion matrices, calibration.

Accuracy, confusion, precision, recall and F1 come from sklearn.metrics, Pearson and Spearman from scipy.stats; the
expected calibration error is computed here (below).
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from minbert.tasks import TASKS


def confusion(gold: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """(n, n) counts; rows: gold, columns: predicted; every class has its row even when unseen."""
    return skm.confusion_matrix(np.asarray(gold).astype(int), np.asarray(pred).astype(int), labels=np.arange(n))


def per_class(gold: np.ndarray, pred: np.ndarray, n: int) -> dict[str, list[float]]:
    """Precision, recall, F1 and support of each class; 0 where a class is never predicted or never gold."""
    p, r, f1, support = skm.precision_recall_fscore_support(gold, pred, labels=np.arange(n), zero_division=0)
    return {"precision": p.tolist(), "recall": r.tolist(), "f1": f1.tolist(), "support": support.tolist()}


def _varies(x: np.ndarray, y: np.ndarray) -> bool:
    return len(x) > 1 and np.ptp(x) > 0 and np.ptp(y) > 0


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; 0 where either side is constant (scipy's r is undefined there)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(stats.pearsonr(x, y).statistic) if _varies(x, y) else 0.0


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho (ties share their mean rank); 0 where either side is constant."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(stats.spearmanr(x, y).statistic) if _varies(x, y) else 0.0


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    """ECE over equal-width confidence bins, plus the reliability-diagram points. By hand: sklearn's
    calibration_curve bins the probability of one class of a binary problem and drops the bin weights, and no
    scipy or sklearn function gives this top-label ECE."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece, rows = 0.0, []
    for b in range(bins):
        sel = which == b
        if sel.any():
            conf, acc = float(confidence[sel].mean()), float(correct[sel].mean())
            ece += sel.mean() * abs(conf - acc)
            rows.append({"bin": b, "confidence": conf, "accuracy": acc, "count": int(sel.sum())})
    return {"ece": float(ece), "bins": rows}


def classification_report(gold, pred, n: int, confidence=None) -> dict:
    gold, pred = np.asarray(gold).astype(int), np.asarray(pred).astype(int)
    conf = confusion(gold, pred, n)
    pc = per_class(gold, pred, n)
    out = {"accuracy": float(skm.accuracy_score(gold, pred)),
           "macro_f1": float(np.mean(pc["f1"])),  # every class counts, absent ones as 0
           "per_class": pc, "confusion": conf.tolist(),
           "gold_distribution": np.bincount(gold, minlength=n).tolist(),
           "pred_distribution": np.bincount(pred, minlength=n).tolist()}
    if confidence is not None:
        out["calibration"] = expected_calibration_error(np.asarray(confidence), gold == pred)
    return out


def overall(summary: dict, tasks) -> float | None:
    """The mean of the tasks' metrics on a 0..1 scale (accuracy, or (r + 1) / 2); for the three CS224N tasks this is
    the leaderboard score (SST acc + Quora acc + (STS r + 1) / 2) / 3. None if a task's metric is missing."""
    parts = [t.unit_score(summary) for t in tasks if t.metric in summary]
    return sum(parts) / len(parts) if parts and len(parts) == len(tasks) else None


def overall_score(summary: dict, tasks) -> float | None:
    """An evaluation's overall score: over every task evaluated when the three CS224N tasks are among them (the
    leaderboard's score, or the same mean with added tasks); else None."""
    return overall(summary, tasks) if set(TASKS) <= {t.key for t in tasks} else None


def scored_output(task) -> str:
    """The `predict` output a task's predictions are scored and written from: the class, or the score."""
    return "score" if task.is_score else "pred"


def task_metrics(task, gold: np.ndarray, out: dict[str, np.ndarray]) -> dict:
    """Metrics of one task (a minbert.tasks.Task) from `minbert.evaluate.inference.predict` outputs and gold."""
    if task.kind == "sentence_classes":
        n = task.num_classes
        r = classification_report(gold, out["pred"], n, out["probs"].max(-1))
        dist = np.abs(out["pred"].astype(int) - gold.astype(int))  # how many classes off, for ordered classes
        r["error_distance"] = np.bincount(dist, minlength=n).tolist()
        if n == 2:
            r["f1"] = r["per_class"]["f1"][1]  # yes/no: the F1 of the second class (positive)
        return r
    if task.kind == "pair_classes":
        conf = np.where(out["pred"] == 1, out["prob"], 1 - out["prob"])
        r = classification_report(gold, out["pred"], 2, conf)
        r["f1"] = r["per_class"]["f1"][1]
        return r
    return {"pearson": pearson(out["score"], gold), "spearman": spearman(out["score"], gold),
            "pearson_cosine": pearson(out["cosine"], gold),
            "mse": float(np.mean((out["score"] - gold) ** 2))}


def summary_keys(task) -> dict[str, str]:
    """Report figure -> summary key of the task's two summary figures: {"accuracy": "sst_acc", "macro_f1":
    "sst_macro_f1"}; yes/no tasks: the positive class's F1; score tasks: Pearson and Spearman."""
    if task.is_score:
        return {"pearson": task.metric, "spearman": task.second_metric}
    return {"accuracy": task.metric, ("f1" if task.num_classes == 2 else "macro_f1"): task.second_metric}


def summary_metrics(task, report: dict) -> dict:
    """A task's two summary figures from its report: {"sst_acc": .., "sst_macro_f1": ..} and the like."""
    return {key: report[name] for name, key in summary_keys(task).items()}
