"""Slices of the dev sets (like LIT's slices): a set of dev examples, picked by a box or lasso on the Embeddings
tab's map or by a text search, scored beside the whole dev set.

An example is named "task_key:example_id" (the map's point ids without their sentence number; /dev_slice takes
the same). Everything here is plain data in, plain data out, from the stored dev predictions (analysis.precompute):
it needs no model and no task data; only the rows' text and the text search need the data.
"""
from __future__ import annotations

import numpy as np

from minbert.evaluate.metrics import summary_keys, task_metrics
from minbert.serve.predictor import InputError

from analysis.embedding_map import CLOSE, point_id
from analysis.precompute import label_counts

MAX_IDS = 50_000  # more than all dev examples of the built-in tasks (8,002); a longer list is refused
TABLE_ROWS = 500  # rows the page's table shows; the CSV has them all
ROW_COLUMNS = ["task", "gold", "predicted", "right?", "text", "id"]
METRIC_COLUMNS = ["task", "examples", "measure", "slice", "whole dev"]
MIX_COLUMNS = ["task", "label", "slice gold", "slice predicted", "dev gold"]
NEEDS_TEXT = "Text search needs the sentence text (the task data); the maps show ids only on this machine."


def example_id(task_key: str, ex_id: str) -> str:
    return f"{task_key}:{ex_id}"


def parse_ids(ids, preds: dict) -> tuple[dict[str, list[int]], list[str]]:
    """The dev examples `ids` names ("key:id"), as row numbers of each task's stored predictions (in the stored
    order, each once), and the ids that name no stored example."""
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, (list, tuple)) or len(ids) > MAX_IDS:
        raise InputError(f"Give a list of at most {MAX_IDS:,} dev example ids, each 'task:id' (as 'sst:a7d5...').")
    index = {key: {i: n for n, i in enumerate(p["ids"])} for key, p in preds.items()}
    rows: dict[str, set[int]] = {}
    unknown = []
    for raw in dict.fromkeys(str(i).strip() for i in ids):
        key, _, ex = raw.partition(":")
        n = index.get(key, {}).get(ex)
        if n is None:
            unknown.append(raw)
        else:
            rows.setdefault(key, set()).add(n)
    return {key: sorted(rows[key]) for key in preds if key in rows}, unknown


def metrics(task, p: dict, rows: list[int] | None = None) -> dict[str, float | None]:
    """The task's two summary figures (accuracy and macro-F1 or F1; Pearson and Spearman) on the given rows of its
    stored predictions (all when None), by the task's own metric; a correlation of fewer than two examples, or of a
    constant side, is None (undefined), not 0."""
    take = slice(None) if rows is None else np.asarray(rows, dtype=int)
    gold = np.asarray(p["gold"], dtype=float)[take]
    out = {k: np.asarray(v, dtype=float)[take] for k, v in p.items() if k not in ("ids", "gold")}
    if task.is_score and not (len(gold) > 1 and np.ptp(gold) > 0 and np.ptp(out["score"]) > 0):
        return {name: None for name in summary_keys(task)}
    report = task_metrics(task, gold, out)
    return {name: float(report[name]) for name in summary_keys(task)}


def label_mix(task, p: dict, rows: list[int]) -> dict:
    """Gold and predicted labels of the slice (classes, or score buckets) beside the whole dev set's gold."""
    pred_key = "score" if task.is_score else "pred"
    names, dev_gold = label_counts(task, p["gold"])
    gold = label_counts(task, np.asarray(p["gold"], dtype=float)[rows])[1]
    pred = label_counts(task, np.asarray(p[pred_key], dtype=float)[rows])[1]
    return {"names": names, "gold": gold, "predicted": pred, "dev_gold": dev_gold}


def _row(task, p: dict, n: int, text) -> dict:
    """One example of the slice: gold and predicted as people read them, and whether it is right (a score task:
    within CLOSE of its range, as the map colours it)."""
    ex = p["ids"][n]
    if task.is_score:
        gold, pred = float(p["gold"][n]), float(p["score"][n])
        lo, hi = task.score_range
        right, shown = abs(gold - pred) <= CLOSE * (hi - lo), (round(gold, 2), round(pred, 3))
    else:
        gold, pred = int(p["gold"][n]), int(p["pred"][n])
        right, shown = gold == pred, (task.classes[gold], task.classes[pred])
    texts = [text(task.key, ex, k) for k in range(1 + task.pair)]
    return {"task": task.key, "id": ex, "gold": shown[0], "predicted": shown[1], "right": bool(right),
            "text": texts[0], "text2": texts[1] if task.pair else None}


def slice_report(res, tasks: dict, ids) -> dict:
    """A slice of dev examples (ids "key:id") scored: its size, and per task its examples, its metrics beside the
    whole dev set's, its label mix, and its rows (task by task, in stored order); unknown ids are listed."""
    preds = res.data["predictions"]
    picked, unknown = parse_ids(ids, {k: p for k, p in preds.items() if k in tasks})
    out, rows = {}, []
    for key, n in picked.items():
        task, p = tasks[key], preds[key]
        out[key] = {"name": task.name, "examples": len(n), "dev_examples": len(p["ids"]),
                    "metrics": metrics(task, p, n), "dev_metrics": metrics(task, p),
                    "labels": label_mix(task, p, n)}
        rows += [_row(task, p, i, res.text) for i in n]
    return {"size": len(rows), "tasks": out, "rows": rows, "unknown": unknown}


def search_points(res, shown: list[str], query: str) -> list[str]:
    """The map's point ids ("key:id:k") of the shown tasks whose sentence contains `query` (case-insensitive);
    InputError without the task data's text or without a query."""
    q = str(query or "").strip().casefold()
    if not q:
        raise InputError("Type a word or phrase to search the dev sentences for.")
    if not res.has_texts:
        raise InputError(NEEDS_TEXT)
    return [point_id(key, ex, k) for key, ex, k in res.data["map"]["points"]
            if key in shown and q in (res.text(key, ex, k) or "").casefold()]


def examples_of(point_ids: list[str]) -> list[str]:
    """The examples ("key:id") of map points ("key:id:k"): each once, both sentences of a pair as one."""
    return list(dict.fromkeys(p.rsplit(":", 1)[0] for p in point_ids))


def highlight(fig, point_ids: list[str]):
    """The map figure with the given points (ids "key:id:k") marked as Plotly's selected points and the others
    dimmed; traces without point ids (your sentence's star) stay as they are."""
    wanted = set(point_ids)
    for trace in fig.data:
        if trace.ids is not None:
            trace.selectedpoints = [i for i, pid in enumerate(trace.ids) if pid in wanted]
            trace.selected = dict(marker=dict(opacity=1.0, size=8))
            trace.unselected = dict(marker=dict(opacity=0.06))
    return fig


def _value(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _share(count: int, total: int) -> str:
    return f"{count} ({count / total:.0%})" if total else "0"


def metric_rows(report: dict) -> list[list]:
    """Per task and measure: the slice's value beside the whole dev set's."""
    return [[t["name"], f"{t['examples']} of {t['dev_examples']}", name.replace("_", "-"), _value(v),
             _value(t["dev_metrics"][name])]
            for t in report["tasks"].values() for name, v in t["metrics"].items()]


def mix_rows(report: dict) -> list[list]:
    """Per task and label (class or score bucket): the slice's gold and predicted counts, and the dev set's gold."""
    out = []
    for t in report["tasks"].values():
        lab, n, dev_n = t["labels"], t["examples"], t["dev_examples"]
        out += [[t["name"], name, _share(g, n), _share(p, n), _share(d, dev_n)]
                for name, g, p, d in zip(lab["names"], lab["gold"], lab["predicted"], lab["dev_gold"])]
    return out


def table_rows(report: dict, tasks: dict, limit: int | None = TABLE_ROWS) -> list[list]:
    """The slice's examples as rows of ROW_COLUMNS (short columns first; the text wraps)."""
    def text(r):
        if r["text"] is None:
            return "(text needs the task data)"
        return r["text"] if r["text2"] is None else f"{r['text']}  ⟷  {r['text2']}"
    return [[tasks[r["task"]].name, r["gold"], r["predicted"], "yes" if r["right"] else "no", text(r), r["id"]]
            for r in report["rows"][:limit]]


def summary(report: dict, how: str) -> str:
    """One Markdown line on the slice: its size, how it was picked, and what the tables below hold."""
    if not report["size"]:
        return f"⚠️ {how}: no dev example of this checkpoint's stored predictions."
    parts = " · ".join(f"{t['name']} {t['examples']:,}" for t in report["tasks"].values())
    shown = (f" The table shows the first {TABLE_ROWS:,}; the CSV has all of them."
             if report["size"] > TABLE_ROWS else "")
    odd = f" ({len(report['unknown'])} unknown id(s) ignored)" if report["unknown"] else ""
    return (f"**Slice: {report['size']:,} dev examples** ({how}: {parts}){odd}. Each task's metrics are its own, "
            f"on its examples of the slice, beside the whole dev set's.{shown}")


ROW_WIDTHS = ["9%", "12%", "12%", "7%", "39%", "21%"]  # of ROW_COLUMNS: an id (25 hex digits) whole at 1440 px
