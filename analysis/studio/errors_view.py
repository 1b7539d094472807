"""Errors & imbalance: distributions, confusion matrices, per-class scores, calibration, thresholds, score errors.

Every view takes the task it draws (a minbert.tasks.Task) and asks it: classes tasks get confusion, per-class scores,
calibration and mistakes; yes/no pair tasks a decision threshold; score tasks a scatter and errors by score bucket.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minbert.evaluate.metrics import classification_report, expected_calibration_error, pearson

from analysis.precompute import SCORE_BUCKETS, label_counts, score_buckets
from analysis.studio.scatter import scatter_class
from analysis.studio.theme import layout

LAYOUT = layout(50, 20, 60, 50)
DIST_SPLITS = (("train", "train", "#aab7b8"), ("dev", "dev gold", "#2e86c1"), ("file", "file gold", "#2e86c1"))
CROWDED = 200  # points beyond which a score scatter's dots are drawn small and see-through


def _arr(p: dict, key: str) -> np.ndarray:
    return np.asarray(p[key], dtype=float)


def predicted(task, p: dict) -> np.ndarray:
    """The predictions of a task's stored outputs: classes, or scores."""
    return _arr(p, "score" if task.is_score else "pred")


def distribution_figure(tasks: list, dist: dict, preds: dict,
                        title: str = "Label and prediction distributions (share of each split)") -> go.Figure:
    """One panel per task (those of `tasks` with predictions); bars for each split `dist` has for it (f"{key}_train",
    f"{key}_dev", f"{key}_file") and for the predictions."""
    tasks = [t for t in tasks if t.key in preds]
    fig = make_subplots(rows=1, cols=len(tasks),
                        subplot_titles=[t.name + (" (score bins)" if t.is_score else "") for t in tasks])
    for col, task in enumerate(tasks, 1):
        x, pred = label_counts(task, predicted(task, preds[task.key]))
        series = [(name, dist[f"{task.key}_{key}"], color) for key, name, color in DIST_SPLITS
                  if f"{task.key}_{key}" in dist]
        for name, y, color in series + [("predicted", pred, "#e67e22")]:
            total = sum(y) or 1
            fig.add_trace(go.Bar(x=x, y=[v / total for v in y], name=name, marker_color=color, showlegend=col == 1,
                                 customdata=y, hovertemplate="%{x}<br>%{y:.1%} (%{customdata})<extra>" + name + "</extra>"),
                          row=1, col=col)
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(title=title, barmode="group", height=400, **LAYOUT)
    return fig


def confusion_figure(task, preds: dict, normalise: bool) -> go.Figure:
    p, names = preds[task.key], list(task.classes)
    rep = classification_report(_arr(p, "gold"), _arr(p, "pred"), len(names))
    m = np.array(rep["confusion"], dtype=float)
    z = m / np.maximum(m.sum(1, keepdims=True), 1) if normalise else m
    text = [[f"{v:.0%}" if normalise else f"{int(v)}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Blues", text=text, texttemplate="%{text}",
                               hovertemplate="gold %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    kind = "row-normalised" if normalise else "counts"
    fig.update_layout(title=f"{task.name} confusion matrix ({kind})", height=420,
                      xaxis_title="predicted", yaxis=dict(title="gold", autorange="reversed"), **LAYOUT)
    return fig


def per_class_table(task, preds: dict) -> tuple[list[list], str]:
    p, names = preds[task.key], task.classes
    rep = classification_report(_arr(p, "gold"), _arr(p, "pred"), len(names))
    pc = rep["per_class"]
    rows = [[n, f"{pc['precision'][i]:.3f}", f"{pc['recall'][i]:.3f}", f"{pc['f1'][i]:.3f}", pc["support"][i]]
            for i, n in enumerate(names)]
    return rows, f"accuracy {rep['accuracy']:.4f} · macro-F1 {rep['macro_f1']:.4f}"


def ordinal_distance_figure(task, preds: dict) -> go.Figure:
    """How many classes off the mistakes are, for a task whose classes are a scale (more than two of them)."""
    p = preds[task.key]
    d = np.abs(_arr(p, "pred") - _arr(p, "gold")).astype(int)
    n = task.num_classes
    counts_ = np.bincount(d, minlength=n)
    colors = ["#27ae60", "#f4d03f", "#e67e22", "#c0392b", "#7b241c"]
    fig = go.Figure(go.Bar(x=["exact"] + [f"off by {k}" for k in range(1, n)], y=counts_,
                           text=[f"{c} ({c / len(d):.1%})" for c in counts_], textposition="outside", cliponaxis=False,
                           marker_color=[colors[min(k, len(colors) - 1)] for k in range(n)]))
    share = (d == 1).sum() / max((d > 0).sum(), 1)
    fig.update_layout(title=f"{task.name} ordinal error distance: {share:.0%} of errors are off by one class",
                      height=360, yaxis=dict(title="sentences", range=[0, counts_.max() * 1.18 + 1]), **LAYOUT)
    return fig


def confidence_correct(task, p: dict, t: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Confidence in the predicted class and whether it is right, at temperature t, from stored probabilities (at
    t = 1 as stored): softmax(log probs / t) for a sentence task, sigmoid(logit / t) of P(yes) for a yes/no pair."""
    gold = _arr(p, "gold").astype(int)
    if "probs" in p:
        q = np.asarray(p["probs"], float)
        if t != 1.0:
            z = np.log(np.clip(q, 1e-12, 1)) / t
            q = np.exp(z - z.max(-1, keepdims=True))
            q /= q.sum(-1, keepdims=True)
        return q.max(-1), q.argmax(-1) == gold
    q = _arr(p, "prob")
    if t != 1.0:
        q = np.clip(q, 1e-12, 1 - 1e-12)
        q = 1 / (1 + np.exp(-(np.log(q) - np.log1p(-q)) / t))
    pred = (q > 0.5).astype(int)
    return np.where(pred == 1, q, 1 - q), pred == gold


def reliability_figure(tasks: list, preds: dict, calibration: dict | None = None) -> go.Figure:
    """Reliability of the raw probabilities of each classes task and, with a sidecar `calibration` for it, of the
    temperature-scaled ones (dotted; the curve is in-sample, the legend's ECE is the cross-fitted one)."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="gray"), name="perfect"))
    for task in (t for t in tasks if t.key in preds and not t.is_score):
        p = preds[task.key]
        cal = (calibration or {}).get(task.key)
        raw = expected_calibration_error(*confidence_correct(task, p))
        curves = [(f"{task.name} raw (ECE {raw['ece']:.3f})", raw, "solid")]
        if cal:
            curves.append((f"{task.name} T = {cal['temperature']:.2f} (cross-fitted ECE {cal['ece_after']:.3f})",
                           expected_calibration_error(*confidence_correct(task, p, cal["temperature"])), "dot"))
        for label, ece, dash in curves:
            b = ece["bins"]
            fig.add_trace(go.Scatter(x=[r["confidence"] for r in b], y=[r["accuracy"] for r in b], mode="lines+markers",
                                     name=label, line=dict(dash=dash), customdata=[r["count"] for r in b],
                                     hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} examples"))
    fig.update_layout(title="Reliability (10 bins)" + (": raw and temperature-scaled" if calibration else ""),
                      xaxis=dict(title="confidence", range=[0, 1]), yaxis=dict(title="accuracy", range=[0, 1]),
                      legend=dict(orientation="h", y=-0.22, font=dict(size=10)), height=470, **layout(50, 20, 60, 120))
    return fig


def threshold_sweep(task, preds: dict) -> dict:
    p = preds[task.key]
    prob, gold = _arr(p, "prob"), _arr(p, "gold")
    ts = np.round(np.linspace(0.05, 0.95, 91), 3)
    acc, f1 = [], []
    for t in ts:
        pred = prob > t
        tp, fp, fn = (pred & (gold == 1)).sum(), (pred & (gold == 0)).sum(), (~pred & (gold == 1)).sum()
        acc.append(float((pred == gold).mean()))
        f1.append(float(2 * tp / max(2 * tp + fp + fn, 1)))
    return {"thresholds": ts.tolist(), "accuracy": acc, "f1": f1}


def threshold_figure(task, preds: dict, threshold: float) -> tuple[go.Figure, str]:
    """A yes/no pair task's accuracy and F1 as the decision threshold on P(yes) moves."""
    s = threshold_sweep(task, preds)
    yes = task.classes[1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s["thresholds"], y=s["accuracy"], name="accuracy"))
    fig.add_trace(go.Scatter(x=s["thresholds"], y=s["f1"], name=f"F1 ({yes})"))
    fig.add_vline(x=threshold, line_dash="dash", line_color="black")
    i = int(np.argmin(np.abs(np.array(s["thresholds"]) - threshold)))
    best = int(np.argmax(s["accuracy"]))
    fig.update_layout(title=f"{task.name} decision threshold on P({yes})", xaxis_title="threshold", height=380,
                      yaxis=dict(range=[0.4, 1]), **LAYOUT)
    note = (f"at {threshold:.2f}: accuracy {s['accuracy'][i]:.4f}, F1 {s['f1'][i]:.4f} · model threshold 0.50 · "
            f"best accuracy {s['accuracy'][best]:.4f} at {s['thresholds'][best]:.2f} (chosen on the same data: optimistic)")
    return fig, note


def score_marker(n: int) -> dict:
    """Dots for a gold-vs-predicted scatter of n points: small and see-through where hundreds overlap (a dev set),
    large and solid where a user's small file has a few, which at 5 px and half opacity were barely seen."""
    return dict(size=5, opacity=0.5) if n > CROWDED else dict(size=9, opacity=0.85, line=dict(width=1, color="white"))


def score_figures(task, preds: dict) -> tuple[go.Figure, go.Figure]:
    """A score task: gold against predicted, and the mean errors per gold bucket."""
    p = preds[task.key]
    gold, score = _arr(p, "gold"), _arr(p, "score")
    lo, hi = task.score_range
    scatter = go.Figure(scatter_class(len(gold))(x=gold, y=score, mode="markers", marker=score_marker(len(gold)),
                                     customdata=p["ids"], hovertemplate="gold %{x:.2f}<br>predicted %{y:.2f}<br>id %{customdata}"))
    scatter.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(dash="dash", color="gray"),
                                 showlegend=False))
    scatter.update_layout(title=f"{task.name} dev: gold vs predicted (Pearson {pearson(gold, score):.4f})", height=420,
                          xaxis_title="gold", yaxis_title="predicted", showlegend=False, **LAYOUT)
    edges, names = score_buckets(task)
    bucket = np.clip(np.digitize(gold, edges[1:-1]), 0, SCORE_BUCKETS - 1)
    mae = [float(np.abs(score - gold)[bucket == b].mean()) if (bucket == b).any() else 0 for b in range(SCORE_BUCKETS)]
    bias = [float((score - gold)[bucket == b].mean()) if (bucket == b).any() else 0 for b in range(SCORE_BUCKETS)]
    bars = go.Figure([go.Bar(x=names, y=mae, name="mean absolute error"), go.Bar(x=names, y=bias, name="mean signed error")])
    bars.update_layout(title=f"{task.name} error by gold bucket", barmode="group", height=380, xaxis_title="gold",
                       **LAYOUT)
    return scatter, bars


MISCLASSIFIED_COLUMNS = ["gold", "predicted", "confidence", "text", "id"]


def misclassified_rows(res, task, gold_filter: str, pred_filter: str, limit: int = 200) -> list[list]:
    """A classes task's wrong predictions under the class filters ("any" or a class name), most confident first."""
    p, names = res.data["predictions"][task.key], task.classes
    conf, _ = confidence_correct(task, p)
    rows = []
    for n, ex_id in enumerate(p["ids"]):
        g, pr = int(p["gold"][n]), int(p["pred"][n])
        if g == pr or (gold_filter != "any" and names[g] != gold_filter) or (pred_filter != "any" and names[pr] != pred_filter):
            continue
        text = res.text(task.key, ex_id, 0) or "(needs task data)"
        if task.pair:
            text = f"{text}  ⟷  {res.text(task.key, ex_id, 1) or ''}"
        rows.append([names[g], names[pr], round(float(conf[n]), 3), text, ex_id])  # short columns first: never off screen
    rows.sort(key=lambda r: -r[2])  # most confident mistakes first
    return rows[:limit]
