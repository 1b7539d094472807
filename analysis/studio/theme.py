"""One look for every figure in the app: plotly_white's page, axes and fonts, built once, and the colours.

The stock "plotly_white" template carries defaults for every trace type (3-D scenes, maps, polar
axes, ...); Plotly validates all of it for each new figure, which took longer than the model's forward
pass for a sentence. This template keeps only the parts our figures use.
"""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from minbert.tasks import TASKS

SST_CLASSES, PARA_CLASSES = TASKS["sst"].classes, TASKS["para"].classes  # import fix for the task API (c-files)

_WHITE = pio.templates["plotly_white"].to_plotly_json()
_USED = ("font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis", "title", "colorway")
TEMPLATE = go.layout.Template(layout={k: _WHITE["layout"][k] for k in _USED},
                              data={"bar": _WHITE["data"]["bar"]})


def layout(left: int = 40, right: int = 20, top: int = 50, bottom: int = 40) -> dict:
    """Keyword arguments for fig.update_layout: the shared template and the given margins (pixels)."""
    return dict(template=TEMPLATE, margin=dict(l=left, r=right, t=top, b=bottom))


# --- colours: each defined once, every tab, map and legend uses these -----------------------------------------
# Sentiment: a diverging red -> grey -> blue scale (ColorBrewer RdBu ends, colour-blind safe), one colour per class
# in minbert.tasks.SST_CLASSES order, negative -> positive.
SENTIMENT_COLORS = dict(zip(SST_CLASSES, ("#b2182b", "#ef8a62", "#8c8c8c", "#67a9cf", "#2166ac")))
TOWARDS_NEGATIVE, TOWARDS_POSITIVE = SENTIMENT_COLORS[SST_CLASSES[0]], SENTIMENT_COLORS[SST_CLASSES[-1]]
NEUTRAL_AGAINST = "#d8a200"  # amber: evidence against a neutral prediction, which has no direction
# Paraphrase: Okabe-Ito orange and purple, apart from the sentiment scale.
PARAPHRASE_COLORS = dict(zip(PARA_CLASSES, ("#e69f00", "#7b3294")))
# Similarity: a sequential green scale over the rounded gold/predicted score 0..5 (light = unrelated).
SIMILARITY_COLORS = ("#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32")
TASK_COLORS = {TASKS["sst"].name: "#2166ac", TASKS["sts"].name: "#238b45", TASKS["para"].name: "#e69f00"}  # by task (Okabe-Ito-like)
CORRECT_COLORS = {"correct": "#0072b2", "incorrect": "#d55e00"}  # blue / vermillion: safe for red-green blindness
SENTIMENT_SCALE = [[i / (len(SST_CLASSES) - 1), c] for i, c in enumerate(SENTIMENT_COLORS.values())]  # Plotly scale


def swatch(color: str, text: str) -> str:
    """One legend entry as inline HTML: a colour chip and its meaning."""
    return (f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
            f'<span style="width:14px;height:14px;border-radius:3px;background:{color};display:inline-block"></span>'
            f'{text}</span>')


def sentiment_legend() -> str:
    """The five sentiment classes in scale order, as an HTML legend line."""
    return "".join(swatch(c, name) for name, c in SENTIMENT_COLORS.items())
