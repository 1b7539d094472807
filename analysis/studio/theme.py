"""One Plotly look for every figure in the app: plotly_white's page, axes and fonts, built once.

The stock "plotly_white" template carries defaults for every trace type (3-D scenes, maps, polar
axes, ...); Plotly validates all of it for each new figure, which took longer than the model's forward
pass for a sentence. This template keeps only the parts our figures use.
"""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

_WHITE = pio.templates["plotly_white"].to_plotly_json()
_USED = ("font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis", "title", "colorway")
TEMPLATE = go.layout.Template(layout={k: _WHITE["layout"][k] for k in _USED},
                              data={"bar": _WHITE["data"]["bar"]})


def layout(left: int = 40, right: int = 20, top: int = 50, bottom: int = 40) -> dict:
    """Keyword arguments for fig.update_layout: the shared template and the given margins (pixels)."""
    return dict(template=TEMPLATE, margin=dict(l=left, r=right, t=top, b=bottom))
