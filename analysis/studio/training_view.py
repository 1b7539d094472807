"""Training curves and tables, all read from the checkpoint sidecar."""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minbert.tasks import get
from minbert.train.lr_schedule import lr_multiplier

from analysis.experiments import seeded
from analysis.studio.theme import layout

LAYOUT = layout(50, 20, 60, 50)
SPLIT_COLORS = {"train": "#e69f00", "dev": "#0072b2"}  # Okabe-Ito orange and blue: apart for colour-blind eyes too


def loss_figure(meta: dict, tasks: dict) -> go.Figure:
    """Multitask loss curves (named from `tasks`, key -> Task), with an MLM panel beside them only when the recipe
    had an MLM stage."""
    mlm = meta.get("mlm_history") or []
    fig = make_subplots(rows=1, cols=2, subplot_titles=("MLM further pretraining", "multitask fine-tuning")) if mlm \
        else make_subplots(rows=1, cols=1, subplot_titles=("multitask fine-tuning (this recipe has no MLM stage)",))
    col = 2 if mlm else 1
    if mlm:
        fig.add_trace(go.Scatter(x=[r["step"] for r in mlm], y=[r["loss"] for r in mlm], name="MLM loss"), row=1, col=1)
        fig.update_xaxes(title_text="step", row=1, col=1)
    offset = 0.0
    series: dict[str, tuple[list, list]] = {}
    for rec in meta.get("history", []):
        for task, curve in rec.get("loss_curve", {}).items():
            xs, ys = series.setdefault(task, ([], []))
            n = len(curve)
            xs += [offset + (i + 0.5) / n for i in range(n)]
            ys += curve
        offset += 1
    for task, (xs, ys) in series.items():
        name = tasks[task].name if task in tasks else task
        fig.add_trace(go.Scatter(x=xs, y=ys, name=f"{name} loss", mode="lines"), row=1, col=col)
    fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_layout(title="Loss curves", height=380, **LAYOUT)
    return fig


def overfitting_figure(meta: dict, tasks: dict) -> go.Figure:
    """Each task's metric per epoch on a training sample and on dev (`tasks`: key -> Task). A split has one colour in
    every panel, so the one legend (drawn from the first panel) explains them all."""
    hist = meta.get("history", [])
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=[t.title for t in tasks.values()])
    for col, key in enumerate((t.metric for t in tasks.values()), 1):
        for split, dash in (("train", "dot"), ("dev", "solid")):
            ys = [r[split].get(key) for r in hist]
            fig.add_trace(go.Scatter(x=[r["epoch"] for r in hist], y=ys, name=split,
                                     line=dict(dash=dash, color=SPLIT_COLORS[split]),
                                     showlegend=col == 1, legendgroup=split, mode="lines+markers"), row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_layout(title="Train vs dev per epoch (train: a fixed sample of training examples)", height=380, **LAYOUT)
    return fig


def lr_figure(meta: dict) -> go.Figure:
    cfg = meta.get("train_config", {})
    hist = meta.get("history", [])
    fig = go.Figure()
    if hist and cfg:
        steps_per_epoch = hist[0]["step"]
        total = steps_per_epoch * cfg["epochs"]
        xs = list(range(0, total, max(1, total // 400)))
        ys = [cfg["lr"] * lr_multiplier(cfg["schedule"], s, steps_per_epoch, total, cfg["gamma"], cfg["warmup_ratio"])
              for s in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="learning rate"))
    fig.update_layout(title=f"Learning-rate schedule ({cfg.get('schedule', '?')})", xaxis_title="step",
                      yaxis=dict(title="lr", exponentformat="e"), height=320, **LAYOUT)
    return fig


def any_table(table: dict | None, how: str) -> tuple[list[str], list[list], str]:
    """(columns, rows, title) of a sidecar table: a seeded one (mean ± sd) or an older one-seed table."""
    if not table:
        return ["(none)"], [[f"not recorded in this checkpoint: {how}"]], "not recorded"
    if table.get("kind") == "seeded":
        return seeded.columns(table), seeded.cells(table), table["title"]
    return (*table_rows(table), table["title"])


def table_rows(table: dict | None) -> tuple[list[str], list[list]]:
    """A {"columns": [...], "rows": [[...]]} table from the sidecar, formatted for a Dataframe."""
    if not table:
        return ["(none)"], [["not recorded in this checkpoint"]]
    cols = table["columns"]
    rows = [[(f"{v:.1f}" if c == "minutes" else f"{v:.4f}") if isinstance(v, float) else v for c, v in zip(cols, r)]
            for r in table["rows"]]
    return cols, rows


def learning_curve_figure(meta: dict) -> go.Figure:
    """Each recorded task's dev score against its training examples (log scale, mean ± sd over seeds), the least-
    squares line in log2(size) and the target it was extrapolated to."""
    curves = meta.get("learning_curves") or {}
    fig = make_subplots(rows=1, cols=max(1, len(curves)), subplot_titles=[
        f"{get(t).title}: {c['line']['per_doubling']:+.4f} per doubling" if c["line"]["per_doubling"] is not None
        else get(t).title for t, c in curves.items()] or ["not recorded"])
    for col, (task, c) in enumerate(curves.items(), 1):
        rows = c["rows"]
        fig.add_trace(go.Scatter(x=[r["examples"] for r in rows], y=[r["mean"] for r in rows], mode="markers",
                                 error_y=dict(array=[r["sd"] or 0 for r in rows]), name="dev (mean ± sd)",
                                 showlegend=col == 1, legendgroup="dev", marker=dict(color="#1f77b4")), row=1, col=col)
        line, target, reach = c["line"], c.get("target"), c.get("examples_for_target")
        if line["per_doubling"] is not None:
            end = max([r["examples"] for r in rows] + ([min(reach, 64 * rows[-1]["examples"])] if reach else []))
            xs = [rows[0]["examples"], end]
            fig.add_trace(go.Scatter(x=xs, y=[line["intercept"] + line["per_doubling"] * math.log2(x) for x in xs],
                                     mode="lines", line=dict(dash="dash", color="#7f7f7f"), name="log-linear fit",
                                     showlegend=col == 1, legendgroup="fit"), row=1, col=col)
        if target is not None:
            fig.add_hline(y=target, line=dict(dash="dot", color="#d62728"), row=1, col=col,
                          annotation_text=f"target {target}" + (f" at ≥ {reach:,.0f} examples" if reach else ""))
        fig.update_xaxes(type="log", title_text="training examples", row=1, col=col)
    if not curves:
        fig.add_annotation(text="not recorded in this checkpoint: python -m analysis.experiments.learning_curve "
                                "--task para --sidecar CHECKPOINT", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title="Learning curves: each task trained alone on part of its training data",
                      height=380, **LAYOUT)
    return fig


def interference_figure(res: dict | None) -> go.Figure:
    """Per shared layer, the cosine between two tasks' loss gradients (solid) and between the two halves of one
    task's sample (dotted, the noise reference), from analysis.interference."""
    fig = go.Figure()
    if res:
        for pair, ys in res["cross"].items():
            fig.add_trace(go.Scatter(x=res["layers"], y=ys, mode="lines+markers", name=f"cos {pair}"))
        for task, ys in res["self"].items():
            fig.add_trace(go.Scatter(x=res["layers"], y=ys, mode="lines", line=dict(dash="dot", width=1),
                                     name=f"{task}: its two halves"))
        fig.add_hline(y=0, line=dict(color="#7f7f7f", width=1))
        if res.get("private"):
            fig.add_annotation(text=res["private"], showarrow=False, x=1, y=1.08, xref="paper", yref="paper",
                               xanchor="right")
    else:
        fig.add_annotation(text="not computed for this checkpoint: python -m analysis.interference --checkpoint "
                                "CHECKPOINT", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title="Task interference: cosine between the tasks' loss gradients, per shared layer "
                            "(below 0: they pull apart)", yaxis_title="cosine", height=380, **LAYOUT)
    return fig
