"""A user's corpus mapped: their file's sentences embedded by the shared encoder, drawn in 2-D (PCA at once, then
UMAP), clustered, each cluster labelled by its top TF-IDF words, and searchable by text and by meaning.

A file is CSV, TSV, JSONL or Parquet with up to `limit` rows; its sentence column is found by name (TEXT_NAMES,
else the first text column) and every other column is kept as metadata. The result is cached in the user cache
by (file sha256, checkpoint weights sha256, precision, FORMAT), so the same file reopens in seconds.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from minbert.atomic import atomic_open, atomic_write_json
from minbert.data import Example, cache_data_dir
from minbert.serve.predictor import SENTIMENT, InputError, Predictor

from analysis.studio.user_files import SNIFF_BYTES, delimiter  # until the shared pandas file layer reads corpora

MAX_ROWS = 100_000  # the default --corpus-limit
MIN_ROWS = 20  # a map needs more points than UMAP's neighbours (15)
MAX_BYTES = 100 * 2**20  # a corpus file at most (100,000 reviews of ~1 kB)
TEXT_NAMES = ("sentence", "text", "review", "question", "content", "comment", "body", "document", "utterance",
              "title")  # the sentence column, by name (case-insensitive), in this order; else the first text column
FORMATS = (".csv", ".tsv", ".txt", ".jsonl", ".parquet")
FORMAT = "corpus-map-1"  # part of the cache key: bump when what is cached changes
CLUSTER_SAMPLE = 20_000  # HDBSCAN fits on at most this many points (its cost grows with the square); the rest
#                          take the cluster of their nearest fitted point
NOISE = -1  # HDBSCAN's label for points in no cluster
LABEL_WORDS = 3  # words in a cluster's label
MIN_WORD_SHARE = 0.002  # a label word is in at least this share of the sentences (and 2 of them)
PTB_ESCAPES = ["lrb", "rrb", "lsb", "rsb", "lcb", "rcb"]  # -LRB- etc. of tokenised corpora: never a topic
UMAP_CHILD_ROWS = 5_000  # from here on UMAP runs in a child process (seconds of held GIL at 20,000 rows)
MAX_CACHED = 8  # corpora kept in the user cache (~170 MB each at 100,000 rows); the oldest go first
Progress = Callable[[float, str], None]


class CorpusError(InputError):
    """A corpus file the user can fix: the message says how."""


@dataclass
class CorpusMap:
    rows: pd.DataFrame  # the file's rows with text, index = record position in the file (0-based)
    text_column: str
    embeddings: np.ndarray  # (N, H) the shared encoder's mean-pooled embeddings, not normalised
    pca: np.ndarray  # (N, 2)
    key: str  # the cache key
    umap: np.ndarray | None = None  # (N, 2), None until fitted
    clusters: np.ndarray | None = None  # (N,) cluster ids, NOISE for none
    labels: dict[int, str] = field(default_factory=dict)  # cluster id -> its top words
    dropped: int = 0  # rows of the file without text
    timings: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds
    cpu: dict[str, float] = field(default_factory=dict)  # stage -> CPU seconds of this process (all its threads)
    cached: bool = False  # read back from the cache
    precision: str = ""  # what the embeddings were computed in ("fp32", "bf16", ...)
    _unit: np.ndarray | None = None

    @property
    def texts(self) -> list[str]:
        return self.rows[self.text_column].tolist()

    @property
    def xy(self) -> np.ndarray:
        """The best map there is: UMAP once fitted, PCA before."""
        return self.pca if self.umap is None else self.umap

    @property
    def unit(self) -> np.ndarray:
        """(N, H) L2-normalised embeddings: cosines are dot products."""
        if self._unit is None:
            self._unit = self.embeddings / np.linalg.norm(self.embeddings, axis=1, keepdims=True).clip(1e-12)
        return self._unit

    @property
    def metadata(self) -> list[str]:
        return [c for c in self.rows.columns if c != self.text_column]


# --- reading -----------------------------------------------------------------------------------
def read_corpus(path: str | Path, nrows: int | None = None) -> pd.DataFrame:
    """The file's first `nrows` rows (all: None) as a DataFrame: CSV (delimiter detected), TSV, JSONL or Parquet;
    pandas raises on a bad file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path).head(nrows)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False, nrows=nrows)
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        sep = delimiter(f.read(SNIFF_BYTES), "tsv" if suffix == ".tsv" else "csv")
    return pd.read_csv(path, sep=sep, encoding="utf-8-sig", nrows=nrows)


def text_column(df: pd.DataFrame, name: str) -> str:
    """The sentence column: the first of TEXT_NAMES the file has (any case), else its first text column."""
    lower = {str(c).lower(): c for c in df.columns}
    for wanted in TEXT_NAMES:
        if wanted in lower:
            return lower[wanted]
    for c in df.columns:
        values = df[c].dropna().head(100)
        if len(values) and all(isinstance(v, str) for v in values) and pd.to_numeric(values, errors="coerce").isna().all():
            return c
    raise CorpusError(f"{name} has no sentence column: name one {', '.join(TEXT_NAMES[:4])}, ... (its columns are "
                      f"{[str(c) for c in df.columns][:20]}).")


def load_rows(path: str | Path, limit: int = MAX_ROWS, name: str | None = None,
              min_rows: int = MIN_ROWS) -> tuple[pd.DataFrame, str, int]:
    """(rows with text, the text column, rows dropped for empty text); every bad file gets a CorpusError."""
    path = Path(path)
    name = name or path.name
    if path.suffix.lower() not in FORMATS:
        raise CorpusError(f"Cannot read {name}: upload a .csv, .tsv, .jsonl or .parquet file.")
    if path.stat().st_size > MAX_BYTES:
        raise CorpusError(f"{name} is over {MAX_BYTES // 2**20} MB.")
    try:
        df = read_corpus(path, limit + 1)
    except Exception as e:  # noqa: BLE001 - pandas, csv, json and pyarrow each raise their own kind
        raise CorpusError(f"Cannot read {name} as {path.suffix.lower().lstrip('.').upper()}: "
                          f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    if len(df) > limit:
        raise CorpusError(f"{name} has more than {limit:,} rows, the most this app maps (--corpus-limit). Take a "
                          f"sample, or split the file.")
    df.columns = [str(c) for c in df.columns]
    col = text_column(df, name)
    for c in df.columns[df.dtypes == object]:  # nested JSON or Parquet values: kept as their JSON text
        df[c] = df[c].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else json.dumps(v, default=str))
    text = df[col].fillna("").astype(str).str.strip()
    keep = text != ""
    if not keep.any():
        raise CorpusError(f"{name} has no text in its column {col!r}.")
    if keep.sum() < min_rows:
        raise CorpusError(f"{name} has {keep.sum()} sentences in its column {col!r}; a map needs at least {min_rows}.")
    rows = df[keep].copy()
    rows[col] = text[keep]
    return rows, col, int((~keep).sum())


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(file_sha: str, weights_sha: str) -> str:
    """The file and the weights, not the precision: auto may switch from fp32 to its choice while the app runs, and
    the same file must still reopen at once (the map's embeddings differ by a cosine of 1e-4 between them); the
    precision they were computed in is kept in the entry and shown."""
    return hashlib.sha256(f"{file_sha} {weights_sha} {FORMAT}".encode()).hexdigest()[:32]


def cache_root() -> Path:
    """$XDG_CACHE_HOME/minbert/corpus, else ~/.cache/minbert/corpus."""
    return cache_data_dir().parent / "corpus"


# --- the map -----------------------------------------------------------------------------------
def project_pca(unit: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA
    return PCA(2, random_state=0).fit_transform(unit).astype(np.float32)


def project_umap(unit: np.ndarray) -> np.ndarray:
    """The dev map's UMAP settings; from UMAP_CHILD_ROWS rows on, in a child process (analysis/umap_child.py), so
    that its GIL-holding phases never stall the app's other requests. Smaller maps skip the child's start-up."""
    from analysis.precompute import UMAP_PARAMS, fit_umap
    if len(unit) < UMAP_CHILD_ROWS:
        return fit_umap(unit)
    from analysis.umap_child import fit_in_child
    return fit_in_child(unit, UMAP_PARAMS)


def cluster(xy: np.ndarray, sample: int = CLUSTER_SAMPLE, seed: int = 0) -> np.ndarray:
    """Regions of the 2-D map (what the eye sees as a cluster): HDBSCAN's leaf clusters, the densest cores,
    fitted on up to `sample` points, then every point joins the cluster of its nearest clustered point.
    (N,) ids; NOISE everywhere only when HDBSCAN finds no cluster at all."""
    from sklearn.cluster import HDBSCAN
    from sklearn.neighbors import NearestNeighbors
    n = len(xy)
    fit = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False)) if n > sample else np.arange(n)
    size = max(5, len(fit) // 100)  # at most ~100 clusters, whatever the size of the corpus
    if len(fit) < 2 * size:
        return np.full(n, NOISE)
    fitted = HDBSCAN(min_cluster_size=size, min_samples=min(10, size), cluster_selection_method="leaf",
                     copy=True).fit_predict(xy[fit])
    core = fitted != NOISE
    if not core.any():
        return np.full(n, NOISE)
    _, nearest = NearestNeighbors(n_neighbors=1).fit(xy[fit][core]).kneighbors(xy)
    return fitted[core][nearest[:, 0]]


def cluster_words(texts: list[str], clusters: np.ndarray, k: int = LABEL_WORDS) -> dict[int, str]:
    """Each cluster's top `k` words by TF-IDF, a cluster's sentences being one document against the other
    clusters'. Words in fewer than MIN_WORD_SHARE of all sentences are left out (a name seen twice is no topic),
    and so are words every cluster uses, when there are 4 clusters or more (they tell none apart)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfVectorizer
    ids = [c for c in sorted(set(clusters.tolist())) if c != NOISE]
    keep = clusters != NOISE
    words = dict(stop_words=list(ENGLISH_STOP_WORDS) + PTB_ESCAPES, token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b")
    try:
        common = CountVectorizer(min_df=max(2, round(MIN_WORD_SHARE * keep.sum())), **words).fit(np.array(texts)[keep])
        vec = TfidfVectorizer(vocabulary=common.vocabulary_, sublinear_tf=True, **words)
        docs = pd.Series(texts)[keep].groupby(clusters[keep]).agg(" ".join).reindex(ids)  # one document per cluster
        tfidf = vec.fit_transform(docs.tolist()).toarray()  # (clusters, vocabulary)
    except ValueError:  # no clusters, or nothing but stop words and numbers
        return {c: f"cluster {c}" for c in ids}
    if len(ids) >= 4:
        tfidf[:, (tfidf > 0).all(0)] = 0
    names, top = vec.get_feature_names_out(), np.argsort(-tfidf, axis=1)[:, :k]
    return {c: " · ".join(names[j] for j in top[i] if tfidf[i, j] > 0) or f"cluster {c}" for i, c in enumerate(ids)}


class Clock:
    """Runs the stages of a map, recording each one's wall and CPU seconds (this process, all its threads)."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, stage: str, fn, *args):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.wall[stage], self.cpu[stage] = time.perf_counter() - t, time.process_time() - c
        return out


def map_corpus(path: str | Path, predictor: Predictor, limit: int = MAX_ROWS, progress: Progress | None = None,
               name: str | None = None) -> Iterator[CorpusMap]:
    """Yields the map twice: with PCA as soon as the rows are embedded, then with UMAP, clusters and labels
    (saved to the cache). A file already in the cache is read back and yielded once, complete."""
    progress = progress or (lambda f, d: None)
    t0 = time.perf_counter()
    key = cache_key(file_sha256(path), predictor.meta.get("weights_sha256", ""))
    cached = load(key)
    if cached is not None:
        cached.timings["reopen"] = time.perf_counter() - t0
        yield cached
        return
    progress(0.0, "reading the file")
    clock = Clock()
    rows, col, dropped = clock("read", load_rows, path, limit, name)
    embed = lambda: predictor.embed_many(rows[col].tolist(), lambda f, d: progress(0.02 + 0.78 * f, d))  # noqa: E731
    emb = clock("embed", embed)
    corpus = CorpusMap(rows, col, emb, np.zeros((len(rows), 2), np.float32), key, dropped=dropped,
                       timings=clock.wall, cpu=clock.cpu, precision=predictor.precision)
    corpus.pca = clock("pca", project_pca, corpus.unit)
    yield corpus
    progress(0.82, f"UMAP of {len(rows):,} points")
    corpus.umap = clock("umap", project_umap, corpus.unit)
    progress(0.95, "clustering")
    corpus.clusters = clock("cluster", cluster, corpus.umap)
    progress(0.97, "labelling the clusters")
    corpus.labels = clock("labels", cluster_words, corpus.texts, corpus.clusters)
    progress(0.99, "writing the cache")
    clock("cache write", save, corpus)
    yield corpus


# --- the cache ---------------------------------------------------------------------------------
def save(corpus: CorpusMap) -> Path:
    """The map in cache_root()/key/: rows.parquet, arrays.npz, then meta.json (its presence marks the entry
    complete), each written atomically."""
    folder = cache_root() / corpus.key
    with atomic_open(folder / "rows.parquet", "wb") as f:
        corpus.rows.to_parquet(f, index=True)
    with atomic_open(folder / "arrays.npz", "wb") as f:
        np.savez(f, embeddings=corpus.embeddings, pca=corpus.pca, umap=corpus.umap, clusters=corpus.clusters)
    atomic_write_json(folder / "meta.json", {"format": FORMAT, "text_column": corpus.text_column,
                                             "labels": {str(k): v for k, v in corpus.labels.items()},
                                             "dropped": corpus.dropped, "timings": corpus.timings, "cpu": corpus.cpu,
                                             "precision": corpus.precision})
    _prune(keep=corpus.key)
    return folder


def load(key: str) -> CorpusMap | None:
    """The cached map of `key`, or None (missing, incomplete or unreadable entries are recomputed)."""
    folder = cache_root() / key
    try:
        meta = json.loads((folder / "meta.json").read_text())
        rows = pd.read_parquet(folder / "rows.parquet")
        with np.load(folder / "arrays.npz") as a:
            arrays = {k: a[k] for k in ("embeddings", "pca", "umap", "clusters")}
    except (OSError, ValueError, KeyError):
        return None
    folder.touch()  # recently used: pruned last
    return CorpusMap(rows, meta["text_column"], arrays["embeddings"], arrays["pca"], key, arrays["umap"],
                     arrays["clusters"], {int(k): v for k, v in meta["labels"].items()}, meta["dropped"],
                     dict(meta["timings"]), dict(meta.get("cpu", {})), cached=True,
                     precision=meta.get("precision", ""))


def _prune(keep: str) -> None:
    entries = sorted((p for p in cache_root().iterdir() if p.is_dir() and p.name != keep),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_CACHED - 1:]:
        shutil.rmtree(old, ignore_errors=True)


# --- search, selection, predictions ------------------------------------------------------------
def text_matches(corpus: CorpusMap, query: str) -> np.ndarray:
    """Positions of the rows whose sentence contains `query` (case-insensitive, literal)."""
    if not query or not query.strip():
        return np.zeros(0, dtype=int)
    hit = corpus.rows[corpus.text_column].str.contains(query.strip(), case=False, regex=False)
    return np.flatnonzero(hit.to_numpy())


def nearest(corpus: CorpusMap, unit_query: np.ndarray, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The k rows nearest an L2-normalised query embedding (H,) by cosine: (positions, cosines), nearest first."""
    sims = corpus.unit @ unit_query  # (N,)
    top = np.argpartition(-sims, min(k, len(sims)) - 1)[:k]
    top = top[np.argsort(-sims[top])]
    return top, sims[top]


def in_cluster(corpus: CorpusMap, cluster_id: int) -> np.ndarray:
    return np.zeros(0, dtype=int) if corpus.clusters is None else np.flatnonzero(corpus.clusters == cluster_id)


def in_box(corpus: CorpusMap, x: tuple[float, float], y: tuple[float, float]) -> np.ndarray:
    """Positions of the points of the current map inside the x and y ranges (ends included, either order)."""
    xy = corpus.xy
    (x0, x1), (y0, y1) = sorted(x), sorted(y)
    return np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))


def selection(corpus: CorpusMap, positions: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The selected rows: their row number in the file (1-based), cluster, the file's other columns, `extra`
    columns (a score per row of the corpus, e.g. the cosine to a query), and the sentence last (it wraps)."""
    out = corpus.rows.iloc[positions][corpus.metadata].reset_index(names="file row")
    out["file row"] += 1
    if corpus.clusters is not None:
        out.insert(1, "cluster", [corpus.labels.get(int(c), "none") for c in corpus.clusters[positions]])
    for name, values in (extra or {}).items():
        out[name] = values[positions]
    out[corpus.text_column] = corpus.rows[corpus.text_column].iloc[positions].to_numpy()
    return out


def sentiment(corpus: CorpusMap, predictor: Predictor, progress: Progress | None = None) -> np.ndarray:
    """(N, 5) calibrated sentiment probabilities per row (the sentiment task's own encoder), cached beside the map."""
    path = cache_root() / corpus.key / "sentiment.npy"
    if path.is_file():
        return np.load(path)
    examples = [Example(str(i), t) for i, t in enumerate(corpus.texts)]
    probs = predictor.predict_examples(SENTIMENT, examples, progress)["probs"].astype(np.float32)
    with atomic_open(path, "wb") as f:
        np.save(f, probs)
    return probs


def against(corpus: CorpusMap, predictor: Predictor, query: str, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """P(paraphrase) and the STS score 0-5 of `query` against every row."""
    return predictor.scores_against(query, corpus.embeddings, corpus.texts, progress)
