"""Evaluating the model on the user's own labelled file: the predictions, metrics and every breakdown the
dev sets get (distributions, confusion, per-class scores, calibration, threshold, STS errors, mistakes), each
titled with the file's name; and the file back with its predictions, one row per input row."""
from __future__ import annotations

import json

import numpy as np

from minbert.evaluate import gold as gold_of
from minbert.evaluate.metrics import task_metrics
from minbert.serve.predictor import Predictor, Progress
from minbert.tasks import TASKS as TASK_INFO

from analysis.studio import errors_view as errors
from analysis.results import DevResults
from analysis.studio.user_files import Parsed

TASK_KEY = {t.skill: t.key for t in TASK_INFO.values()}  # the app's task names (skills, as --task takes them) -> keys
TASKS = tuple(TASK_KEY)


def evaluate(predictor: Predictor, parsed: Parsed, task: str, progress: Progress | None = None,
             name: str = "your file") -> dict:
    """The state the views need: predictions in the dev results' format, texts, metrics and the file's name."""
    key = TASK_KEY[task]
    ex = parsed.examples
    out = predictor.predict_examples(key, ex, progress)
    rec = {"ids": [e.id for e in ex], "gold": gold_of(ex).tolist(), **{k: v.tolist() for k, v in out.items()}}
    metrics = _summary(key, task_metrics(TASK_INFO[key], gold_of(ex), out))  # the task API takes the Task
    metrics.update(task=task, rows=len(ex), bad=parsed.bad, served=predictor.served)
    return {"task": key, "preds": {key: rec}, "texts": {e.id: (e.text, e.text2) for e in ex}, "metrics": metrics,
            "name": name}


def prediction_columns(key: str) -> list[str]:
    """The columns the download adds after the input's own."""
    if key == "sts":
        return ["predicted_score", "error"]
    return ["predicted", "predicted_class", "confidence" if key == "sst" else "p_duplicate", "correct"]


def _prediction_cells(key: str, rec: dict, i: int) -> list:
    if key == "sts":
        return [round(rec["score"][i], 4), round(rec["score"][i] - rec["gold"][i], 4)]
    pred, names = int(rec["pred"][i]), TASK_INFO[key].classes
    conf = max(rec["probs"][i]) if key == "sst" else rec["prob"][i]
    return [pred, names[pred], round(float(conf), 4), int(pred == int(rec["gold"][i]))]


def _cell(value) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else ("" if value is None else str(value))


def predictions_table(parsed: Parsed, state: dict) -> tuple[list[str], list[list]]:
    """(header, rows) of the download: one row per input record in input order, its line number, the input
    columns, then the predictions, or why the row was skipped."""
    key = state["task"]
    rec = state["preds"][key]
    at = {line: i for i, line in enumerate(rec["ids"])}
    why = {str(n): reason for n, reason in parsed.bad}
    added = prediction_columns(key) + ["skipped_because"]
    taken = set(parsed.header)
    added = [c if c not in taken else f"model_{c}" for c in added]  # never two columns of one name
    rows = []
    for n, row in parsed.rows:
        cells = [_cell((row or {}).get(c)) for c in parsed.header]
        i = at.get(str(n))
        preds = _prediction_cells(key, rec, i) if i is not None else [""] * (len(added) - 1)
        rows.append([n, *cells, *preds, why.get(str(n), "")])
    return ["line", *parsed.header, *added], rows


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
    """(distributions, confusion, per-class rows, summary, reliability, STS scatter, STS buckets), titled with
    the file's name; None where a view does not apply to the task."""
    if not state:
        return (None,) * 7
    key, preds, name = state["task"], state["preds"], state.get("name", "your file")
    g = np.asarray(preds[key]["gold"])
    dist = {f"{key}_file": np.bincount(g.astype(int), minlength=5 if key == "sst" else 2).tolist()
            if key != "sts" else np.histogram(g, bins=5, range=(0, 5))[0].tolist()}
    fig = errors.distribution_figure(dist, preds, f"{name}: gold labels and predictions (share of rows)")
    if key == "sts":
        scatter, buckets = errors.sts_figures(preds)
        scatter.update_layout(title=f"{name}: gold vs predicted similarity (Pearson {state['metrics']['pearson']:.4f})")
        buckets.update_layout(title=f"{name}: error by gold bucket")
        return fig, None, None, "", None, scatter, buckets
    rows, summary = errors.per_class_table(key, preds)
    conf = errors.confusion_figure(key, preds, normalise)
    conf.update_layout(title=f"{name}: confusion matrix ({'row-normalised' if normalise else 'counts'})")
    reliab = errors.reliability_figure(preds)
    reliab.update_layout(title=f"{name}: reliability (10 bins)")
    return fig, conf, rows, summary, reliab, None, None


def labels_of(state: dict | None) -> list[str]:
    if not state or state["task"] == "sts":
        return ["any"]
    return ["any", *(errors.SST_CLASSES if state["task"] == "sst" else errors.PARA_CLASSES)]


def misclassified(state: dict | None, gold: str, pred: str, limit: int | None = 200) -> list[list]:
    """The misclassified rows under the class filters, most confident first (all of them with limit None)."""
    if not state or state["task"] == "sts":
        return []
    return errors.misclassified_rows(as_results(state), state["task"], gold or "any", pred or "any", limit)


def threshold(state: dict | None, t: float):
    if not state or state["task"] != "para":
        return None, "The threshold view is for paraphrase files."
    fig, note = errors.threshold_figure(state["preds"], float(t))
    fig.update_layout(title=f"{state.get('name', 'your file')}: decision threshold on P(duplicate)")
    return fig, note

