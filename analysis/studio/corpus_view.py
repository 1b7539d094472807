"""The Embeddings tab's "Your corpus": a user's file mapped (analysis.corpus_map) as one WebGL scatter with the
cluster labels on it, coloured by a column or a model prediction, searched by text or by meaning, and any
selection listed and downloadable. Plain methods returning figures, tables and files (no gradio here)."""
from __future__ import annotations

import html
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from minbert.serve.predictor import InputError, Predictor, Progress
from minbert.tasks import SST

from analysis import corpus_map as cm
from analysis.embedding_map import placed
from analysis.studio import downloads
from analysis.studio.theme import class_colors, layout

CLUSTER = "cluster"
SENTIMENT = "sentiment (model)"
PARAPHRASE = "P(paraphrase) with the query sentence (model)"
SIMILARITY = "similarity 0-5 with the query sentence (model)"
QUERY_COLOURS = (PARAPHRASE, SIMILARITY)  # need the query sentence
SELECTIONS = ("cluster", "region (x and y ranges)", "text search matches", "nearest to the query sentence")
PALETTE = qualitative.Dark24 + qualitative.Light24  # categories and clusters, in turn
MAX_CATEGORIES = 20  # a column's most frequent values get a colour each; the rest are "other"
MAX_LEGEND = 25  # colours named in the legend at most
MAX_LABELS = 40  # cluster labels drawn on the map (the largest clusters)
TABLE_ROWS = 500  # rows a table shows (the CSV has them all)
NEAREST = 20  # rows listed for the query sentence; the 10 nearest place it on the map
HOVER_CHARS = 120
OPEN = 2  # corpora held in memory (the rest reopen from the user cache in seconds)
OTHER, NONE = "#c8c8c8", "#9a9a9a"  # "other" values, and points in no cluster


class Colouring(NamedTuple):
    """Per point: a category name (categorical) or a number (numeric), and how to draw it."""
    values: np.ndarray | list  # (N,)
    numeric: bool
    title: str
    colours: dict[str, str]  # category -> colour (categorical only)


class CorpusView:
    def __init__(self, predictor: Predictor, limit: int = cm.MAX_ROWS):
        self.predictor, self.limit = predictor, limit
        self._open: OrderedDict[str, cm.CorpusMap] = OrderedDict()
        self._lock = threading.Lock()

    def _keep(self, corpus: cm.CorpusMap) -> None:
        with self._lock:
            self._open[corpus.key] = corpus
            self._open.move_to_end(corpus.key)
            while len(self._open) > OPEN:
                self._open.popitem(last=False)

    def corpus(self, key: str | None) -> cm.CorpusMap:
        with self._lock:
            found = self._open.get(key or "")
        found = found or (cm.load(key) if key and key.isalnum() else None)
        if found is None:
            raise InputError("Map a file first (upload it above and press 'Map my corpus').")
        self._keep(found)
        return found

    def map_file(self, file: str | None, progress: Progress | None = None) -> Iterator[tuple]:
        """(message, figure, key, colour choices, cluster choices): the PCA map as soon as the rows are
        embedded, then the UMAP map with its clusters; a file seen before comes back from the cache at once."""
        try:
            if not file:
                raise InputError(f"Upload a CSV, TSV, JSONL or Parquet file with up to {self.limit:,} sentences.")
            for corpus in cm.map_corpus(file, self.predictor, self.limit, progress, Path(file).name):
                self._keep(corpus)
                yield summary(corpus, Path(file).name), figure(corpus, colouring(corpus, CLUSTER)), corpus.key, \
                    colour_choices(corpus), cluster_choices(corpus)
        except InputError as e:
            yield f"⚠️ {html.escape(str(e))}", None, None, [CLUSTER], []

    def map_api(self, file) -> dict:
        """Plain JSON for API clients: the file (a path, or Gradio's file data) mapped, or {"error": message}:
        its size, columns, clusters with their labels and sizes, and each stage's seconds."""
        path = file.get("path") if isinstance(file, dict) else file
        name = (file.get("orig_name") if isinstance(file, dict) else None) or Path(str(path or "")).name
        try:
            if not path:
                raise InputError("Upload a corpus file.")
            *_, corpus = cm.map_corpus(path, self.predictor, self.limit, None, name)
        except InputError as e:
            return {"error": str(e)}
        self._keep(corpus)
        sizes = np.bincount(corpus.clusters[corpus.clusters >= 0], minlength=len(corpus.labels))
        return {"key": corpus.key, "rows": len(corpus.rows), "text_column": corpus.text_column,
                "metadata": corpus.metadata, "dropped": corpus.dropped, "cached": corpus.cached,
                "precision": corpus.precision,
                "clusters": [{"id": c, "label": corpus.labels[c], "rows": int(sizes[c])} for c in sorted(corpus.labels)],
                "seconds": {k: round(v, 3) for k, v in corpus.timings.items()},
                "cpu_seconds": {k: round(v, 3) for k, v in corpus.cpu.items()}}

    def view(self, key: str | None, colour_by: str, text_query: str = "", query: str = "",
             progress: Progress | None = None) -> tuple[str, go.Figure | None, pd.DataFrame | None]:
        """The map coloured by `colour_by`, the rows containing `text_query` highlighted and listed, and the query
        sentence placed among its nearest rows (listed first)."""
        try:
            corpus = self.corpus(key)
            colours = colouring(corpus, colour_by, self.predictor, query, progress)
            matches = cm.text_matches(corpus, text_query)
            near = self.nearest(corpus, query) if query and query.strip() else None
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", None, None
        notes = []
        if text_query and text_query.strip():
            notes.append(f"**{len(matches):,} rows contain “{html.escape(text_query.strip())}”** (highlighted)")
        if near is not None:
            notes.append(f"★ the query sentence, placed among its {NEAREST // 2} nearest rows; its {NEAREST} nearest "
                         "are listed first")
        table = (cm.selection(corpus, near[0], {"cosine": _scattered(len(corpus.rows), *near)}) if near is not None
                 else cm.selection(corpus, matches[:TABLE_ROWS]) if len(matches) else None)
        return " · ".join(notes) or "", figure(corpus, colours, matches, near), table

    def nearest(self, corpus: cm.CorpusMap, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions, cosines, (x, y)) of the query sentence's nearest rows and of its place on the map."""
        unit = self.predictor.embed([query.strip()[:5000]])[0]
        rows, cos = cm.nearest(corpus, unit, NEAREST)
        return rows, cos, placed(corpus.xy[rows[:NEAREST // 2]], cos[:NEAREST // 2])

    def select(self, key: str | None, what: str, cluster: str | None, x: tuple, y: tuple, text_query: str = "",
               query: str = "", session: str | None = None) -> tuple[str, pd.DataFrame | None, str | None]:
        """The rows of a cluster, a region, the text matches or the query's nearest rows: (message, the first
        TABLE_ROWS of them, a CSV of all of them)."""
        try:
            corpus = self.corpus(key)
            rows, extra, name = self._selected(corpus, what, cluster, x, y, text_query, query)
            table = cm.selection(corpus, rows, extra)
            path = downloads.write_csv(session, f"corpus-{name}.csv", list(table.columns), _csv_rows(table))
        except InputError as e:
            return f"⚠️ {html.escape(str(e))}", None, None
        shown = f" (the first {TABLE_ROWS:,} shown; the CSV has all)" if len(table) > TABLE_ROWS else ""
        return f"**{len(table):,} rows selected**{shown}", table.head(TABLE_ROWS), path

    def _selected(self, corpus, what, cluster, x, y, text_query, query) -> tuple[np.ndarray, dict, str]:
        if what == SELECTIONS[0]:
            cid = cluster_id(cluster)
            return cm.in_cluster(corpus, cid), {}, f"cluster-{cid}"
        if what == SELECTIONS[1]:
            try:
                x, y = tuple(float(v) for v in x), tuple(float(v) for v in y)
            except (TypeError, ValueError):
                raise InputError("Give the region's x and y ranges as numbers (read them off the map's axes).") from None
            return cm.in_box(corpus, x, y), {}, "region"
        if what == SELECTIONS[2]:
            if not text_query or not text_query.strip():
                raise InputError("Type a text search first.")
            return cm.text_matches(corpus, text_query), {}, "text-matches"
        if what == SELECTIONS[3]:
            if not query or not query.strip():
                raise InputError("Type a query sentence first.")
            rows, cos, _ = self.nearest(corpus, query)
            return rows, {"cosine": _scattered(len(corpus.rows), rows, cos)}, "nearest"
        raise InputError(f"Choose what to select: {', '.join(SELECTIONS)}.")


def _scattered(n: int, rows: np.ndarray, values: np.ndarray, *_) -> np.ndarray:
    """Per-row values (n,) from values at `rows` (NaN elsewhere)."""
    out = np.full(n, np.nan, dtype=np.float32)
    out[rows] = values
    return out


def _csv_rows(table: pd.DataFrame):
    for row in table.itertuples(index=False):
        yield ["" if v is None or (isinstance(v, float) and v != v) else v for v in row]


def summary(corpus: cm.CorpusMap, name: str) -> str:
    n, meta = len(corpus.rows), ", ".join(f"`{c}`" for c in corpus.metadata) or "none"
    head = (f"**{n:,} sentences** of `{html.escape(name)}` · text column `{html.escape(corpus.text_column)}` · "
            f"metadata: {html.escape(meta)}")
    if corpus.dropped:
        head += f" · {corpus.dropped:,} rows without text left out"
    if corpus.umap is None:
        return head + "\n\nPCA map shown; the UMAP map and its clusters are on their way."
    clusters = len(corpus.labels)
    t = corpus.timings
    when = (f"read back from the cache in {t['reopen']:.1f} s" if corpus.cached else
            " · ".join(f"{k} {v:.1f} s" for k, v in t.items() if k != "reopen"))
    return (head + f"\n\nUMAP of the shared encoder's mean-pooled embeddings (cosine, "
            f"computed in {corpus.precision or 'an unrecorded precision'}) · {clusters} clusters "
            f"(HDBSCAN), labelled by their top TF-IDF words · {when}")


def colour_choices(corpus: cm.CorpusMap) -> list[str]:
    return [CLUSTER, *corpus.metadata, SENTIMENT, *QUERY_COLOURS]


def cluster_choices(corpus: cm.CorpusMap) -> list[str]:
    """'id: label (rows)' for every cluster, the largest first."""
    if corpus.clusters is None:
        return []
    sizes = np.bincount(corpus.clusters[corpus.clusters >= 0], minlength=max(corpus.labels, default=-1) + 1)
    return [f"{c}: {corpus.labels[c]} ({sizes[c]:,} rows)" for c in sorted(corpus.labels, key=lambda c: -sizes[c])]


def cluster_id(choice: str | None) -> int:
    try:
        return int(str(choice).split(":", 1)[0])
    except ValueError:
        raise InputError("Choose a cluster from the list.") from None


def colouring(corpus: cm.CorpusMap, colour_by: str, predictor: Predictor | None = None, query: str = "",
              progress: Progress | None = None) -> Colouring:
    """What each point's colour shows: the cluster, a column of the file, or a model prediction."""
    if colour_by == SENTIMENT:
        probs = cm.sentiment(corpus, predictor, progress)
        return _categories(np.array(SST.classes)[probs.argmax(1)], "sentiment (model)",
                           dict(zip(SST.classes, class_colors(SST))))
    if colour_by in QUERY_COLOURS:
        if not query or not query.strip():
            raise InputError("Type a query sentence to colour by its paraphrase or similarity score.")
        scores = cm.against(corpus, predictor, query, progress)
        key = "probability" if colour_by == PARAPHRASE else "score"
        return Colouring(scores[key], True, "P(paraphrase)" if key == "probability" else "STS 0-5", {})
    if colour_by in corpus.metadata:
        return _column(corpus.rows[colour_by], colour_by)
    if corpus.clusters is None:
        return Colouring(["all rows"] * len(corpus.rows), False, "", {"all rows": PALETTE[0]})
    names = np.array([corpus.labels.get(int(c), "no cluster") for c in corpus.clusters], dtype=object)
    order = [corpus.labels[c] for c in sorted(corpus.labels)]
    return _categories(names, "cluster", {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(order)} | {"no cluster": NONE})


def _column(values: pd.Series, name: str) -> Colouring:
    numeric = pd.to_numeric(values, errors="coerce")
    if values.dtype != bool and numeric.notna().mean() > 0.95 and numeric.nunique() > MAX_CATEGORIES:
        return Colouring(numeric.to_numpy(dtype=np.float32), True, name, {})
    text = values.astype(str).where(values.notna(), "(empty)")
    top = text.value_counts().index[:MAX_CATEGORIES].tolist()
    return _categories(text.where(text.isin(top), "other").to_numpy(dtype=object), name,
                       {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(sorted(top))} | {"other": OTHER})


def _categories(values: np.ndarray, title: str, colours: dict[str, str]) -> Colouring:
    return Colouring(values, False, title, colours)


def figure(corpus: cm.CorpusMap, colours: Colouring, matches: np.ndarray | None = None, near=None) -> go.Figure:
    """One Scattergl of every row; text matches and the query sentence drawn over it; cluster labels as text at
    the clusters' centres. Legend-only traces name the colours."""
    xy = corpus.xy
    dim = (matches is not None and len(matches)) or near is not None
    marker = dict(size=4, opacity=0.25 if dim else 0.7, **_marker_colours(colours))
    fig = go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker, hoverinfo="text",
                                 hovertext=_hover(corpus, colours), name="rows", showlegend=False))
    present = set() if colours.numeric else set(pd.unique(np.asarray(colours.values, dtype=object)))
    named = [(n, c) for n, c in colours.colours.items() if n in present]
    for name, colour in named if len(named) <= MAX_LEGEND else []:  # many clusters: their labels name them
        fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=str(name)[:40],
                                   marker=dict(size=8, color=colour)))
    _overlays(fig, corpus, matches, near)
    _cluster_labels(fig, corpus)
    which = "PCA" if corpus.umap is None else "UMAP"
    fig.update_layout(title=f"Your corpus: {len(xy):,} sentences · {which} · colour: {colours.title or 'none'}",
                      height=620, legend=dict(font=dict(size=10), orientation="h", y=-0.05, yanchor="top"),
                      **layout(20, 20, 50, 20))
    return fig


def _marker_colours(colours: Colouring) -> dict:
    """Numbers on a colour scale; categories as codes on a stepped scale (a colour string per point costs Plotly
    seconds to check at 100,000 points, codes milliseconds)."""
    if colours.numeric:
        return dict(color=np.asarray(colours.values, dtype=np.float32), colorscale="Viridis", showscale=True,
                    colorbar=dict(title=colours.title, thickness=12))
    names = list(colours.colours)
    codes = pd.Categorical(np.asarray(colours.values, dtype=object), categories=names).codes  # -1: not in names
    k = len(names) + 1  # the last step: values without a colour of their own
    steps = [*colours.colours.values(), OTHER]
    scale = [[edge, c] for i, c in enumerate(steps) for edge in (i / k, (i + 1) / k)]
    return dict(color=np.where(codes < 0, k - 1, codes).astype(np.float32), colorscale=scale, cmin=-0.5,
                cmax=k - 0.5, showscale=False)


def _hover(corpus: cm.CorpusMap, colours: Colouring) -> np.ndarray:
    """Each point's sentence (its start) and colour value, HTML-escaped, built column-wise (100,000 points)."""
    text = _escaped(corpus.rows[corpus.text_column].str.slice(0, HOVER_CHARS))
    values = (np.char.mod("%.3f", np.asarray(colours.values, dtype=np.float64)) if colours.numeric
              else _escaped(pd.Series(np.asarray(colours.values, dtype=object)).astype(str)))
    return (text + f"<br>{html.escape(colours.title)}: " + values).astype(object)


def _escaped(texts: pd.Series) -> np.ndarray:
    return texts.str.replace("&", "&amp;").str.replace("<", "&lt;").str.replace(">", "&gt;").to_numpy(dtype=object)


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, (float, np.floating)) else html.escape(str(v))


def _overlays(fig: go.Figure, corpus: cm.CorpusMap, matches, near) -> None:
    xy = corpus.xy
    if matches is not None and len(matches):
        fig.add_trace(go.Scattergl(x=xy[matches, 0], y=xy[matches, 1], mode="markers", name=f"text matches ({len(matches):,})",
                                   marker=dict(size=8, color="#ffd400", line=dict(color="black", width=1)),
                                   hovertext=corpus.rows[corpus.text_column].iloc[matches].str.slice(0, HOVER_CHARS),
                                   hoverinfo="text"))
    if near is not None:
        rows, _, point = near
        fig.add_trace(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name="nearest rows",
                                   marker=dict(size=9, color="rgba(0,0,0,0)", line=dict(color="black", width=2))))
        fig.add_trace(go.Scattergl(x=[point[0]], y=[point[1]], mode="markers", name="★ query sentence",
                                   marker=dict(size=20, symbol="star", color="#ffd400", line=dict(color="black", width=2))))


def _cluster_labels(fig: go.Figure, corpus: cm.CorpusMap) -> None:
    """Each of the MAX_LABELS largest clusters' label at its centre: the member nearest the members' median."""
    if corpus.clusters is None or not corpus.labels:
        return
    sizes = np.bincount(corpus.clusters[corpus.clusters >= 0])
    notes = []
    for c in sorted(corpus.labels, key=lambda c: -sizes[c])[:MAX_LABELS]:
        members = corpus.xy[corpus.clusters == c]
        centre = members[np.argmin(((members - np.median(members, 0)) ** 2).sum(1))]
        notes.append(dict(x=float(centre[0]), y=float(centre[1]), text=html.escape(corpus.labels[c]), showarrow=False,
                          font=dict(size=11, color="black"), bgcolor="rgba(255,255,255,0.75)", borderpad=2))
    fig.update_layout(annotations=notes)  # at once: one add_annotation each re-checks all before it
