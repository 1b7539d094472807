"""analysis/corpus_map.py and its view on a small synthetic corpus of three topics: embeddings, maps, clusters and
their labels, search, selection, the cache, the row limit and bad files."""
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from tests.app_server import CHECKPOINT

pytestmark = [pytest.mark.slow,  # UMAP's first fit compiles numba code
              pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")]

TOPICS = {
    "cooking": ("Slice the {} and simmer it gently with {} in a heavy pan.",
                ["onions", "carrots", "tomatoes", "leeks", "peppers", "mushrooms", "garlic", "potatoes"],
                ["butter", "olive oil", "cream", "thyme", "cumin"]),
    "football": ("The {} striker scored a late goal against {} in the cup final.",
                 ["young", "veteran", "Brazilian", "injured", "substitute", "French", "tall", "captain's"],
                 ["Arsenal", "Madrid", "the champions", "the league leaders", "Milan"]),
    "astronomy": ("The telescope observed a distant {} orbiting {} far beyond our galaxy.",
                  ["planet", "comet", "moon", "asteroid", "quasar", "nebula", "star", "dwarf"],
                  ["a red giant", "a black hole", "a pulsar", "twin suns", "a white dwarf"]),
}


def synthetic() -> pd.DataFrame:
    rows = [(template.format(a, b), topic, i) for topic, (template, xs, ys) in TOPICS.items()
            for i, (a, b) in enumerate(itertools.product(xs, ys))]
    return pd.DataFrame(rows, columns=["text", "topic", "number"])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def predictor():
    from minbert.serve.predictor import Predictor
    return Predictor(CHECKPOINT, "fp32")


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "topics.csv"
    synthetic().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def stages(env, predictor, corpus_file):
    from analysis import corpus_map as cm
    seen, out = [], []
    for c in cm.map_corpus(corpus_file, predictor, progress=lambda f, d: seen.append(d)):
        out.append((c.umap is None, c.pca.copy()))  # the same map, filled in: what it held at each yield
    return out, c, seen


@pytest.fixture(scope="module")
def corpus(stages):
    return stages[1]


def test_pca_first_then_umap_and_progress(stages):
    out, corpus, seen = stages
    assert [first for first, _ in out] == [True, False]  # PCA yielded before UMAP
    assert corpus.umap.shape == (120, 2) and np.isfinite(corpus.umap).all()
    assert any(d.startswith("embedding: 120 / 120") for d in seen)
    u = corpus.unit - corpus.unit.mean(0)  # reference: the top two principal axes of the centred embeddings
    _, _, vt = np.linalg.svd(u, full_matrices=False)
    ref = u @ vt[:2].T
    for k in range(2):
        assert abs(np.corrcoef(ref[:, k], out[0][1][:, k])[0, 1]) > 0.9999


def test_embeddings_are_the_shared_encoders_as_the_predictor_gives_them(corpus, predictor):
    texts = corpus.texts[:12]
    ref = predictor.embed(texts)  # (12, H), L2-normalised, the shared encoder (not sentiment's own top layer)
    np.testing.assert_allclose(corpus.unit[:12], ref, atol=2e-5)
    assert corpus.metadata == ["topic", "number"] and corpus.text_column == "text"


def test_clusters_keep_to_one_topic_and_are_labelled_by_its_words(corpus):
    from sklearn.metrics import homogeneity_score
    topics = corpus.rows["topic"].to_numpy()
    assert 3 <= len(corpus.labels) <= 40 and (corpus.clusters >= 0).all()  # HDBSCAN's leaf clusters: topics split finer
    assert homogeneity_score(topics, corpus.clusters) > 0.95  # but no cluster mixes two topics
    for c, label in corpus.labels.items():
        topic = pd.Series(topics[corpus.clusters == c]).mode()[0]
        vocabulary = set(" ".join(corpus.rows["text"][topics == topic]).lower().replace(".", "").split())
        assert set(label.split(" · ")) <= vocabulary, (topic, label)


def test_cluster_words_against_tfidf_by_hand():
    from analysis.corpus_map import cluster_words
    texts = ["red apples grow", "red apples fall", "red cherries"] * 5 + ["blue whales swim", "blue whales dive"] * 5
    clusters = np.array([0] * 15 + [1] * 10)
    labels = cluster_words(texts, clusters, k=2)
    assert set(labels[0].split(" · ")) == {"red", "apples"} and set(labels[1].split(" · ")) == {"blue", "whales"}


def test_text_search_is_case_insensitive_and_literal(corpus):
    from analysis.corpus_map import text_matches
    ref = [i for i, t in enumerate(corpus.texts) if "the cup" in t.lower()]
    assert text_matches(corpus, "THE CUP").tolist() == ref and len(ref) == 40
    assert len(text_matches(corpus, "a.c")) == 0  # a dot is a dot, not a pattern
    assert len(text_matches(corpus, "  ")) == 0


def test_semantic_search_is_the_brute_force_cosine_order(corpus, predictor):
    from analysis.corpus_map import nearest
    q = predictor.embed(["A goalkeeper saved a penalty in the match."])[0]
    rows, cos = nearest(corpus, q, k=10)
    ref = np.argsort(-(corpus.unit @ q))[:10]
    assert rows.tolist() == ref.tolist()
    np.testing.assert_allclose(cos, corpus.unit[ref] @ q, rtol=1e-6)
    assert set(corpus.rows["topic"].iloc[rows]) == {"football"}


def test_selection_of_a_box_and_a_cluster(corpus):
    from analysis.corpus_map import in_box, in_cluster, selection
    xy = corpus.umap
    x, y = (np.median(xy[:, 0]), xy[:, 0].max()), (xy[:, 1].max(), xy[:, 1].min())  # either order
    ref = np.flatnonzero((xy[:, 0] >= x[0]) & (xy[:, 0] <= x[1]))
    assert in_box(corpus, x, y).tolist() == ref.tolist()
    table = selection(corpus, in_cluster(corpus, 0))
    assert list(table.columns) == ["file row", "cluster", "topic", "number", "text"]  # the sentence last: it wraps
    assert len(table) == (corpus.clusters == 0).sum() and table["file row"].min() >= 1
    assert (table["text"].tolist() == [corpus.texts[i] for i in np.flatnonzero(corpus.clusters == 0)])


def test_the_same_file_reopens_from_the_cache(corpus, corpus_file, predictor):
    import time

    from analysis import corpus_map as cm

    class NoModel:  # a reopen must not embed anything, even once auto has switched to another precision
        meta, precision = predictor.meta, "bf16" if predictor.precision != "bf16" else "fp32"

        def embed_many(self, *a, **k):
            raise AssertionError("embedded again")

    t = time.perf_counter()
    out = list(cm.map_corpus(corpus_file, NoModel()))
    assert len(out) == 1 and out[0].cached and time.perf_counter() - t < 5
    again = out[0]
    np.testing.assert_array_equal(again.embeddings, corpus.embeddings)
    np.testing.assert_array_equal(again.umap, corpus.umap)
    np.testing.assert_array_equal(again.clusters, corpus.clusters)
    assert again.labels == corpus.labels and again.rows.equals(corpus.rows)
    assert again.precision == corpus.precision == predictor.precision  # what they were computed in, kept
    assert not list(cm.cache_root().glob("*/.*.part"))  # atomic writes leave no partial file


def test_row_limit_and_formats(tmp_path):
    from analysis import corpus_map as cm
    df = synthetic()
    df.to_csv(tmp_path / "c.csv", index=False)
    df.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    df.to_json(tmp_path / "c.jsonl", orient="records", lines=True)
    df.to_parquet(tmp_path / "c.parquet")
    (tmp_path / "semi.csv").write_text(df.to_csv(sep=";", index=False))
    for name in ("c.csv", "c.tsv", "c.jsonl", "c.parquet", "semi.csv"):
        rows, col, dropped = cm.load_rows(tmp_path / name)
        assert col == "text" and dropped == 0 and rows["text"].tolist() == df["text"].tolist(), name
        assert rows["number"].tolist() == df["number"].tolist(), name
    with pytest.raises(cm.CorpusError, match=r"has more than 50 rows, the most this app maps \(--corpus-limit\)"):
        cm.load_rows(tmp_path / "c.csv", limit=50)


@pytest.mark.parametrize("name,content,message", [
    ("x.xlsx", b"PK\x03\x04", "upload a .csv, .tsv, .jsonl or .parquet"),
    ("x.jsonl", b'{"text": "fine"}\n{not json\n', "Cannot read x.jsonl as JSONL"),
    ("x.parquet", b"definitely not parquet", "Cannot read x.parquet as PARQUET"),
    ("x.csv", b"", "Cannot read x.csv as CSV"),
    ("x.csv", b"a,b\n1,2\n3,4\n", "has no sentence column"),
    ("x.csv", b"text,label\n,1\n  ,2\n", "has no text in its column 'text'"),
    ("x.tsv", b"text\tlabel\nOne.\t1\nTwo.\t2\n", "has 2 sentences in its column 'text'; a map needs at least 20"),
    ("x.csv", b"text\n" + b"a sentence\n" * 200, "has more than 100 rows"),
])
def test_a_bad_file_gets_a_clear_message(tmp_path, name, content, message):
    from analysis import corpus_map as cm
    (tmp_path / name).write_bytes(content)
    with pytest.raises(cm.CorpusError, match=message.replace(".", r"\.").replace("(", r"\(")):
        cm.load_rows(tmp_path / name, limit=100)


def test_rows_without_text_are_left_out_and_counted(tmp_path):
    from analysis import corpus_map as cm
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"review": "Good.", "meta": {"a": 1}}, {"review": "", "meta": None}, {"review": "Bad.", "meta": [1, 2]}]))
    rows, col, dropped = cm.load_rows(tmp_path / "x.jsonl", min_rows=1)
    assert col == "review" and dropped == 1 and rows.index.tolist() == [0, 2]
    assert rows["meta"].tolist() == ['{"a": 1}', "[1, 2]"]  # nested values kept as JSON text


def test_scores_against_a_query_are_the_single_pair_answers(corpus, predictor):
    from analysis.corpus_map import against
    query = "The striker scored a goal."
    scores = against(corpus, predictor, query)
    for i in (0, 45, 100):
        assert scores["probability"][i] == pytest.approx(predictor.paraphrase(query, corpus.texts[i])["probability"], abs=1e-4)
        assert scores["score"][i] == pytest.approx(predictor.similarity(query, corpus.texts[i])["score"], abs=1e-3)


def test_view_figure_colours_search_and_download(env, corpus, predictor):
    from analysis.studio import corpus_view as cv
    view = cv.CorpusView(predictor)
    view._keep(corpus)
    msg, fig, table = view.view(corpus.key, "topic", "telescope", "")
    assert "40 rows contain" in msg and len(table) == 40
    assert len(fig.data[0].x) == 120 and type(fig.data[0]).__name__ == "Scattergl"
    assert {a.text for a in fig.layout.annotations} == set(corpus.labels.values())
    assert [t.name for t in fig.data if t.name.startswith("text matches")] == ["text matches (40)"]
    msg, fig, table = view.view(corpus.key, cv.SENTIMENT, "", "")
    ref = [cv.SST.classes[int(np.argmax(p))] for p in predictor.sentiment_probs(corpus.texts[:3])]
    codes = fig.data[0].marker.color[:3]  # steps of the colour scale, in SST.classes order
    assert [cv.SST.classes[int(k)] for k in codes] == ref
    scale = dict(fig.data[0].marker.colorscale)
    assert [scale[int(k) / (len(cv.SST.classes) + 1)] for k in codes] == [dict(zip(cv.SST.classes, cv.class_colors(cv.SST)))[c] for c in ref]
    msg, _, _ = view.view(corpus.key, cv.PARAPHRASE, "", "")
    assert msg.startswith("⚠️ Type a query sentence")
    msg, table, path = view.select(corpus.key, cv.SELECTIONS[0], cv.cluster_choices(corpus)[0], (None, None),
                                   (None, None), session="test")
    assert pd.read_csv(path)["text"].tolist() == table["text"].tolist()
    assert view.select("unknown", cv.SELECTIONS[0], "0", (None, None), (None, None))[0].startswith("⚠️ Map a file first")


@pytest.mark.slow
def test_umap_in_a_child_process_is_umap_here():
    """A large corpus's UMAP runs in a child process (its numba phases would hold the app's GIL): the same map, and a
    failing child is a plain error."""
    from analysis.precompute import UMAP_PARAMS, fit_umap
    from analysis.umap_child import fit_in_child
    x = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    np.testing.assert_array_equal(fit_in_child(x, UMAP_PARAMS), fit_umap(x))
    with pytest.raises(RuntimeError, match="child process failed"):
        fit_in_child(x, {**UMAP_PARAMS, "metric": "no-such-metric"})
