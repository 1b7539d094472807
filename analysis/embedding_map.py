"""The UMAP map of dev sentence embeddings, and placing a new sentence on it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from analysis.results import DevResults
from analysis.studio.theme import CORRECT_COLORS, class_colors, layout, score_step, task_color
from analysis.studio.scatter import scatter_class

COLOR_MODES = ("gold label", "prediction", "correct / incorrect", "task")
NEIGHBOURS = 10
CLOSE = 0.2  # a score prediction counts as correct within this share of the task's range (STS-B: 1 point of 5)


def point_id(task_key: str, example_id: str, k: int) -> str:
    """A map point's id, "key:id:k" (k: which sentence of a pair): the traces' `ids`, which the page's box and lasso
    selections report (analysis/studio/map_slice.js forwards them without ":k", as dev examples)."""
    return f"{task_key}:{example_id}:{k}"


def map_tasks(res: DevResults) -> list[str]:
    """The keys of the tasks whose sentences are on the map, in the map's order."""
    return list(dict.fromkeys(t for t, _, _ in res.data["map"]["points"]))


def _label(task, p: dict, n: int) -> tuple[str, str, bool]:
    """(gold, prediction, correct) of example n as people read them: class names, or scores."""
    if task.is_score:
        lo, hi = task.score_range
        gold, score = p["gold"][n], p["score"][n]
        return f"{gold:.1f}", f"{score:.2f}", abs(gold - score) <= CLOSE * (hi - lo)
    gold, pred = task.classes[int(p["gold"][n])], task.classes[int(p["pred"][n])]
    return gold, pred, gold == pred


def _point_labels(res: DevResults, tasks: dict) -> list[dict]:
    """Per map point: task, gold, prediction and hover text, aligned with res.data['map']['points']."""
    preds = res.data["predictions"]
    index = {t: {i: n for n, i in enumerate(p["ids"])} for t, p in preds.items()}
    out = []
    for key, ex_id, k in res.data["map"]["points"]:
        gold, pred, correct = _label(tasks[key], preds[key], index[key][ex_id])
        text = res.text(key, ex_id, k) or f"(id {ex_id}; text needs the task data)"
        out.append({"task": key, "gold": gold, "pred": pred, "correct": correct, "text": text, "id": ex_id,
                    "point": point_id(key, ex_id, k)})
    return out


def _group(lab: dict, key: str, tasks: dict) -> tuple[str, tuple, str]:
    """A point's legend name, its sort key (task, then class order: low -> high) and its colour."""
    task = tasks[lab["task"]]
    order = list(tasks).index(task.key)
    if key == "task":
        return task.name, (order,), task_color(tasks, task.key)
    if key == "correct":
        name = "correct" if lab["correct"] else "incorrect"
        return name, (not lab["correct"],), CORRECT_COLORS[name]
    value, colors = lab[key], class_colors(task)
    if task.is_score:
        step = score_step(task, float(value))
        lo, hi = task.score_range
        return f"{task.name}: {lo + step * (hi - lo) / (len(colors) - 1):g}", (order, step), colors[step]
    i = task.classes.index(value)
    return f"{task.name}: {value}", (order, i), colors[i]


def map_figure(res: DevResults, tasks: dict, which: str, color_by: str, shown: list[str], new_point=None) -> go.Figure:
    """The map of one model ("finetuned" or "base"): the points of the `shown` task keys, coloured by `color_by`
    (one of COLOR_MODES); `tasks`: the model's, key -> Task."""
    xy = np.array(res.data["map"][which])
    labels = _point_labels(res, tasks)
    key = {"gold label": "gold", "prediction": "pred", "correct / incorrect": "correct", "task": "task"}[color_by]
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    style: dict[str, tuple[tuple, str]] = {}
    for i, lab in enumerate(labels):
        if lab["task"] in shown:
            name, order, color = _group(lab, key, tasks)
            groups.setdefault(name, []).append(i)
            style[name] = (order, color)
    trace = scatter_class(sum(len(idx) for idx in groups.values()))  # one kind for all: the star stays on top
    for name in sorted(groups, key=lambda n: style[n][0]):  # legend in class order, not alphabetical
        idx = groups[name]
        fig.add_trace(trace(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=name, ids=[labels[i]["point"] for i in idx],
            marker=dict(size=5, opacity=0.7, color=style[name][1]),
            customdata=[[_wrap(labels[i]["text"]), tasks[labels[i]["task"]].name, labels[i]["gold"], labels[i]["pred"]]
                        for i in idx],
            hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[0]}<br>gold %{customdata[2]} · "
                          "predicted %{customdata[3]}<extra></extra>"))
    if new_point is not None:  # the last trace = drawn over every point; the outline shows on any colour
        fig.add_trace(trace(x=[new_point[0]], y=[new_point[1]], mode="markers", name="★ your sentence",
                            marker=dict(size=22, symbol="star", color="#ffd400", line=dict(color="black", width=2))))
        fig.add_annotation(x=new_point[0], y=new_point[1], text="your sentence", showarrow=True, arrowhead=2, ax=40,
                           ay=-40, bgcolor="rgba(255,255,255,0.85)", bordercolor="black", font=dict(size=11))
    title = "fine-tuned model" if which == "finetuned" else "pretrained base model"
    fig.update_layout(title=f"UMAP of dev sentence embeddings: {title}", height=560, meta=f"dev-map:{which}",
                      legend=dict(font=dict(size=10), orientation="h", y=-0.05, yanchor="top"), **layout(20, 20, 50, 20))
    return fig


def _wrap(text: str, width: int = 80) -> str:
    import html
    import textwrap
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width)[:6])


def place(res: DevResults, emb: np.ndarray, which: str, tasks: list[str] | None = None
          ) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Put a new L2-normalised embedding (H,) at the similarity-weighted mean of its nearest dev points of the
    shown `tasks` (default: all), as UMAP initialises new points; returns (x, y) and the neighbours as
    (point index, cosine)."""
    sims = res.embeddings[which] @ emb  # (N,)
    if tasks is not None:  # neighbours only among the points on the map
        shown = np.array([t in tasks for t, _, _ in res.data["map"]["points"]])
        sims = np.where(shown, sims, -np.inf)
    nn = np.argsort(-sims)[:NEIGHBOURS]
    nn = nn[np.isfinite(sims[nn])]
    return placed(np.array(res.data["map"][which])[nn], sims[nn]), [(int(i), float(sims[i])) for i in nn]


def placed(xy: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """A new point's (x, y): the mean of its nearest points' positions xy (k, 2) weighted by their cosines (k,)."""
    w = np.exp(10 * (sims - sims.max()))
    return (w[:, None] * xy).sum(0) / w.sum()


def neighbour_rows(res: DevResults, tasks: dict, neighbours: list[tuple[int, float]]) -> list[list]:
    """One row per neighbour: a pair task's sentence is one half of a pair, so its labels are said to be the pair's
    ("pair: duplicate"), not the sentence's own."""
    labels = _point_labels(res, tasks)

    def of(lab: dict, key: str) -> str:
        return f"pair: {lab[key]}" if tasks[lab["task"]].pair else lab[key]

    return [[f"{cos:.3f}", tasks[labels[i]["task"]].name, of(labels[i], "gold"), of(labels[i], "pred"),
             labels[i]["text"], labels[i]["id"]] for i, cos in neighbours]  # short columns first, the sentence wraps; the id selects it


NEIGHBOUR_COLUMNS = ["cosine", "task", "gold", "predicted", "sentence", "id"]
NEIGHBOUR_WIDTHS = ["8%", "8%", "12%", "12%", "40%", "20%"]
