"""Precomputed dev results of a checkpoint (from analysis.precompute), joined with texts when data is present."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from minbert.data import DataError, find_data_dir, read_task_file, task_file
from minbert.tasks import TASKS

from analysis.precompute import results_paths


@dataclass
class DevResults:
    data: dict  # the .dev.json contents
    embeddings: dict[str, np.ndarray]  # "finetuned"/"base" -> (N, H) float32, L2-normalised
    texts: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)  # task -> id -> sentences
    data_dir: Path | None = None
    tasks: tuple = tuple(TASKS.values())  # the checkpoint's tasks (minbert.tasks.Task), whose dev texts are joined

    @property
    def has_texts(self) -> bool:
        return bool(self.texts)

    def attach_texts(self, root: Path | None) -> bool:
        """Join the dev sentences of every task whose dev file the data folder (or the task's spec folder) holds;
        False (and no texts) when none can be read."""
        if root is None:
            return False
        texts = {}
        for t in self.tasks:
            try:
                path = task_file(root, t, "dev")
                if path is not None:
                    texts[t.key] = {e.id: (e.text, e.text2) for e in read_task_file(path, t).examples}
            except DataError:
                continue
        if not texts:
            return False
        self.texts, self.data_dir = texts, root  # one assignment: readers on other threads see all or nothing
        return True

    def text(self, task: str, example_id: str, k: int = 0) -> str | None:
        pair = self.texts.get(task, {}).get(example_id)
        return None if pair is None else pair[k]


def store_analysis(checkpoint: str | Path, key: str, result: dict) -> Path:
    """Add one analysis (key "heads" or "behaviour") to a checkpoint's dev results; they must exist and belong
    to the same weights (result["weights_sha256"])."""
    from minbert.atomic import atomic_write_json
    path = results_paths(checkpoint)[0]
    if not path.is_file():
        raise FileNotFoundError(f"no precomputed results at {path}: run `python -m analysis.precompute` first")
    data = json.loads(path.read_text())
    if data.get("weights_sha256") != result["weights_sha256"]:
        raise ValueError(f"{path} belongs to other weights: run `python -m analysis.precompute` again first")
    data[key] = result
    atomic_write_json(path, data)
    return path


def load_results(checkpoint: str | Path, data_dir: str | Path | None = None, sha256: str | None = None,
                 tasks=None) -> DevResults | None:
    """None when the checkpoint has no precomputed results (or they belong to other weights). tasks: the
    checkpoint's (default: the three built-ins)."""
    json_path, emb_path = results_paths(checkpoint)
    if not json_path.is_file() or not emb_path.is_file():
        return None
    data = json.loads(json_path.read_text())
    if sha256 and data.get("weights_sha256") != sha256:
        return None
    emb = {k: v.astype(np.float32) / 127.0 for k, v in load_file(str(emb_path)).items()}
    res = DevResults(data, emb, tasks=tuple(tasks or TASKS.values()))
    try:
        res.attach_texts(find_data_dir(data_dir, required=False))
    except DataError:
        pass
    return res
