"""SVG or WebGL for a scatter plot, by its number of points.

Every Plotly figure with a WebGL trace holds WebGL contexts in the browser (Plotly opens two per figure: its drawing
layer and its selection layer), and Chromium keeps about 16 alive per page, dropping the oldest beyond that: a plot
then goes blank. SVG draws a few thousand points just as fast, so only figures with at least WEBGL_MIN_POINTS
points use WebGL (the embedding maps with several tasks shown); page_style's plot_hooks.js releases the contexts of
every figure that is replaced.
"""
from __future__ import annotations

import plotly.graph_objects as go

WEBGL_MIN_POINTS = 2000


def scatter_class(n_points: int) -> type:
    """go.Scattergl for a figure of at least WEBGL_MIN_POINTS points in all, else go.Scatter (SVG)."""
    return go.Scattergl if n_points >= WEBGL_MIN_POINTS else go.Scatter
