"""A user-like corpus built from the SST training split, for the corpus map's browser test and bench.

The 8,544 training sentences first, then labelled phrases of 3+ words from the training parse trees
(minbert/data/sst_trees.py), drawn at random (seed 0) without repeats; past the ~100,000 distinct phrases the
rows repeat, each repeat marked "(again N)" so that every row stays a distinct sentence. Columns: sentence,
label (the SST class name), source ("sentence", "phrase" or "repeat") and words (a number).
"""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from minbert.data import read_task_file
from minbert.data.sst_trees import TREES_FILE, read_phrases
from minbert.tasks import SST

MIN_PHRASE_WORDS = 3


def sst_corpus(n: int, data_dir: Path) -> pd.DataFrame:
    sentences = [("sentence", e.text, e.label) for e in read_task_file(Path(data_dir) / "ids-sst-train.csv").examples]
    rows = sentences[:n]
    if len(rows) < n:
        known = {t for _, t, _ in sentences}
        phrases = [("phrase", e.text, e.label) for e in read_phrases(Path(data_dir) / TREES_FILE, MIN_PHRASE_WORDS)]
        phrases = list({t: (s, t, y) for s, t, y in phrases if t not in known}.values())
        random.Random(0).shuffle(phrases)
        rows += phrases[:n - len(rows)]
    base, again = list(rows), 1
    while len(rows) < n:
        again += 1
        rows += [("repeat", f"{t} (again {again})", y) for _, t, y in base[:n - len(rows)]]
    return pd.DataFrame({"sentence": [t for _, t, _ in rows], "label": [SST.classes[int(y)] for _, _, y in rows],
                         "source": [s for s, _, _ in rows], "words": [len(t.split()) for _, t, _ in rows]})
