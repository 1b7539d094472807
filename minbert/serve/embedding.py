"""The sentence embedding every tool serves: the shared encoder's pooled last hidden state (the checkpoint's
pooling: mean over real tokens for the shipped model), L2-normalised. It is what the sentence-transformers export
computes (minbert/export.py: its root folder), what the app's map shows and what `minbert.predict --task embed`
writes. A task with encoder layers of its own (sentiment, with --sst-layers) offers its own embedding as a named
option: `--embedding sentiment` (Predictor.embed(..., embedding="sentiment")).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from minbert.data.batching import bucket_batches
from minbert.tasks import TaskSpecError, by_name

SHARED = "shared"  # the default embedding: the shared encoder


def embedding_task(tasks, name: str | None) -> str | None:
    """The task key whose encoder an --embedding name selects: None for "shared"; else a task with layers of its
    own, named by key, skill or data-set name (minbert.tasks.by_name)."""
    if not name or name.strip().lower() == SHARED:
        return None
    task = by_name(tasks, name)
    if not task.own_layers:
        owners = [t.skill for t in tasks if t.own_layers]
        raise TaskSpecError(f"--embedding {name}: {task.name} has no encoder layers of its own, so its embedding is "
                            f"the shared one; choose {' or '.join([SHARED, *owners])}")
    return task.key


def embedding_names(tasks) -> list[str]:
    """What --embedding offers for a model's tasks: "shared", then the skill of each task with its own layers."""
    return [SHARED, *(t.skill for t in tasks if t.own_layers)]


@torch.inference_mode()
def embed_texts(model, tok, texts: list[str], batch_size: int = 64, max_length: int = 128,
                task: str | None = None) -> np.ndarray:
    """L2-normalised embeddings (N, H) float32 of `texts`, in input order; batches of similar length. `task`: the
    embedding_task (None: the shared encoder)."""
    out = np.empty((len(texts), model.bert.config.hidden_size), dtype=np.float32)  # (N, H)
    was_training = model.training
    model.eval()
    for idx in bucket_batches(tok.token_lengths(texts), batch_size, shuffle=False):
        enc = tok([texts[i] for i in idx], max_length=max_length)
        out[idx] = F.normalize(model.embed(**enc.model_inputs(), task=task).float(), dim=-1).numpy()
    model.train(was_training)
    return out
