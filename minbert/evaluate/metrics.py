"""Task metrics: accuracy, F1, correlations, per-class scores, confusion matrices, calibration."""
from __future__ import annotations

import numpy as np


def confusion(gold: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=np.int64)  # rows: gold, columns: predicted
    np.add.at(m, (gold.astype(int), pred.astype(int)), 1)
    return m


def per_class(conf: np.ndarray) -> dict[str, list[float]]:
    tp = np.diag(conf).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / conf.sum(0))
        recall = np.nan_to_num(tp / conf.sum(1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": conf.sum(1).tolist()}


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def rank(x: np.ndarray) -> np.ndarray:
    """Average ranks, ties sharing the mean of their positions."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return (sums / counts)[inv]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(rank(x), rank(y))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    """ECE over equal-width confidence bins, plus the reliability-diagram points."""
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
    pc = per_class(conf)
    out = {"accuracy": float((gold == pred).mean()), "macro_f1": float(np.mean(pc["f1"])),
           "per_class": pc, "confusion": conf.tolist(),
           "gold_distribution": np.bincount(gold, minlength=n).tolist(),
           "pred_distribution": np.bincount(pred, minlength=n).tolist()}
    if confidence is not None:
        out["calibration"] = expected_calibration_error(np.asarray(confidence), gold == pred)
    return out


def overall(sst_acc: float, para_acc: float, sts_pearson: float) -> float:
    """The CS224N leaderboard score: mean of SST acc, Quora acc and the rescaled STS correlation."""
    return (sst_acc + para_acc + (sts_pearson + 1) / 2) / 3


def task_metrics(task: str, gold: np.ndarray, out: dict[str, np.ndarray]) -> dict:
    """Metrics of one task from the outputs of `minbert.data.batching.predict` and gold labels."""
    if task == "sst":
        r = classification_report(gold, out["pred"], 5, out["probs"].max(-1))
        dist = np.abs(out["pred"].astype(int) - gold.astype(int))
        r["error_distance"] = np.bincount(dist, minlength=5).tolist()
        return r
    if task == "para":
        conf = np.where(out["pred"] == 1, out["prob"], 1 - out["prob"])
        r = classification_report(gold, out["pred"], 2, conf)
        r["f1"] = r["per_class"]["f1"][1]
        return r
    return {"pearson": pearson(out["score"], gold), "spearman": spearman(out["score"], gold),
            "pearson_cosine": pearson(out["cosine"], gold),
            "mse": float(np.mean((out["score"] - gold) ** 2))}
