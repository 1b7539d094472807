"""Plotly figures and HTML for the live-prediction tabs (sentiment, pairs, cross-task, attention)."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.studio.theme import CHOSEN_HEAD, COSINE_COLOR, NEUTRAL_AGAINST, class_colors, high_color, layout, swatch

SPECIAL = {"[CLS]", "[SEP]", "[PAD]"}
GRID_TOKENS = 64  # tokens per map in the 72-map model view (the head view shows all MAX_VIEW_TOKENS)
LAYOUT = layout()


def probability_bars(task, probs: list[float], title: str | None = None) -> go.Figure:
    """A classes task's probability per class, in its colours; the predicted class outlined."""
    best = int(np.argmax(probs))
    fig = go.Figure(go.Bar(x=list(task.classes), y=probs, marker_color=list(class_colors(task)),
                           marker_line=dict(width=[3 if i == best else 0 for i in range(len(probs))], color="#222"),
                           text=[f"{p:.1%}" for p in probs], textposition="outside"))
    fig.update_layout(title=title or f"{task.skill.capitalize()} probabilities",
                      yaxis=dict(range=[0, 1.1], title="probability"), height=360, **LAYOUT)
    return fig


def direction(label: int, n: int) -> int:
    """Where raising class `label`'s logit moves a sentence on a scale of n classes: -1 towards the first, +1
    towards the last, 0 for the middle class."""
    return int(np.sign(label - (n - 1) / 2))


def token_highlight(task, tokens: list[str], scores: list[float], label: int, caption: str) -> str:
    """HTML spans coloured by direction on the task's class scale: a token's contribution to the predicted class's
    logit, times that class's direction (towards the first class or the last, in their colours), with a legend. A
    middle prediction has no direction, so its tokens show per-class evidence (its colour: for, amber: against)."""
    colors, names = class_colors(task), task.classes
    sign = direction(label, len(names))
    vals = [s for t, s in zip(tokens, scores) if t not in SPECIAL]
    scale = max((abs(s) for s in vals), default=1.0) or 1.0
    up, down = (colors[-1], colors[0]) if sign else (colors[label], NEUTRAL_AGAINST)
    spans = []
    for tok, s in zip(tokens, scores):
        if tok in SPECIAL:
            continue
        v = s * sign if sign else s
        a = min(abs(v) / scale, 1.0)
        text = html.escape(tok[2:] if tok.startswith("##") else tok)
        sep = "" if tok.startswith("##") else " "
        spans.append(f'{sep}<span title="{s:+.4f} to the predicted logit" style="background: '
                     f'{_rgba(up if v >= 0 else down, a)}; color: {"white" if a > 0.6 else "inherit"}; padding: 2px 3px; '
                     f'border-radius: 3px">{text}</span>')  # white on the strongest colours, for contrast
    legend = (swatch(colors[0], f"pulls towards {names[0]}") + swatch(colors[-1], f"pulls towards {names[-1]}")
              if sign else swatch(up, f"evidence for {names[label]}") + swatch(
                  down, f"evidence against {names[label]} (per-class evidence: {names[label]} has no direction)"))
    return (f'<div style="font-size: 1.15em; line-height: 2.1em">{"".join(spans)}</div>'
            f'<div style="font-size: 0.85em; margin-top: 6px">{legend}<br>Stronger colour = larger contribution.</div>'
            f'<div style="color: #666; font-size: 0.85em; margin-top: 6px">{html.escape(caption)}</div>')


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def gauge_bars(values: dict[str, float], ranges: dict[str, tuple[float, float]], title: str,
               colors: dict[str, str] | None = None) -> go.Figure:
    """One bar per value on its own axis range; `colors` by name (default: the cosine's grey)."""
    names = list(values)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for i, n in enumerate(names, 1):
        lo, hi = ranges[n]
        fig.add_trace(go.Bar(x=[n], y=[values[n]], text=[f"{values[n]:.3f}"], textposition="outside",
                             marker_color=(colors or {}).get(n, COSINE_COLOR), showlegend=False), row=1, col=i)
        fig.update_yaxes(range=[lo, hi * 1.15 if hi > 0 else hi], row=1, col=i)
    fig.update_layout(title=title, height=330, **LAYOUT)
    return fig


def alignment_heatmap(tokens1: list[str], tokens2: list[str], sim: list[list[float]]) -> go.Figure:
    """Token cosines with the colour scaled to this pair's own range (contextual cosines crowd into 0.5-1,
    so a fixed -1..1 scale shows nothing), and each token's best match marked: BERTScore's greedy alignment."""
    z = np.asarray(sim, dtype=float)  # (T1, T2)
    if z.size == 0:
        return go.Figure()
    x, y = _unique(tokens2), _unique(tokens1)
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale="Viridis", zmin=float(z.min()), zmax=float(z.max()),
                               colorbar=dict(title="cosine"),
                               hovertemplate="s1 %{y}<br>s2 %{x}<br>cosine %{z:.3f}<extra></extra>"))
    best2, best1 = z.argmax(1), z.argmax(0)  # each s1 token's best s2 token, and the reverse
    fig.add_trace(go.Scatter(x=[x[j] for j in best2], y=y, mode="markers", name="best match of each s1 token",
                             marker=dict(symbol="circle-open", size=14, color="#ff7f0e", line=dict(width=2.5))))
    fig.add_trace(go.Scatter(x=x, y=[y[i] for i in best1], mode="markers", name="best match of each s2 token",
                             marker=dict(symbol="x-thin-open", size=10, color="#ff5a5f", line=dict(width=2))))
    r, p = float(z.max(1).mean()), float(z.max(0).mean())  # BERTScore recall (over s1) and precision (over s2)
    fig.update_layout(title=f"Token alignment: colour scaled to this pair ({z.min():.2f} to {z.max():.2f}); marks = "
                            f"greedy best matches · BERTScore-style R {r:.3f}, P {p:.3f}, F1 {2 * r * p / (r + p):.3f}",
                      height=460, xaxis_title="sentence 2", yaxis=dict(title="sentence 1", autorange="reversed"),
                      legend=dict(orientation="h", y=-0.25), **layout(60, 20, 60, 90))
    return fig


def _unique(tokens: list[str]) -> list[str]:
    """Plotly merges equal category labels; number repeated tokens so every row/column stays distinct."""
    seen: dict[str, int] = {}
    out = []
    for t in tokens:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if seen[t] == 1 else f"{t} ({seen[t]})")
    return out


def cross_task_figure(tasks: list, r: dict) -> go.Figure:
    """Every task on one input pair, by kind: the pair tasks' P(yes) and scores (over their range) in one panel,
    then one panel per sentence task with its class probabilities for each sentence. `r["tasks"]`: key -> the
    Predictor.run_task answer."""
    pairs, sentences = [t for t in tasks if t.pair], [t for t in tasks if not t.pair]
    cols = bool(pairs) + len(sentences)
    widths = ([0.3] if pairs else []) + [(0.7 if pairs else 1.0) / max(len(sentences), 1)] * len(sentences)
    fig = make_subplots(rows=1, cols=cols, column_widths=widths,
                        subplot_titles=(["pair tasks"] if pairs else []) + [f"{t.name}: each sentence" for t in sentences])
    if pairs:
        x, y, text = [], [], []
        for t in pairs:
            out = r["tasks"][t.key]
            if t.is_score:
                lo, hi = t.score_range
                x.append(f"{t.name} / {hi:g}")
                y.append((out["score"][0] - lo) / (hi - lo))
                text.append(f"{out['score'][0]:.2f} / {hi:g}")
            else:
                x.append(f"{t.name} P({t.classes[-1]})")
                y.append(out["prob"][0])
                text.append(f"{out['prob'][0]:.1%}")
        fig.add_trace(go.Bar(x=x, y=y, text=text, textposition="outside", showlegend=False,
                             marker_color=[high_color(t) for t in pairs]), row=1, col=1)
    for col, t in enumerate(sentences, 1 + bool(pairs)):
        for k, (name, pattern) in enumerate((("sentence 1", ""), ("sentence 2", "/"))):
            fig.add_trace(go.Bar(x=list(t.classes), y=r["tasks"][t.key]["probs"][k], name=name, legendgroup=name,
                                 showlegend=col == 1 + bool(pairs), marker_color=list(class_colors(t)),
                                 marker_pattern=dict(shape=pattern, fgcolor="white")), row=1, col=col)
    fig.update_yaxes(range=[0, 1.15])
    fig.update_layout(barmode="group", height=380, **LAYOUT)
    return fig


def _mask_special(tokens: list[str], att: np.ndarray, hide: bool) -> tuple[list[str], np.ndarray]:
    if not hide:
        return tokens, att
    keep = [i for i, t in enumerate(tokens) if t not in SPECIAL]
    return [tokens[i] for i in keep], att[..., keep, :][..., keep]


def attention_grid(tokens: list[str], att: np.ndarray, hide_special: bool, title: str,
                   chosen: tuple[int, int] | None = None) -> go.Figure:
    """Model view: a layers x heads grid of small attention maps (rows = layers, columns = heads), of the
    first GRID_TOKENS tokens: 72 maps of 128 x 128 would be over a million cells for the browser. One colour axis
    (p, 0-1) with its bar serves every map; `chosen` (layer, head), the head view's, is outlined."""
    tokens, att = _mask_special(tokens, att, hide_special)
    if len(tokens) > GRID_TOKENS:
        tokens, att = tokens[:GRID_TOKENS], att[..., :GRID_TOKENS, :GRID_TOKENS]
        title += f" (first {GRID_TOKENS} tokens)"
    att = np.round(att, 3)  # 3 decimals are plenty for colour; keeps the figure small
    L, H = att.shape[:2]
    fig = make_subplots(rows=L, cols=H, horizontal_spacing=0.005, vertical_spacing=0.01,
                        row_titles=[f"L{i}" for i in range(L)], column_titles=[f"H{j}" for j in range(H)])
    for i in range(L):
        for j in range(H):
            fig.add_trace(go.Heatmap(z=att[i, j], coloraxis="coloraxis",
                                     hovertemplate=f"layer {i} head {j}<br>%{{z:.3f}}<extra></extra>"),
                          row=i + 1, col=j + 1)
    if chosen is not None:
        fig.add_shape(type="rect", xref="x domain", yref="y domain", x0=0, x1=1, y0=0, y1=1,
                      line=dict(color=CHOSEN_HEAD, width=3), row=chosen[0] + 1, col=chosen[1] + 1)
        title += f" · outlined: layer {chosen[0]}, head {chosen[1]} (the head views below)"
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_layout(title=title, height=110 * L + 80, **layout(30, 80, 80, 10),
                      coloraxis=dict(colorscale="Blues", cmin=0, cmax=1,
                                     colorbar=dict(title="p", thickness=12, len=0.6, y=1, yanchor="top")))
    return fig


def head_view(tokens: list[str], att: np.ndarray, layer: int, head: int, hide_special: bool, title: str,
              zmax: float | None = None) -> go.Figure:
    tokens, att = _mask_special(tokens, att, hide_special)
    labels = _unique(tokens)
    fig = go.Figure(go.Heatmap(z=att[layer, head], x=labels, y=labels, colorscale="Blues", zmin=0, zmax=zmax,
                               colorbar=dict(title="p"),
                               hovertemplate="query %{y}<br>key %{x}<br>p %{z:.3f}<extra></extra>"))
    fig.update_layout(title=f"{title}: layer {layer}, head {head}", height=520, xaxis_title="attended token (key)",
                      yaxis=dict(title="query token", autorange="reversed"), **LAYOUT)
    return fig


def head_view_pair(ft: dict, base: dict, layer: int, head: int, hide_special: bool) -> tuple[go.Figure, go.Figure]:
    """The fine-tuned and base head views on one colour scale (0 to the larger of the two maxima)."""
    zmax = max(float(_mask_special(m["tokens"], m["attentions"], hide_special)[1][layer, head].max()) for m in (ft, base))
    return (head_view(ft["tokens"], ft["attentions"], layer, head, hide_special, "Fine-tuned", zmax),
            head_view(base["tokens"], base["attentions"], layer, head, hide_special, "Pretrained base (same scale)", zmax))


def entropy_panels(finetuned: np.ndarray, base: np.ndarray) -> go.Figure:
    """Per-head attention entropy (layers, heads) of both models, and fine-tuned minus base."""
    L, H = finetuned.shape
    x, y = [f"H{j}" for j in range(H)], [f"L{i}" for i in range(L)]
    diff = finetuned - base
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.1,
                        subplot_titles=("fine-tuned", "pretrained base", "fine-tuned minus base (< 0: sharper)"))
    for col, (z, axis) in enumerate(((finetuned, "coloraxis"), (base, "coloraxis"), (diff, "coloraxis2")), 1):
        fig.add_trace(go.Heatmap(z=z, x=x, y=y, coloraxis=axis,
                                 hovertemplate="%{y} %{x}<br>%{z:.3f} nats<extra></extra>"), row=1, col=col)
    span = float(np.abs(diff).max()) or 1.0
    bar = dict(thickness=12, len=0.9, xanchor="left")
    fig.update_layout(title="Per-head attention entropy (nats, mean over query tokens; low = a focused head)",
                      height=340, coloraxis=dict(colorscale="Viridis", cmin=0, cmax=float(max(finetuned.max(), base.max())),
                                                 colorbar=dict(title="nats", x=0.64, **bar)),
                      coloraxis2=dict(colorscale="RdBu", cmid=0, cmin=-span, cmax=span,
                                      colorbar=dict(title="Δ", x=1.01, **bar)), **LAYOUT)
    fig.update_yaxes(autorange="reversed")
    return fig


def mask_figure(r: dict, classes: tuple[str, ...]) -> go.Figure:
    """All heads vs the masked model: class probabilities (`classes`) for a sentence, P(paraphrase) and STS/5 for
    a pair."""
    full, masked = r["all heads"], r["masked"]
    if r["pair"]:
        names = ["P(paraphrase)", "STS score / 5"]
        a = [full["paraphrase_probability"], full["sts_score"] / 5]
        b = [masked["paraphrase_probability"], masked["sts_score"] / 5]
    else:
        names, a, b = list(classes), full["sentiment"], masked["sentiment"]
    fig = go.Figure([go.Bar(x=names, y=a, name="all heads", marker_color="#95a5a6"),
                     go.Bar(x=names, y=b, name=f"{r['removed']} heads removed", marker_color="#2c3e50")])
    fig.update_layout(barmode="group", title="With and without the masked heads", yaxis=dict(range=[0, 1.05]),
                      height=340, **LAYOUT)
    return fig
