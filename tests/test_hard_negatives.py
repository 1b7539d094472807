"""Mined Quora hard negatives: duplicate groups against SciPy, mining against a brute-force search, the run-folder
cache, and per-epoch sampling in training."""
import json

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from minbert.data import Example, load_tasks
from minbert.hard_negatives import FILE, duplicate_groups, load_or_mine, mine


def random_pairs(rng, n_questions=40, n_pairs=60):
    qs = [f"q{i}" for i in range(n_questions)]
    pairs = []
    for i in range(n_pairs):
        a, b = rng.choice(n_questions, 2, replace=False)
        pairs.append(Example(str(i), qs[a], qs[b], int(rng.random() < 0.4)))
    return pairs


def test_duplicate_groups_are_scipys_connected_components():
    rng = np.random.default_rng(0)
    pairs = random_pairs(rng)
    qs = sorted({q for e in pairs for q in (e.text, e.text2)})
    at = {q: i for i, q in enumerate(qs)}
    pos = [(at[e.text], at[e.text2]) for e in pairs if e.label == 1]
    graph = coo_matrix((np.ones(len(pos)), tuple(zip(*pos))), shape=(len(qs), len(qs)))
    _, ref = connected_components(graph, directed=False)
    group = duplicate_groups(pairs)
    for a in qs:
        for b in qs:
            assert (group[a] == group[b]) == (ref[at[a]] == ref[at[b]]), (a, b)


def brute_force(pairs, emb_of, margin):
    """The definition, one anchor at a time."""
    qs = sorted({q for e in pairs for q in (e.text, e.text2)})
    cos = lambda a, b: float(emb_of[a] @ emb_of[b] / np.linalg.norm(emb_of[a]) / np.linalg.norm(emb_of[b]))  # noqa: E731
    group = duplicate_groups(pairs)
    labelled = {frozenset((e.text, e.text2)) for e in pairs}
    out = []
    for e in pairs:
        if e.label != 1:
            continue
        for a, p in ((e.text, e.text2), (e.text2, e.text)):
            ok = [q for q in qs if group[q] != group[a] and cos(a, q) < margin * cos(a, p)]
            if ok:
                n = max(ok, key=lambda q: (cos(a, q), -qs.index(q)))  # ties: the first in sorted order
                key = frozenset((a, n))
                if key not in labelled and key not in {frozenset((x.text, x.text2)) for x in out}:
                    out.append(Example("", a, n, 0))
    return out


@pytest.mark.parametrize("margin", [0.95, 0.5])
def test_mining_matches_a_brute_force_search(margin):
    rng = np.random.default_rng(1)
    pairs = random_pairs(rng)
    qs = sorted({q for e in pairs for q in (e.text, e.text2)})
    emb_of = {q: rng.normal(size=8) for q in qs}
    embed = lambda texts: np.stack([emb_of[t] for t in texts])  # noqa: E731
    got = mine(pairs, embed, margin, chunk=7)  # chunks smaller than the anchors: the chunking must not matter
    ref = brute_force(pairs, emb_of, margin)
    assert [(e.text, e.text2) for e in got] == [(e.text, e.text2) for e in ref] and got
    group = duplicate_groups(pairs)
    assert all(e.label == 0 and group[e.text] != group[e.text2] for e in got)


def test_mined_pairs_are_cached_in_the_run_folder(tmp_path):
    pairs = [Example("0", "a", "b", 1), Example("1", "a", "c", 0), Example("2", "d", "e", 0)]
    vec = {"a": [1, 0], "b": [1, 0.1], "c": [0, 1], "d": [1, 0.5], "e": [-1, 0]}
    first = load_or_mine(tmp_path, pairs, lambda t: np.array([vec[x] for x in t], float), 0.95)
    assert [(e.text, e.text2) for e in first] == [("a", "d"), ("b", "d")]  # d: the nearest non-duplicate below the margin
    assert json.loads((tmp_path / FILE).read_text()) == [["a", "d"], ["b", "d"]]

    def no_model(texts):
        raise AssertionError("a resumed run must not mine again with the trained model")
    assert [(e.text, e.text2, e.label) for e in load_or_mine(tmp_path, pairs, no_model, 0.95)] == \
        [(e.text, e.text2, e.label) for e in first]


def test_training_samples_mined_negatives_per_epoch(tiny_model_dir, data_dir, tmp_path):
    from minbert.train import main as train_main
    out = tmp_path / "run"
    args = ["--base-model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out-dir", str(out), "--limit", "40",
            "--batch-size", "8", "--train-eval-size", "16", "--quiet", "--save-every", "0", "--epochs", "1",
            "--tasks", "para", "--para-val", "0", "--para-hard", "8"]
    assert train_main(args) == 0
    mined = json.loads((out / FILE).read_text())
    assert len(mined) >= 8
    originals = {frozenset((e.text, e.text2)) for e in load_tasks(str(data_dir)).para_train[:40]}
    assert not {frozenset(p) for p in mined} & originals  # never a pair that already has a label
    log = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert log["step"] == 6  # (40 pairs + 8 of the mined) / batch 8
