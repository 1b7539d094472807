"""Evaluating the model on the user's own labelled file: the predictions, metrics and every breakdown the
dev sets get (distributions, confusion, per-class scores, calibration, threshold, STS errors, mistakes), each
titled with the file's name; and the file back with its predictions, one row per input row."""
from __future__ import annotations

import json

from minbert.evaluate import gold as gold_of
from minbert.evaluate.metrics import task_metrics
from minbert.serve import precision as P
from minbert.serve.predictor import Predictor, Progress

from analysis.precompute import label_counts
from analysis.studio import errors_view as errors
from analysis.results import DevResults
from analysis.studio.user_files import Parsed


def known_labels(task) -> str:
    """The class names a message can suggest, in class order (and yes/no where the task's label_words take them)."""
    yes_no = all(task.class_of(w) is not None for w in ("yes", "no", "true", "false"))
    return ", ".join(task.classes) + (", yes/no, true/false" if yes_no else "")


def file_help(tasks) -> str:
    """What a labelled file of each task holds, in words (the own-file form's help line)."""
    def one(t) -> str:
        texts = "two sentences" if t.pair else "a text column"
        if t.is_score:
            return f"{t.skill}: {texts} and a {t.score_range[0]:g}-{t.score_range[1]:g} score"
        return f"{t.skill}: {texts} and a label (0-{t.num_classes - 1}, or a class name: {known_labels(t)})"
    return (" · ".join(map(one, tasks)) + ". CSV files may use commas, semicolons or tabs. Columns are found by name "
            "(sentence, sentence1/2, label, is_duplicate, similarity, ...) or typed in the boxes here.")


def evaluate(predictor: Predictor, parsed: Parsed, task, progress: Progress | None = None,
             name: str = "your file") -> dict:
    """The state the views need: the task (a minbert.tasks.Task), predictions in the dev results' format, texts,
    metrics and the file's name."""
    ex = parsed.examples
    out = predictor.predict_examples(task.key, ex, progress)
    rec = {"ids": [e.id for e in ex], "gold": gold_of(ex).tolist(), **{k: v.tolist() for k, v in out.items()}}
    metrics = _summary(task, task_metrics(task, gold_of(ex), out))
    metrics.update(task=task.key, rows=len(ex), bad=parsed.bad, served=predictor.served)
    return {"task": task, "preds": {task.key: rec}, "texts": {e.id: (e.text, e.text2) for e in ex}, "metrics": metrics,
            "name": name, "precision": P.headline(predictor.fast)}  # the message's few words; the header says why


def prediction_columns(task) -> list[str]:
    """The columns the download adds after the input's own."""
    if task.is_score:
        return ["predicted_score", "error"]
    confidence = f"p_{task.classes[-1].replace(' ', '_')}" if task.pair else "confidence"  # yes/no: P(yes)
    return ["predicted", "predicted_class", confidence, "correct"]


def _prediction_cells(task, rec: dict, i: int) -> list:
    if task.is_score:
        return [round(rec["score"][i], 4), round(rec["score"][i] - rec["gold"][i], 4)]
    pred = int(rec["pred"][i])
    conf = max(rec["probs"][i]) if "probs" in rec else rec["prob"][i]
    return [pred, task.classes[pred], round(float(conf), 4), int(pred == int(rec["gold"][i]))]


def _cell(value) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else ("" if value is None else str(value))


def predictions_table(parsed: Parsed, state: dict) -> tuple[list[str], list[list]]:
    """(header, rows) of the download: one row per input record in input order, its line number, the input
    columns, then the predictions, or why the row was skipped."""
    task = state["task"]
    rec = state["preds"][task.key]
    at = {line: i for i, line in enumerate(rec["ids"])}
    why = {str(n): reason for n, reason in parsed.bad}
    added = prediction_columns(task) + ["skipped_because"]
    taken = set(parsed.header)
    added = [c if c not in taken else f"model_{c}" for c in added]  # never two columns of one name
    rows = []
    for n, row in parsed.rows:
        cells = [_cell((row or {}).get(c)) for c in parsed.header]
        i = at.get(str(n))
        preds = _prediction_cells(task, rec, i) if i is not None else [""] * (len(added) - 1)
        rows.append([n, *cells, *preds, why.get(str(n), "")])
    return ["line", *parsed.header, *added], rows


def _summary(task, m: dict) -> dict:
    """JSON-ready metrics: the headline numbers first, then the per-class details (and a yes/no task's F1)."""
    if task.is_score:
        return {k: float(v) for k, v in m.items()}
    out = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "ece": m["calibration"]["ece"],
           "per_class": m["per_class"], "confusion": m["confusion"]}
    return out | ({"f1": m["f1"]} if "f1" in m else {})


def as_results(state: dict) -> DevResults:
    """The file's predictions shaped like dev results, so the dev-set views draw them unchanged."""
    return DevResults({"predictions": state["preds"]}, {}, {state["task"].key: state["texts"]})


def message(state: dict, bad_summary: str) -> str:
    m, task = state["metrics"], state["task"]
    head = (f"Pearson r {m['pearson']:.4f} · Spearman {m['spearman']:.4f}" if task.is_score else
            f"accuracy {m['accuracy']:.4f} · macro-F1 {m['macro_f1']:.4f} · ECE {m['ece']:.3f}")
    return f"**{m['rows']:,} rows evaluated ({task.name} {task.skill}):** {head} · served in {state['precision']}" + (
        f"\n\n⚠️ {bad_summary}" if bad_summary else "")


def views(state: dict | None, normalise: bool = False) -> tuple:
    """(distributions, confusion, per-class rows, summary, reliability, STS scatter, STS buckets), titled with
    the file's name; None where a view does not apply to the task."""
    if not state:
        return (None,) * 7
    task, preds, name = state["task"], state["preds"], state.get("name", "your file")
    dist = {f"{task.key}_file": label_counts(task, preds[task.key]["gold"])[1]}
    fig = errors.distribution_figure([task], dist, preds, f"{name}: gold labels and predictions (share of rows)")
    if task.is_score:
        scatter, buckets = errors.score_figures(task, preds)
        scatter.update_layout(title=f"{name}: gold vs predicted {task.skill}, {state['metrics']['rows']:,} rows "
                                    f"(Pearson {state['metrics']['pearson']:.4f})")
        buckets.update_layout(title=f"{name}: error by gold bucket")
        return fig, None, None, "", None, scatter, buckets
    rows, summary = errors.per_class_table(task, preds)
    conf = errors.confusion_figure(task, preds, normalise)
    conf.update_layout(title=f"{name}: confusion matrix ({'row-normalised' if normalise else 'counts'})")
    reliab = errors.reliability_figure([task], preds)
    reliab.update_layout(title=f"{name}: reliability (10 bins)")
    return fig, conf, rows, summary, reliab, None, None


def labels_of(state: dict | None) -> list[str]:
    task = (state or {}).get("task")
    return ["any", *(task.classes if task and task.classes else ())]


def misclassified(state: dict | None, gold: str, pred: str, limit: int | None = 200) -> list[list]:
    """The misclassified rows under the class filters, most confident first (all of them with limit None)."""
    if not state or state["task"].is_score:
        return []
    return errors.misclassified_rows(as_results(state), state["task"], gold or "any", pred or "any", limit)


def threshold(state: dict | None, t: float):
    if not state or state["task"].kind != "pair_classes":
        return None, "The threshold view is for files of a yes/no pair task (paraphrase)."
    task = state["task"]
    fig, note = errors.threshold_figure(task, state["preds"], float(t))
    fig.update_layout(title=f"{state.get('name', 'your file')}: decision threshold on P({task.classes[-1]})")
    return fig, note

