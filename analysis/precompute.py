"""Precompute what the app shows about the dev sets, so it opens instantly.

    python -m analysis.precompute --checkpoint checkpoints/minbert-multitask [--data-dir DIR]

Writes beside the checkpoint, with no sentence text (dataset text is never committed):
  NAME.dev.json         per-example ids, gold labels, predictions, probabilities; label distributions;
                        2-D UMAP coordinates of the dev sentence embeddings, fine-tuned and base model
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
from minbert.evaluate import QUORA_CAVEAT, gold
from minbert.serve.predictor import Predictor
from minbert.evaluate.inference import predict

UMAP_PARAMS = dict(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=42)
QUORA_MAP_PAIRS = 500  # held-out pairs shown on the map (both sentences)


@dataclass
class PrecomputeArgs:
    checkpoint: Path
    data_dir: str | None
    batch_size: int


def results_paths(checkpoint: str | Path) -> tuple[Path, Path]:
    stem = paths(checkpoint)[0].with_suffix("")
    return stem.with_suffix(".dev.json"), stem.with_suffix(".dev.safetensors")


def map_points(data) -> list[tuple[str, str, int]]:
    """(task, example id, sentence 0/1) of every sentence on the map, in a fixed order."""
    pts = [("sst", e.id, 0) for e in data.sst_dev]
    pts += [("sts", e.id, k) for e in data.sts_dev for k in (0, 1)]
    quora = random.Random(0).sample(data.para_dev, min(QUORA_MAP_PAIRS, len(data.para_dev)))
    return pts + [("para", e.id, k) for e in quora for k in (0, 1)]


def fit_umap(emb: np.ndarray) -> np.ndarray:
    import umap  # heavy import, only here
    return umap.UMAP(**UMAP_PARAMS).fit_transform(emb).astype(np.float32)


def per_task_predictions(model, tok, data, batch_size: int) -> dict:
    out = {}
    for task, ex in (("sst", data.sst_dev), ("para", data.para_dev), ("sts", data.sts_dev)):
        p = predict(model, task, ex, tok, batch_size)
        rec = {"ids": [e.id for e in ex], "gold": gold(ex).tolist()}
        rec.update({k: np.round(v, 5).tolist() for k, v in p.items()})
        out[task] = rec
    return out


def distributions(data) -> dict:
    return {"sst_train": np.bincount([e.label for e in data.sst_train], minlength=5).tolist(),
            "sst_dev": np.bincount([e.label for e in data.sst_dev], minlength=5).tolist(),
            "para_train": np.bincount([e.label for e in data.para_train], minlength=2).tolist(),
            "para_dev": np.bincount([e.label for e in data.para_dev], minlength=2).tolist(),
            "sts_train": np.histogram([e.label for e in data.sts_train], bins=5, range=(0, 5))[0].tolist(),
            "sts_dev": np.histogram([e.label for e in data.sts_dev], bins=5, range=(0, 5))[0].tolist()}


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
    data = load_tasks(args.data_dir)
    result = {"weights_sha256": ckpt.meta["weights_sha256"], "para_protocol": data.para_protocol,
              "para_caveat": QUORA_CAVEAT, "distributions": distributions(data),
              "predictions": per_task_predictions(ckpt.model, ckpt.tokenizer, data, args.batch_size)}
    pts = map_points(data)
    by_id = {t: {e.id: e for e in ex} for t, ex in (("sst", data.sst_dev), ("sts", data.sts_dev), ("para", data.para_dev))}
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
