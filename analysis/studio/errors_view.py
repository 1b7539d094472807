"""Errors & imbalance: distributions, confusion matrices, per-class scores, calibration, thresholds, STS errors."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minbert.tasks import PARA_CLASSES, SST_CLASSES, TASK_KEYS
from minbert.evaluate.temperature import confidence_and_correct, ece as calibration_ece
from minbert.evaluate.metrics import classification_report, expected_calibration_error, pearson

from analysis.studio.scatter import scatter_class
from analysis.studio.theme import layout

LAYOUT = layout(50, 20, 60, 50)
TASK_TITLES = {"sst": "SST-5", "para": "Quora", "sts": "STS-B (score bins)"}
DIST_SPLITS = (("train", "train", "#aab7b8"), ("dev", "dev gold", "#2e86c1"), ("file", "file gold", "#2e86c1"))


def _arr(p: dict, key: str) -> np.ndarray:
    return np.asarray(p[key], dtype=float)


def distribution_figure(dist: dict, preds: dict, title: str = "Label and prediction distributions (share of each split)") -> go.Figure:
    """One panel per task in `preds`; bars for each split `dist` has for it (train, dev gold) and the predictions."""
    bins = ["0-1", "1-2", "2-3", "3-4", "4-5"]
    predicted = {"sst": lambda p: (list(SST_CLASSES), np.bincount(_arr(p, "pred").astype(int), minlength=5)),
                 "para": lambda p: (list(PARA_CLASSES), np.bincount(_arr(p, "pred").astype(int), minlength=2)),
                 "sts": lambda p: (bins, np.histogram(_arr(p, "score"), bins=5, range=(0, 5))[0])}
    tasks = [t for t in TASK_KEYS if t in preds]
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=[TASK_TITLES[t] for t in tasks])
    for col, task in enumerate(tasks, 1):
        x, pred = predicted[task](preds[task])
        series = [(name, dist[f"{task}_{key}"], color) for key, name, color in DIST_SPLITS if f"{task}_{key}" in dist]
        for name, y, color in series + [("predicted", pred.tolist(), "#e67e22")]:
            total = sum(y) or 1
            fig.add_trace(go.Bar(x=x, y=[v / total for v in y], name=name, marker_color=color, showlegend=col == 1,
                                 customdata=y, hovertemplate="%{x}<br>%{y:.1%} (%{customdata})<extra>" + name + "</extra>"),
                          row=1, col=col)
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(title=title, barmode="group", height=400, **LAYOUT)
    return fig


def confusion_figure(task: str, preds: dict, normalise: bool) -> go.Figure:
    p = preds[task]
    names = SST_CLASSES if task == "sst" else PARA_CLASSES
    rep = classification_report(_arr(p, "gold"), _arr(p, "pred"), len(names))
    m = np.array(rep["confusion"], dtype=float)
    z = m / np.maximum(m.sum(1, keepdims=True), 1) if normalise else m
    text = [[f"{v:.0%}" if normalise else f"{int(v)}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(names), y=list(names), colorscale="Blues", text=text, texttemplate="%{text}",
                               hovertemplate="gold %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    kind = "row-normalised" if normalise else "counts"
    fig.update_layout(title=f"{'SST-5' if task == 'sst' else 'Quora'} confusion matrix ({kind})", height=420,
                      xaxis_title="predicted", yaxis=dict(title="gold", autorange="reversed"), **LAYOUT)
    return fig


def per_class_table(task: str, preds: dict) -> tuple[list[list], str]:
    p = preds[task]
    names = SST_CLASSES if task == "sst" else PARA_CLASSES
    rep = classification_report(_arr(p, "gold"), _arr(p, "pred"), len(names))
    pc = rep["per_class"]
    rows = [[n, f"{pc['precision'][i]:.3f}", f"{pc['recall'][i]:.3f}", f"{pc['f1'][i]:.3f}", pc["support"][i]]
            for i, n in enumerate(names)]
    return rows, f"accuracy {rep['accuracy']:.4f} · macro-F1 {rep['macro_f1']:.4f}"


def ordinal_distance_figure(preds: dict) -> go.Figure:
    p = preds["sst"]
    d = np.abs(_arr(p, "pred") - _arr(p, "gold")).astype(int)
    counts = np.bincount(d, minlength=5)
    fig = go.Figure(go.Bar(x=["exact", "off by 1", "off by 2", "off by 3", "off by 4"], y=counts,
                           text=[f"{c} ({c / len(d):.1%})" for c in counts], textposition="outside", cliponaxis=False,
                           marker_color=["#27ae60", "#f4d03f", "#e67e22", "#c0392b", "#7b241c"]))
    wrong = d > 0
    share = (d == 1).sum() / max(wrong.sum(), 1)
    fig.update_layout(title=f"SST ordinal error distance: {share:.0%} of errors are off by one class",
                      height=360, yaxis=dict(title="sentences", range=[0, counts.max() * 1.18 + 1]), **LAYOUT)
    return fig


def reliability_figure(preds: dict, calibration: dict | None = None) -> go.Figure:
    """Reliability of the raw probabilities and, with a sidecar `calibration`, of the temperature-scaled
    ones (dashed; the curve is in-sample, the legend's ECE is the cross-fitted one)."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dash", color="gray"), name="perfect"))
    for task, name in (("sst", "SST-5"), ("para", "paraphrase")):
        if task not in preds:
            continue
        p, gold = preds[task], _arr(preds[task], "gold")
        logits = np.log(np.clip(np.asarray(p["probs"], float), 1e-12, 1)) if task == "sst" else \
            np.log(np.clip(_arr(p, "prob"), 1e-12, 1)) - np.log(np.clip(1 - _arr(p, "prob"), 1e-12, 1))
        cal = (calibration or {}).get(task)
        curves = [(f"{name} raw (ECE {calibration_ece(task, logits, gold, 1.0):.3f})", 1.0, "solid")]
        if cal:
            curves.append((f"{name} T = {cal['temperature']:.2f} (cross-fitted ECE {cal['ece_after']:.3f})",
                           cal["temperature"], "dot"))
        for label, t, dash in curves:
            b = expected_calibration_error(*confidence_and_correct(task, logits, gold, t))["bins"]
            fig.add_trace(go.Scatter(x=[r["confidence"] for r in b], y=[r["accuracy"] for r in b], mode="lines+markers",
                                     name=label, line=dict(dash=dash), customdata=[r["count"] for r in b],
                                     hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} examples"))
    fig.update_layout(title="Reliability (10 bins)" + (": raw and temperature-scaled" if calibration else ""),
                      xaxis=dict(title="confidence", range=[0, 1]), yaxis=dict(title="accuracy", range=[0, 1]),
                      legend=dict(orientation="h", y=-0.22, font=dict(size=10)), height=470, **layout(50, 20, 60, 120))
    return fig


def threshold_sweep(preds: dict) -> dict:
    p = preds["para"]
    prob, gold = _arr(p, "prob"), _arr(p, "gold")
    ts = np.round(np.linspace(0.05, 0.95, 91), 3)
    acc, f1 = [], []
    for t in ts:
        pred = prob > t
        tp, fp, fn = (pred & (gold == 1)).sum(), (pred & (gold == 0)).sum(), (~pred & (gold == 1)).sum()
        acc.append(float((pred == gold).mean()))
        f1.append(float(2 * tp / max(2 * tp + fp + fn, 1)))
    return {"thresholds": ts.tolist(), "accuracy": acc, "f1": f1}


def threshold_figure(preds: dict, threshold: float) -> tuple[go.Figure, str]:
    s = threshold_sweep(preds)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s["thresholds"], y=s["accuracy"], name="accuracy"))
    fig.add_trace(go.Scatter(x=s["thresholds"], y=s["f1"], name="F1 (duplicate)"))
    fig.add_vline(x=threshold, line_dash="dash", line_color="black")
    i = int(np.argmin(np.abs(np.array(s["thresholds"]) - threshold)))
    best = int(np.argmax(s["accuracy"]))
    fig.update_layout(title="Quora decision threshold on P(duplicate)", xaxis_title="threshold", height=380,
                      yaxis=dict(range=[0.4, 1]), **LAYOUT)
    note = (f"at {threshold:.2f}: accuracy {s['accuracy'][i]:.4f}, F1 {s['f1'][i]:.4f} · model threshold 0.50 · "
            f"best accuracy {s['accuracy'][best]:.4f} at {s['thresholds'][best]:.2f} (chosen on the same data: optimistic)")
    return fig, note


def sts_figures(preds: dict) -> tuple[go.Figure, go.Figure]:
    p = preds["sts"]
    gold, score = _arr(p, "gold"), _arr(p, "score")
    scatter = go.Figure(scatter_class(len(gold))(x=gold, y=score, mode="markers", marker=dict(size=5, opacity=0.5),
                                                 customdata=p["ids"],
                                                 hovertemplate="gold %{x:.2f}<br>predicted %{y:.2f}<br>id %{customdata}"))
    scatter.add_trace(go.Scatter(x=[0, 5], y=[0, 5], mode="lines", line=dict(dash="dash", color="gray"), showlegend=False))
    scatter.update_layout(title=f"STS-B dev: gold vs predicted (Pearson {pearson(gold, score):.4f})", height=420,
                          xaxis_title="gold similarity", yaxis_title="predicted", showlegend=False, **LAYOUT)
    bucket = np.clip(gold.astype(int), 0, 4)
    names = ["0-1", "1-2", "2-3", "3-4", "4-5"]
    mae = [float(np.abs(score - gold)[bucket == b].mean()) if (bucket == b).any() else 0 for b in range(5)]
    bias = [float((score - gold)[bucket == b].mean()) if (bucket == b).any() else 0 for b in range(5)]
    bars = go.Figure([go.Bar(x=names, y=mae, name="mean absolute error"), go.Bar(x=names, y=bias, name="mean signed error")])
    bars.update_layout(title="STS-B error by gold bucket", barmode="group", height=380, xaxis_title="gold similarity", **LAYOUT)
    return scatter, bars


MISCLASSIFIED_COLUMNS = ["gold", "predicted", "confidence", "text", "id"]


def misclassified_rows(res, task: str, gold_filter: str, pred_filter: str, limit: int = 200) -> list[list]:
    p = res.data["predictions"][task]
    names = SST_CLASSES if task == "sst" else PARA_CLASSES
    rows = []
    for n, ex_id in enumerate(p["ids"]):
        g, pr = int(p["gold"][n]), int(p["pred"][n])
        if g == pr or (gold_filter != "any" and names[g] != gold_filter) or (pred_filter != "any" and names[pr] != pred_filter):
            continue
        conf = max(p["probs"][n]) if task == "sst" else (p["prob"][n] if pr else 1 - p["prob"][n])
        text = res.text(task, ex_id, 0) or "(needs task data)"
        if task == "para":
            text = f"{text}  ⟷  {res.text(task, ex_id, 1) or ''}"
        rows.append([names[g], names[pr], round(float(conf), 3), text, ex_id])  # short columns first: never off screen
    rows.sort(key=lambda r: -r[2])  # most confident mistakes first
    return rows[:limit]
