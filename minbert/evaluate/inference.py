"""Running a model over a whole split: one task head over every example, in input order."""
from __future__ import annotations

import numpy as np
import torch

from minbert.data import Example
from minbert.data.batching import Batch, bucket_batches, example_lengths, make_batch
from minbert.multitask import MultitaskModel
from minbert.tasks import Task
from minbert.tokenizer import Tokenizer


@torch.inference_mode()
def predict(model: MultitaskModel, task: str | Task, examples: list[Example], tok: Tokenizer, batch_size: int = 64,
            max_length: int = 128, device="cpu", with_embeddings: bool = False) -> dict[str, np.ndarray]:
    """Run one task head over every example, in input order; the keys are the head's `predictions`:

    sentence_classes: logits, probs (N, C), pred (N,); pair_classes: cosine, logit, prob, pred (N,);
    pair_score: cosine, score (N,). Probabilities are the raw ones (temperature 1);
    minbert.evaluate.temperature.apply serves calibrated ones.
    with_embeddings adds emb (N, H), or emb1/emb2 for pairs.
    """
    t = model.tasks[task if isinstance(task, str) else task.key]
    was_training = model.training
    model.eval()
    parts: dict[str, list] = {}
    order: list[int] = []
    for idx in bucket_batches(example_lengths(t, examples, tok), batch_size, shuffle=False):
        b = make_batch(t, examples, idx, tok, max_length).to(device)
        out = _outputs(model, t, b, with_embeddings)
        if model.joint_input(t.key):  # the decision comes from the jointly encoded pair
            j = make_batch(t, examples, idx, tok, max_length, joint=True).to(device)
            logit = model.head(t.key).forward_joint(model.embed(**j.inputs))["logit"]
            out.update(logit=logit, prob=logit.sigmoid(), pred=(logit > 0).long())
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu().numpy())
        order += idx
    model.train(was_training)
    inverse = np.argsort(np.array(order))
    return {k: np.concatenate(v)[inverse] for k, v in parts.items()}


def _outputs(model: MultitaskModel, t: Task, b: Batch, with_embeddings: bool) -> dict[str, torch.Tensor]:
    head = model.head(t.key)
    if not t.pair:
        emb = model.embed(**b.inputs, task=t.key)
        out = head.predictions(head(emb))
        return {**out, "emb": emb} if with_embeddings else out
    u, v = model.embed(**b.inputs).chunk(2)
    out = head.predictions(head(u, v))
    return {**out, "emb1": u, "emb2": v} if with_embeddings else out
