"""The Behaviour tab's views of the precomputed "behaviour" result: failure rates and failing cases."""
from __future__ import annotations

import plotly.graph_objects as go

from analysis.studio.theme import layout

RATE_COLUMNS = ["task", "test", "what must hold", "cases", "fine-tuned fails", "base fails"]
CASE_COLUMNS = ["a", "b", "scores", "how badly"]
TEMPLATE_COLUMNS = ["case", "outputs", "fails?"]


def label(r: dict) -> str:
    return f"{r['task']}: {r['test']}"


def labels(beh: dict | None) -> list[str]:
    return [label(r) for r in (beh or {}).get("finetuned", [])]


def first_failing(beh: dict) -> str:
    """The first test the fine-tuned model fails at all (else the first test): the tab opens on it."""
    ft = beh["finetuned"]
    return label(next((r for r in ft if r["failures"]), ft[0]))


def rates_figure(beh: dict) -> go.Figure:
    ft = beh["finetuned"]
    base = {label(r): r for r in beh.get("base", [])}
    names = [label(r) for r in ft][::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=names, x=[base[n]["failure_rate"] if n in base else None for n in names], orientation="h",
                         name="pretrained base, same heads", marker_color="#bdc3c7"))
    fig.add_trace(go.Bar(y=names, x=[r["failure_rate"] for r in ft][::-1], orientation="h", name="fine-tuned",
                         marker_color="#2c3e50", text=[f"{r['failure_rate']:.0%}" for r in ft][::-1],
                         textposition="outside"))
    fig.update_layout(barmode="group", title=f"Failure rate per test ({beh['cases_per_test']} cases each)",
                      xaxis=dict(range=[0, 1.12], tickformat=".0%", title="share of cases failing"), height=640,
                      legend=dict(orientation="h", y=-0.1), **layout(230, 20, 50, 60))
    return fig


def rates_rows(beh: dict) -> list[list]:
    base = {label(r): r for r in beh.get("base", [])}
    return [[r["task"], r["test"], r["expectation"], r["n"], f"{r['failure_rate']:.1%}",
             f"{base[label(r)]['failure_rate']:.1%}" if label(r) in base else "n/a"] for r in beh["finetuned"]]


def worst_rows(beh: dict | None, which_test: str, model: str) -> tuple[str, list[list]]:
    """(caption, rows) of the worst failing cases of one test, for the fine-tuned or the base model."""
    results = (beh or {}).get("base" if model.startswith("pretrained") else "finetuned", [])
    r = next((x for x in results if label(x) == which_test), None)
    if r is None:
        return "", []
    cap = (f"**{label(r)}** — {r['expectation']}. {r['failures']} of {r['n']} cases fail; the worst "
           f"{len(r['worst'])} are shown. Scores: {r['scores']}.")
    return cap, [[c["a"], c["b"], f"{c['a_score']} → {c['b_score']}", round(c["severity"], 3)] for c in r["worst"]]


def template_rows(res: dict) -> list[list]:
    def fmt(o):
        return ", ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in o)
    return [[r["case"], fmt(r["outputs"]), "FAIL" if r["fails"] else "pass"] for r in res["rows"]]
