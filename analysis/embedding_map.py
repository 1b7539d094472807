"""The UMAP map of dev sentence embeddings, and placing a new sentence on it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from minbert.tasks import PARA_CLASSES, SST_CLASSES, TASKS

from analysis.results import DevResults
from analysis.studio.theme import (CORRECT_COLORS, PARAPHRASE_COLORS, SENTIMENT_COLORS, SIMILARITY_COLORS, TASK_COLORS,
                                   layout)

COLOR_MODES = ("gold label", "prediction", "correct / incorrect", "task")
TASK_NAMES = {k: t.name for k, t in TASKS.items()}
TASK_ORDER = tuple(TASK_NAMES[k] for k in ("sst", "sts", "para"))  # the map's legend order
NEIGHBOURS = 10


def _point_labels(res: DevResults) -> list[dict]:
    """Per map point: task, gold, prediction and hover text, aligned with res.data['map']['points']."""
    preds = res.data["predictions"]
    index = {t: {i: n for n, i in enumerate(p["ids"])} for t, p in preds.items()}
    out = []
    for task, ex_id, k in res.data["map"]["points"]:
        p, n = preds[task], index[task][ex_id]
        if task == "sst":
            gold, pred = SST_CLASSES[int(p["gold"][n])], SST_CLASSES[int(p["pred"][n])]
        elif task == "para":
            gold, pred = PARA_CLASSES[int(p["gold"][n])], PARA_CLASSES[int(p["pred"][n])]
        else:
            gold, pred = f"{p['gold'][n]:.1f}", f"{p['score'][n]:.2f}"
        correct = gold == pred if task != "sts" else abs(p["gold"][n] - p["score"][n]) <= 1.0
        text = res.text(task, ex_id, k) or f"(id {ex_id}; text needs the task data)"
        out.append({"task": task, "gold": gold, "pred": pred, "correct": correct, "text": text, "id": ex_id})
    return out


def _group(lab: dict, key: str) -> tuple[str, tuple, str]:
    """A point's legend name, its sort key (task, then class order: negative -> positive) and its colour."""
    task = TASK_NAMES[lab["task"]]
    if key == "task":
        return task, (TASK_ORDER.index(task),), TASK_COLORS[task]
    if key == "correct":
        name = "correct" if lab["correct"] else "incorrect"
        return name, (not lab["correct"],), CORRECT_COLORS[name]
    value = lab[key]
    if lab["task"] == "sst":
        return f"SST: {value}", (0, SST_CLASSES.index(value)), SENTIMENT_COLORS[value]
    if lab["task"] == "para":
        return f"Quora: {value}", (2, PARA_CLASSES.index(value)), PARAPHRASE_COLORS[value]
    score = min(max(round(float(value)), 0), 5)
    return f"STS-B: {score}", (1, score), SIMILARITY_COLORS[score]


def map_figure(res: DevResults, which: str, color_by: str, tasks: list[str], new_point=None) -> go.Figure:
    xy = np.array(res.data["map"][which])
    labels = _point_labels(res)
    key = {"gold label": "gold", "prediction": "pred", "correct / incorrect": "correct", "task": "task"}[color_by]
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    style: dict[str, tuple[tuple, str]] = {}
    for i, lab in enumerate(labels):
        if lab["task"] in tasks:
            name, order, color = _group(lab, key)
            groups.setdefault(name, []).append(i)
            style[name] = (order, color)
    for name in sorted(groups, key=lambda n: style[n][0]):  # legend in class order, not alphabetical
        idx = groups[name]
        fig.add_trace(go.Scattergl(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=name,
            marker=dict(size=5, opacity=0.7, color=style[name][1]),
            customdata=[[_wrap(labels[i]["text"]), TASK_NAMES[labels[i]["task"]], labels[i]["gold"], labels[i]["pred"]]
                        for i in idx],
            hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[0]}<br>gold %{customdata[2]} · "
                          "predicted %{customdata[3]}<extra></extra>"))
    if new_point is not None:  # last WebGL trace = drawn over every point; the outline shows on any colour
        fig.add_trace(go.Scattergl(x=[new_point[0]], y=[new_point[1]], mode="markers", name="★ your sentence",
                                   marker=dict(size=22, symbol="star", color="#ffd400", line=dict(color="black", width=2))))
        fig.add_annotation(x=new_point[0], y=new_point[1], text="your sentence", showarrow=True, arrowhead=2, ax=40,
                           ay=-40, bgcolor="rgba(255,255,255,0.85)", bordercolor="black", font=dict(size=11))
    title = "fine-tuned model" if which == "finetuned" else "pretrained base model"
    fig.update_layout(title=f"UMAP of dev sentence embeddings: {title}", height=560,
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


def neighbour_rows(res: DevResults, neighbours: list[tuple[int, float]]) -> list[list]:
    labels = _point_labels(res)
    return [[f"{cos:.3f}", TASK_NAMES[labels[i]["task"]], labels[i]["gold"], labels[i]["pred"], labels[i]["text"]]
            for i, cos in neighbours]  # short columns first, the sentence last (it wraps)


NEIGHBOUR_COLUMNS = ["cosine", "task", "gold", "predicted", "sentence"]
NEIGHBOUR_WIDTHS = ["9%", "9%", "15%", "15%", "52%"]
