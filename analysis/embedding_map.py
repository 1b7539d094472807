"""The UMAP map of dev sentence embeddings, and placing a new sentence on it."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from minbert.tasks import PARA_CLASSES, SST_CLASSES, TASKS

from analysis.results import DevResults
from analysis.studio.theme import layout

COLOR_MODES = ("gold label", "prediction", "correct / incorrect", "task")
TASK_NAMES = {k: t.name for k, t in TASKS.items()}
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


def map_figure(res: DevResults, which: str, color_by: str, tasks: list[str], new_point=None) -> go.Figure:
    xy = np.array(res.data["map"][which])
    labels = _point_labels(res)
    key = {"gold label": "gold", "prediction": "pred", "correct / incorrect": "correct", "task": "task"}[color_by]
    fig = go.Figure()
    groups: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        if lab["task"] in tasks:
            name = TASK_NAMES[lab["task"]] if key == "task" else (
                ("correct" if lab["correct"] else "incorrect") if key == "correct" else f"{TASK_NAMES[lab['task']]}: {lab[key]}")
            if lab["task"] == "sts" and key in ("gold", "pred"):
                name = f"STS-B: {round(float(lab[key]))}"
            groups.setdefault(name, []).append(i)
    for name in sorted(groups):
        idx = groups[name]
        fig.add_trace(go.Scattergl(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=name, marker=dict(size=5, opacity=0.7),
            customdata=[[_wrap(labels[i]["text"]), TASK_NAMES[labels[i]["task"]], labels[i]["gold"], labels[i]["pred"]]
                        for i in idx],
            hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[0]}<br>gold %{customdata[2]} · "
                          "predicted %{customdata[3]}<extra></extra>"))
    if new_point is not None:
        fig.add_trace(go.Scatter(x=[new_point[0]], y=[new_point[1]], mode="markers", name="your sentence",
                                 marker=dict(size=18, symbol="star", color="black", line=dict(color="gold", width=2))))
    title = "fine-tuned model" if which == "finetuned" else "pretrained base model"
    fig.update_layout(title=f"UMAP of dev sentence embeddings: {title}", height=560,
                      legend=dict(font=dict(size=10)), **layout(20, 20, 50, 20))
    return fig


def _wrap(text: str, width: int = 80) -> str:
    import html
    import textwrap
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width)[:6])


def place(res: DevResults, emb: np.ndarray, which: str) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Put a new L2-normalised embedding (H,) at the similarity-weighted mean of its nearest dev points,
    as UMAP initialises new points; returns (x, y) and the neighbours as (point index, cosine)."""
    sims = res.embeddings[which] @ emb  # (N,)
    nn = np.argsort(-sims)[:NEIGHBOURS]
    w = np.exp(10 * (sims[nn] - sims[nn].max()))
    xy = np.array(res.data["map"][which])[nn]
    return (w[:, None] * xy).sum(0) / w.sum(), [(int(i), float(sims[i])) for i in nn]


def neighbour_rows(res: DevResults, neighbours: list[tuple[int, float]]) -> list[list]:
    labels = _point_labels(res)
    return [[f"{cos:.3f}", TASK_NAMES[labels[i]["task"]], labels[i]["text"], labels[i]["gold"], labels[i]["pred"]]
            for i, cos in neighbours]
