"""One look for every figure in the app: plotly_white's page, axes and fonts, built once, and the colours.

The stock "plotly_white" template carries defaults for every trace type (3-D scenes, maps, polar
axes, ...); Plotly validates all of it for each new figure, which took longer than the model's forward
pass for a sentence. This template keeps only the parts our figures use.
"""
from __future__ import annotations

import plotly.colors as pc
import plotly.graph_objects as go
import plotly.io as pio

_WHITE = pio.templates["plotly_white"].to_plotly_json()
_USED = ("font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis", "title", "colorway")
TEMPLATE = go.layout.Template(layout={k: _WHITE["layout"][k] for k in _USED},
                              data={"bar": _WHITE["data"]["bar"]})


def layout(left: int = 40, right: int = 20, top: int = 50, bottom: int = 40) -> dict:
    """Keyword arguments for fig.update_layout: the shared template and the given margins (pixels)."""
    return dict(template=TEMPLATE, margin=dict(l=left, r=right, t=top, b=bottom))


# --- colours: a task's own (its spec's `colors`) or, without them, a scale for its kind; the rest are no task's --------
KIND_SCALES = {  # kind -> anchors of the scale a task without colours gets (low -> high class or score)
    "sentence_classes": ("#b2182b", "#8c8c8c", "#2166ac"),  # diverging red -> grey -> blue, as SST-5's own
    "pair_classes": ("#e69f00", "#7b3294"),  # no / yes: Okabe-Ito orange and purple
    "pair_score": ("#c7e9c0", "#005a32"),  # sequential light (unrelated) -> dark green
}
SCORE_BINS = 6  # colours of a score task without its own: its range cut into this many rounded steps
# a task's colour on a map coloured by task: hues apart from every kind's class scale (Okabe-Ito's orange was Quora's
# "not duplicate", its blue and green near SST's positive and STS's high), so a task is never read as a class
TASK_PALETTE = ("#e7298a", "#17becf", "#8c564b", "#000000", "#d55e00", "#cc79a7", "#f0e442", "#0072b2")
APART = 100  # least "redmean" RGB distance (0-765) between a task's colour and any class colour on the same map
NEUTRAL_AGAINST = "#d8a200"  # amber: evidence against a middle-class prediction, which has no direction
CORRECT_COLORS = {"correct": "#0072b2", "incorrect": "#d55e00"}  # blue / vermillion: safe for red-green blindness
COSINE_COLOR = "#6b6b6b"  # an embedding cosine belongs to no task: neutral grey
CHOSEN_HEAD = "#ff00ff"  # the outline of the head chosen in the Attention tab, on every layer x head map


def _hex(rgb: str) -> str:
    return "#" + "".join(f"{int(float(v)):02x}" for v in rgb[rgb.index("(") + 1:-1].split(","))


def class_colors(task) -> tuple[str, ...]:
    """One colour per class (classes kinds) or per rounded score step (score kind), low -> high, as hex."""
    if task.colors:
        return tuple(task.colors)
    n = SCORE_BINS if task.is_score else task.num_classes
    anchors = KIND_SCALES[task.kind]
    scale = [[i / (len(anchors) - 1), c] for i, c in enumerate(anchors)]
    return tuple(_hex(c) for c in pc.sample_colorscale(scale, [i / (n - 1) for i in range(n)], colortype="rgb"))


def score_step(task, value: float) -> int:
    """The colour index of a score: its place in the task's range, rounded to one of its colours."""
    lo, hi = task.score_range
    n = len(class_colors(task))
    return min(max(round((float(value) - lo) / (hi - lo) * (n - 1)), 0), n - 1)


def high_color(task) -> str:
    """The colour of a task's top class or score: how its probability or score bars are drawn."""
    return class_colors(task)[-1]


def colour_distance(a: str, b: str) -> float:
    """The "redmean" distance between two hex colours: RGB weighted the way the eye weighs it, cheaply."""
    (r1, g1, b1), (r2, g2, b2) = ([int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in (a, b))
    rm = (r1 + r2) / 2
    return ((2 + rm / 256) * (r1 - r2) ** 2 + 4 * (g1 - g2) ** 2 + (2 + (255 - rm) / 256) * (b1 - b2) ** 2) ** 0.5


def task_color(tasks, key: str) -> str:
    """A task's own colour among the model's tasks (`tasks`, key -> Task, in the model's order): from the palette
    colours at least APART from every class colour of those tasks (an added task's spec may bring its own)."""
    classes = [c for t in tasks.values() for c in class_colors(t)]
    free = [c for c in TASK_PALETTE if all(colour_distance(c, k) >= APART for k in classes)] or list(TASK_PALETTE)
    return free[list(tasks).index(key) % len(free)]


def swatch(color: str, text: str) -> str:
    """One legend entry as inline HTML: a colour chip and its meaning."""
    return (f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
            f'<span style="width:14px;height:14px;border-radius:3px;background:{color};display:inline-block"></span>'
            f'{text}</span>')


def class_legend(task) -> str:
    """A task's classes (or score steps) in scale order, as an HTML legend line."""
    if task.is_score:
        lo, hi = task.score_range
        colors = class_colors(task)
        return swatch(colors[0], f"{lo:g} (lowest)") + swatch(colors[-1], f"{hi:g} (highest)")
    return "".join(swatch(c, name) for name, c in zip(task.classes, class_colors(task)))
