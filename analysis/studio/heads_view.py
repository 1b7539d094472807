"""The Attention tab's head-importance views, read from the precomputed "heads" result, and the live mask."""
from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.studio.theme import CHOSEN_HEAD, layout

PRESET_KINDS = ("3 most", "50% least")  # per task: its 3 heads of largest single-mask drop, or its least important half


def _title(tasks: dict, key: str) -> str:
    """"SST-5 accuracy": a task's name and metric (its key for a task this model does not have)."""
    return tasks[key].title if key in tasks else key


def presets(heads: dict | None, tasks: dict) -> list[str]:
    """The preset choices: none, each kind for each task the results have (by name), all of layer 0."""
    names = [tasks[k].name if k in tasks else k for k in (heads or {}).get("full", {})]
    return ["none", *(f"{kind} important for {n}" for kind in PRESET_KINDS for n in names), "all of layer 0"]


def importance_figure(heads: dict, tasks: dict, chosen: tuple[int, int] | None = None) -> go.Figure:
    """Layer x head maps per task of the results (names from `tasks`, key -> Task): the metric change when the head
    alone is masked, and Michel's importance, each with its colour bar; `chosen` (layer, head), the head shown in the
    Attention tab, is outlined in every map."""
    keys = list(heads["full"])
    fig = make_subplots(rows=2, cols=len(keys), vertical_spacing=0.2, horizontal_spacing=0.09,
                        subplot_titles=[f"{_title(tasks, t)}<br>change, head masked" for t in keys]
                        + [f"{_title(tasks, t)}<br>gradient importance" for t in keys])  # two lines: no overlap
    for col, t in enumerate(keys, 1):
        d = np.array(heads["masked_delta"][t])
        lim = max(1e-4, float(np.abs(d).max()))
        x_bar = fig.layout[f"xaxis{col if col > 1 else ''}"].domain[1] + 0.005
        fig.add_trace(go.Heatmap(z=d, zmin=-lim, zmax=lim, colorscale="RdBu", colorbar=_bar(x_bar, 0.8),
                                 hovertemplate="layer %{y} head %{x}<br>change %{z:+.4f}<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Heatmap(z=np.array(heads["importance"][t]), colorscale="Viridis", colorbar=_bar(x_bar, 0.2),
                                 hovertemplate="layer %{y} head %{x}<br>importance %{z:.3f}<extra></extra>"), row=2, col=col)
        if chosen is not None:
            for row in (1, 2):
                fig.add_shape(type="rect", x0=chosen[1] - 0.5, x1=chosen[1] + 0.5, y0=chosen[0] - 0.5, y1=chosen[0] + 0.5,
                              line=dict(color=CHOSEN_HEAD, width=3), row=row, col=col)
    fig.update_xaxes(title_text="head", dtick=1)
    fig.update_yaxes(title_text="layer", dtick=1, autorange="reversed")
    shown = f" · outlined: layer {chosen[0]}, head {chosen[1]} (the head view above)" if chosen is not None else ""
    fig.update_layout(title="Head importance (red: masking the head costs the task; blue: it helps)" + shown,
                      height=600, **layout(50, 40, 80, 50))
    return fig


def _bar(x: float, y: float) -> dict:
    """A slim colour bar right of one subplot, centred on its row (paper coordinates)."""
    return dict(x=x, y=y, len=0.36, thickness=8, xanchor="left", tickfont=dict(size=9))


def pruning_figure(heads: dict, tasks: dict) -> go.Figure:
    keys = list(heads["full"])
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=[_title(tasks, t) for t in keys], horizontal_spacing=0.07)
    for col, t in enumerate(keys, 1):
        c = heads["pruning"][t]
        x = [0] + [round(100 * f) for f in c["fractions"]]
        for key, name, dash in (("by_importance", "least important first", None), ("random", "random order", "dot")):
            fig.add_trace(go.Scatter(x=x, y=[heads["full"][t], *c[key]], name=name, mode="lines+markers",
                                     line=dict(dash=dash, color="#2c3e50" if dash is None else "#e67e22"),
                                     showlegend=col == 1, legendgroup=key), row=1, col=col)
        fig.update_xaxes(title_text="% of heads pruned", row=1, col=col)
    fig.update_layout(title="Pruning curves (heads removed together, by the task's own importance order)", height=380,
                      **layout(50, 20, 80, 50))
    return fig


def summary(heads: dict, tasks: dict) -> str:
    from analysis.head_importance import FRACTIONS, ranked
    lines = [f"<small>{heads['method']}</small>", "", "| task | full | 50% pruned | most important (layer.head: change) "
             "| least important |", "|---|---|---|---|---|"]
    for t in heads["full"]:
        name = _title(tasks, t)
        most, least = ranked(heads, t)
        half = heads["pruning"][t]["by_importance"][FRACTIONS.index(0.5)]
        fmt = lambda hs: ", ".join(f"{l}.{h}: {d:+.4f}" for l, h, d in hs)  # noqa: E731
        lines.append(f"| {name} | {heads['full'][t]:.4f} | {half:.4f} | {fmt(most)} | {fmt(least)} |")
    return "\n".join(lines)


def preset_heads(heads: dict | None, preset: str, tasks: dict) -> str:
    """The head list a preset (one of presets()) stands for, as 'layer.head' text for the mask box."""
    if preset == "all of layer 0":
        return "L0"
    m = re.fullmatch(rf"({'|'.join(PRESET_KINDS)}) important for (.+)", preset or "")
    by_name = {(tasks[k].name if k in tasks else k): k for k in (heads or {}).get("full", {})}
    if not m or m.group(2) not in by_name:
        return ""
    t = by_name[m.group(2)]
    if m.group(1) == "3 most":
        from analysis.head_importance import ranked
        return " ".join(f"{l}.{h}" for l, h, _ in ranked(heads, t)[0])
    imp = np.array(heads["importance"][t])
    order = np.argsort(imp.ravel(), kind="stable")[:imp.size // 2]
    return " ".join(f"{i // imp.shape[1]}.{i % imp.shape[1]}" for i in sorted(order))


def parse_heads(spec: str, layers: int, n_heads: int) -> np.ndarray:
    """'0.3 5.11 L2' -> a (layers, heads) 0/1 mask: layer.head removes one head, L<k> a whole layer."""
    mask = np.ones((layers, n_heads), dtype=np.float32)
    for tok in re.split(r"[\s,;]+", (spec or "").strip()):
        if not tok:
            continue
        m, whole = re.fullmatch(r"(\d+)\.(\d+)", tok), re.fullmatch(r"[Ll](\d+)", tok)
        if m and int(m.group(1)) < layers and int(m.group(2)) < n_heads:
            mask[int(m.group(1)), int(m.group(2))] = 0
        elif whole and int(whole.group(1)) < layers:
            mask[int(whole.group(1))] = 0
        else:
            raise ValueError(f"'{tok[:20]}' is not a head: write layer.head with layer 0-{layers - 1} and head "
                             f"0-{n_heads - 1} (e.g. 2.7), or L<layer> for a whole layer")
    return mask
