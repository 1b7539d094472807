"""Mined hard negatives for Quora: extra labelled non-duplicate pairs from the training questions themselves.

For each question of a duplicate training pair (anchor a, partner p), the mined negative is the training question
nearest to a by cosine that is not a known duplicate of it (not in its group of duplicate pairs, joined
transitively) and is less similar to a than `margin` times the similarity of a to p: a question closer than the
known duplicate is more likely an unlabelled duplicate than a negative (NV-Retriever's "TopK-PercPos" filter,
Moreira et al., 2024). Only training pairs are read; the held-out threshold pairs and dev never enter.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from .atomic import atomic_write_json
from .data import Example

FILE = "hard_negatives.json"  # in the run folder: a resumed run reuses the pairs its first start mined


def duplicate_groups(pairs: list[Example]) -> dict[str, str]:
    """Question -> a representative of its group: questions joined by duplicate pairs, transitively (union-find)."""
    parent: dict[str, str] = {}

    def root(q: str) -> str:
        parent.setdefault(q, q)
        while parent[q] != q:
            parent[q] = parent[parent[q]]  # path halving
            q = parent[q]
        return q

    for e in pairs:
        a, b = root(e.text), root(e.text2)
        if e.label == 1 and a != b:
            parent[a] = b
    return {q: root(q) for q in list(parent)}


def mine(pairs: list[Example], embed: Callable[[list[str]], np.ndarray], margin: float = 0.95,
         chunk: int = 1024) -> list[Example]:
    """One mined non-duplicate pair (label 0) per side of each duplicate pair, where a candidate passes the filters.

    embed: texts -> (N, H) sentence embeddings. Returns pairs in a fixed order, none repeated and none already
    labelled (in either order).
    """
    questions = sorted({q for e in pairs for q in (e.text, e.text2)})
    at = {q: i for i, q in enumerate(questions)}
    emb = embed(questions).astype(np.float32)  # (N, H)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    group = duplicate_groups(pairs)
    group_id = np.array([at[group[q]] for q in questions])  # (N,): each question's group as a question index
    anchors = [(at[a], at[p]) for e in pairs if e.label == 1 for a, p in ((e.text, e.text2), (e.text2, e.text))]
    labelled = {frozenset((e.text, e.text2)) for e in pairs}
    out, seen = [], set()
    for s in range(0, len(anchors), chunk):
        a, p = (np.array(c) for c in zip(*anchors[s:s + chunk]))  # (C,) each
        sims = emb[a] @ emb.T  # (C, N)
        ceiling = margin * sims[np.arange(len(a)), p]  # (C,): stay below the known duplicate's similarity
        sims[group_id[a][:, None] == group_id[None, :]] = -np.inf  # the anchor itself and its known duplicates
        sims[sims >= ceiling[:, None]] = -np.inf
        best = sims.argmax(1)  # (C,)
        found = np.isfinite(sims[np.arange(len(a)), best])  # (C,): False where every candidate was filtered out
        for i, n, ok in zip(a, best, found):
            key = frozenset((questions[i], questions[n]))
            if ok and key not in labelled and key not in seen:
                seen.add(key)
                out.append(Example(f"hard-{len(out)}", questions[i], questions[n], 0))
    return out


def load_or_mine(out_dir: str | Path, pairs: list[Example], embed: Callable[[list[str]], np.ndarray],
                 margin: float) -> list[Example]:
    """The run folder's mined pairs if a first start saved them (mining reads the model, which training changes),
    else mine now and save them atomically."""
    path = Path(out_dir) / FILE
    if path.is_file():
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Example(f"hard-{i}", a, b, 0) for i, (a, b) in enumerate(rows)]
    mined = mine(pairs, embed, margin)
    atomic_write_json(path, [[e.text, e.text2] for e in mined])
    return mined
