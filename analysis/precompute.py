"""Precompute what the app shows about the dev sets, so it opens instantly.

    python -m analysis.precompute --checkpoint checkpoints/minbert-multitask [--data-dir DIR]

Writes beside the checkpoint, with no sentence text (dataset text is never committed):
  NAME.dev.json         per task of the checkpoint (added tasks too): per-example ids, gold labels, predictions,
                        probabilities; label distributions; 2-D UMAP coordinates of the dev sentence embeddings,
                        fine-tuned and base model
  NAME.dev.safetensors  int8 L2-normalised embeddings of the mapped sentences (to place new sentences)
Head importance (analysis.head_importance) and behavioural tests (analysis.behaviour) add to NAME.dev.json; a new
precompute keeps them when the weights are unchanged.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as st_save

from minbert.cli import add_checkpoint, add_data_dir, add_threads, apply_threads, fail
from minbert.atomic import atomic_write_bytes, atomic_write_json
from minbert.checkpoint import CheckpointError, load_checkpoint, paths
from minbert.data import DataError, load_tasks
from minbert.evaluate import gold
from minbert.serve.predictor import Predictor
from minbert.evaluate.inference import predict

UMAP_PARAMS = dict(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42)
MAP_MAX = 2000  # sentences of one task on the map; a task with more shows a seeded sample of MAP_SAMPLE of them
MAP_SAMPLE = 1000  # (Quora's held-out pairs: 500 pairs, both sentences)
SCORE_BUCKETS = 5  # a score task's range cut into this many equal buckets (STS-B 0..5: 0-1, ..., 4-5)


@dataclass
class PrecomputeArgs:
    checkpoint: Path
    data_dir: str | None
    batch_size: int


def results_paths(checkpoint: str | Path) -> tuple[Path, Path]:
    stem = paths(checkpoint)[0].with_suffix("")
    return stem.with_suffix(".dev.json"), stem.with_suffix(".dev.safetensors")


def map_points(data) -> list[tuple[str, str, int]]:
    """(task key, example id, sentence 0/1) of every sentence on the map, task by task in the model's order."""
    pts = []
    for t in data.tasks:
        ex, per = data.dev[t.key], len(t.columns)  # sentences per example
        if len(ex) * per > MAP_MAX:
            ex = random.Random(0).sample(ex, MAP_SAMPLE // per)
        pts += [(t.key, e.id, k) for e in ex for k in range(per)]
    return pts


def fit_umap(emb: np.ndarray) -> np.ndarray:
    import umap  # heavy import, only here
    return umap.UMAP(**UMAP_PARAMS).fit_transform(emb).astype(np.float32)


def per_task_predictions(model, tok, data, batch_size: int) -> dict:
    out = {}
    for t in data.tasks:
        ex = data.dev[t.key]
        p = predict(model, t.key, ex, tok, batch_size)
        rec = {"ids": [e.id for e in ex], "gold": gold(ex).tolist()}
        rec.update({k: np.round(v, 5).tolist() for k, v in p.items()})
        out[t.key] = rec
    return out


def score_buckets(task) -> tuple[np.ndarray, list[str]]:
    """The bucket edges of a score task's range and their names ("0-1", ...)."""
    edges = np.linspace(*task.score_range, SCORE_BUCKETS + 1)
    return edges, [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:])]


def label_counts(task, values) -> tuple[list[str], list[int]]:
    """(bar names, counts) of labels or predictions: per class, or per score bucket."""
    v = np.asarray(values, dtype=float)
    if task.is_score:
        edges, names = score_buckets(task)
        return names, np.histogram(v, bins=edges)[0].tolist()
    return list(task.classes), np.bincount(v.astype(int), minlength=task.num_classes).tolist()


def distributions(data) -> dict:
    """f"{key}_train" and f"{key}_dev" -> label counts (classes, or score buckets) of every task."""
    return {f"{t.key}_{split}": label_counts(t, [e.label for e in examples[t.key]])[1]
            for t in data.tasks for split, examples in (("train", data.train), ("dev", data.dev))}


def notes(data) -> dict:
    """What a reader of the figures must know, per task: f"{key}_protocol" (how a dev_holdout task's dev part was
    drawn) and f"{key}_caveat" (the keys the checkpoint sidecar uses too)."""
    out = {f"{t.key}_protocol": data.protocols[t.key] for t in data.tasks if t.dev_holdout}
    return out | {f"{t.key}_caveat": t.caveat for t in data.tasks if t.caveat}


KEPT = ("heads", "behaviour")  # slower analyses (analysis.head_importance, analysis.behaviour) stored in the same file


def kept_analyses(json_path: Path, sha256: str) -> dict:
    """The earlier file's head and behaviour results, when they belong to the same weights."""
    try:
        old = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: old[k] for k in KEPT if k in old and old.get("weights_sha256") == sha256}


def run(args: PrecomputeArgs) -> tuple[Path, Path]:
    ckpt = load_checkpoint(args.checkpoint)
    pred = Predictor(args.checkpoint)
    data = load_tasks(args.data_dir, tuple(ckpt.model.tasks.values()))
    result = {"weights_sha256": ckpt.meta["weights_sha256"], **notes(data), "distributions": distributions(data),
              "predictions": per_task_predictions(ckpt.model, ckpt.tokenizer, data, args.batch_size)}
    pts = map_points(data)
    by_id = {t: {e.id: e for e in ex} for t, ex in data.dev.items()}
    texts = [by_id[t][i].text if k == 0 else by_id[t][i].text2 for t, i, k in pts]
    emb = {}
    for which in ("finetuned", "base"):
        emb[which] = np.concatenate([pred.embed(texts[j:j + args.batch_size], which)
                                     for j in range(0, len(texts), args.batch_size)])
    result["map"] = {"points": [list(p) for p in pts], "umap_params": UMAP_PARAMS,
                     **{w: np.round(fit_umap(e), 4).tolist() for w, e in emb.items()}}
    json_path, emb_path = results_paths(args.checkpoint)
    result.update(kept_analyses(json_path, result["weights_sha256"]))
    atomic_write_json(json_path, result)
    q = {w: torch.from_numpy(np.clip(np.round(e * 127), -127, 127).astype(np.int8)) for w, e in emb.items()}
    atomic_write_bytes(emb_path, st_save(q))
    return json_path, emb_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.precompute", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads(ap)
    add_checkpoint(ap)
    add_data_dir(ap)
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    try:
        for p in run(PrecomputeArgs(Path(a.checkpoint), a.data_dir, a.batch_size)):
            print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)")
    except (CheckpointError, DataError, FileNotFoundError) as e:
        return fail(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
