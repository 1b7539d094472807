"""The Compare tab's views of an analysis.compare report: summary, confusion-matrix difference, flips."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.studio.theme import layout

DIRECTIONS = {"A right, B wrong": "a_right_b_wrong", "A wrong, B right": "a_wrong_b_right"}
SCORE_DIRECTIONS = {"A right, B wrong": "closer_in_a", "A wrong, B right": "closer_in_b"}  # a score task's "flips"
FLIP_COLUMNS = ["id", "gold", "A", "B", "sentence 1", "sentence 2"]
MAX_ROWS = 500  # flips shown in the table (the JSON from the CLI has them all)


def confusion_diff_figure(report: dict) -> go.Figure:
    """B - A counts per (gold, predicted) cell of every classes task: blue where B puts more, red where fewer. Each
    panel has its own scale and colour bar (± its largest change): the tasks' dev sets differ in size by 50x, so one
    shared scale made SST's +19 as dark as Quora's +95."""
    tasks = [r for r in report["tasks"].values() if r.get("classes")]
    fig = make_subplots(rows=1, cols=max(1, len(tasks)), subplot_titles=[f"{r['name']}: B - A" for r in tasks],
                        horizontal_spacing=0.18)
    for col, r in enumerate(tasks, 1):
        d, names = np.array(r["confusion_diff"]), r["classes"]
        lim = max(1, int(np.abs(d).max()))
        x_bar = fig.layout[f"xaxis{col if col > 1 else ''}"].domain[1] + 0.01  # just right of its own panel
        fig.add_trace(go.Heatmap(z=d, x=names, y=names, zmin=-lim, zmax=lim, colorscale="RdBu",
                                 colorbar=dict(title="B - A", x=x_bar, xanchor="left", thickness=12, len=0.9),
                                 text=[[f"{v:+d}" for v in row] for row in d], texttemplate="%{text}",
                                 hovertemplate="gold %{y}<br>predicted %{x}<br>B - A: %{z:+d}<extra></extra>"),
                      row=1, col=col)
        fig.update_xaxes(title_text="predicted", row=1, col=col)
        fig.update_yaxes(title_text="gold", autorange="reversed", row=1, col=col)
    fig.update_layout(title="Confusion-matrix difference (diagonal up = more correct in B)", height=400,
                      **layout(80, 20, 70, 60))
    return fig


def flip_rows(report: dict | None, task: str, direction: str, text, limit: int | None = MAX_ROWS) -> list[list]:
    """Flipped examples of one task (its key) and direction (the first `limit`; None: all); text(task, id, k) gives
    a sentence or None (None for the second sentence of a single-sentence task)."""
    if not report or task not in report["tasks"]:
        return []
    r = report["tasks"][task]
    names = r.get("classes")
    key = (DIRECTIONS if names else SCORE_DIRECTIONS).get(direction)
    if key is None:
        return []
    label = (lambda v: names[int(v)]) if names else (lambda v: f"{v:.2f}")
    return [[f["id"], label(f["gold"]), label(f["a"]), label(f["b"]), text(task, f["id"], 0) or "(text not loaded)",
             text(task, f["id"], 1) or ""] for f in r.get(key, [])[:limit]]


def flip_caption(report: dict | None, task: str, direction: str) -> str:
    if not report or task not in report["tasks"]:
        return ""
    r = report["tasks"][task]
    if not r.get("classes"):
        n = len(r["closer_in_a" if direction.startswith("A right") else "closer_in_b"])
        return (f"{r['name']} has no right or wrong: these {n} pairs are closer to gold in "
                f"{'A' if direction.startswith('A right') else 'B'} (largest change first).")
    m = r["mcnemar"]
    n = m["a_right_b_wrong"] if direction.startswith("A right") else m["a_wrong_b_right"]
    who = "A right and B wrong" if direction.startswith("A right") else "A wrong and B right"
    return f"{n} {r['name']} examples: {who}" + (f" (first {MAX_ROWS} shown)." if n > MAX_ROWS else ".")
