"""Evaluating the model on the user's own labelled file: the predictions, metrics and every breakdown the
dev sets get (distributions, confusion, per-class scores, calibration, threshold, STS errors, mistakes)."""
from __future__ import annotations

import numpy as np

from minbert.evaluate import gold as gold_of
from minbert.evaluate.metrics import task_metrics
from minbert.serve.batch_predict import TASKS as PREDICT_TASKS
from minbert.serve.predictor import Predictor, Progress

from analysis.studio import errors_view as errors
from analysis.results import DevResults
from analysis.studio.user_files import Parsed

TASK_KEY = {name: key for name, key in PREDICT_TASKS.items() if name != "embed"}  # the batch CLI's task names
TASKS = tuple(TASK_KEY)


def evaluate(predictor: Predictor, parsed: Parsed, task: str, progress: Progress | None = None) -> dict:
    """The state the views need: predictions in the dev results' format, texts and metrics."""
    key = TASK_KEY[task]
    ex = parsed.examples
    out = predictor.predict_examples(key, ex, progress)
    rec = {"ids": [e.id for e in ex], "gold": gold_of(ex).tolist(), **{k: v.tolist() for k, v in out.items()}}
    metrics = _summary(key, task_metrics(key, gold_of(ex), out))
    metrics.update(task=task, rows=len(ex), bad=parsed.bad, served=predictor.served)
    return {"task": key, "preds": {key: rec}, "texts": {e.id: (e.text, e.text2) for e in ex}, "metrics": metrics}


def _summary(key: str, m: dict) -> dict:
    """JSON-ready metrics: the headline numbers first, then the per-class details."""
    if key == "sts":
        return {k: float(v) for k, v in m.items()}
    out = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "ece": m["calibration"]["ece"],
           "per_class": m["per_class"], "confusion": m["confusion"]}
    if key == "para":
        out["f1"] = m["f1"]
    return out


def as_results(state: dict) -> DevResults:
    """The file's predictions shaped like dev results, so the dev-set views draw them unchanged."""
    return DevResults({"predictions": state["preds"]}, {}, {state["task"]: state["texts"]})


def message(state: dict, bad_summary: str) -> str:
    m, key = state["metrics"], state["task"]
    head = (f"Pearson r {m['pearson']:.4f} · Spearman {m['spearman']:.4f}" if key == "sts" else
            f"accuracy {m['accuracy']:.4f} · macro-F1 {m['macro_f1']:.4f} · ECE {m['ece']:.3f}")
    return f"**{m['rows']:,} rows evaluated ({m['task']}):** {head} · served: {m['served']}" + (
        f"\n\n⚠️ {bad_summary}" if bad_summary else "")


def views(state: dict | None, normalise: bool = False) -> tuple:
    """(distributions, confusion, per-class rows, summary, reliability, STS scatter, STS buckets); None where
    a view does not apply to the task."""
    if not state:
        return (None,) * 7
    key, preds = state["task"], state["preds"]
    g = np.asarray(preds[key]["gold"])
    dist = {f"{key}_file": np.bincount(g.astype(int), minlength=5 if key == "sst" else 2).tolist()
            if key != "sts" else np.histogram(g, bins=5, range=(0, 5))[0].tolist()}
    fig = errors.distribution_figure(dist, preds, "Your file: gold labels and predictions (share of rows)")
    if key == "sts":
        scatter, buckets = errors.sts_figures(preds)
        return fig, None, None, "", None, scatter, buckets
    rows, summary = errors.per_class_table(key, preds)
    return (fig, errors.confusion_figure(key, preds, normalise), rows, summary, errors.reliability_figure(preds),
            None, None)


def labels_of(state: dict | None) -> list[str]:
    if not state or state["task"] == "sts":
        return ["any"]
    return ["any", *(errors.SST_CLASSES if state["task"] == "sst" else errors.PARA_CLASSES)]


def misclassified(state: dict | None, gold: str, pred: str) -> list[list]:
    if not state or state["task"] == "sts":
        return []
    return errors.misclassified_rows(as_results(state), state["task"], gold or "any", pred or "any")


def threshold(state: dict | None, t: float):
    if not state or state["task"] != "para":
        return None, "The threshold view is for paraphrase files."
    return errors.threshold_figure(state["preds"], float(t))

