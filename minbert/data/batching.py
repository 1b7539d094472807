"""Turning task examples into model batches, and running a model over a whole split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from minbert.data import Example, bucket_batches
from minbert.multitask import MultitaskModel
from minbert.tokenizer import Tokenizer

LABEL_DTYPE = {"sst": torch.long, "para": torch.float, "sts": torch.float}


@dataclass
class Batch:
    task: str
    inputs: dict[str, torch.Tensor]  # (B, T) for sst, (2B, T) for pair tasks
    labels: torch.Tensor | None  # (B,)
    index: list[int]  # positions of the rows in the example list

    def to(self, device) -> "Batch":
        labels = None if self.labels is None else self.labels.to(device)
        return Batch(self.task, {k: v.to(device) for k, v in self.inputs.items()}, labels, self.index)


def texts_of(task: str, examples: list[Example]) -> list[str]:
    """Sentences as fed to the encoder: SST rows, or all first then all second sentences."""
    if task == "sst":
        return [e.text for e in examples]
    return [e.text for e in examples] + [e.text2 for e in examples]


def make_batch(task: str, examples: list[Example], index: list[int], tok: Tokenizer, max_length: int,
               joint: bool = False) -> Batch:
    """joint=True encodes each pair as one sequence ([CLS] s1 [SEP] s2 [SEP]) for a cross-encoder head."""
    rows = [examples[i] for i in index]
    if joint:
        enc = tok([r.text for r in rows], [r.text2 for r in rows], max_length=max_length)
    else:
        enc = tok(texts_of(task, rows), max_length=max_length)
    labels = None
    if rows and rows[0].label is not None:
        labels = torch.tensor([r.label for r in rows], dtype=LABEL_DTYPE[task])
    return Batch(task, enc.model_inputs(), labels, list(index))


def example_lengths(task: str, examples: list[Example], tok: Tokenizer) -> list[int]:
    """Token count per example (the longer sentence of a pair), for length bucketing."""
    n = tok.token_lengths(texts_of(task, examples))
    return n if task == "sst" else [max(a, b) for a, b in zip(n[:len(examples)], n[len(examples):])]


@torch.inference_mode()
def predict(model: MultitaskModel, task: str, examples: list[Example], tok: Tokenizer, batch_size: int = 64,
            max_length: int = 128, device="cpu", with_embeddings: bool = False) -> dict[str, np.ndarray]:
    """Run one task head over every example, in input order.

    sst: logits, probs (N, 5), pred (N,); para: cosine, logit, prob, pred (N,); sts: cosine, score (N,).
    Probabilities are the raw ones (temperature 1); minbert.evaluate.temperature.apply serves calibrated ones.
    with_embeddings adds emb (N, H), or emb1/emb2 for pairs.
    """
    was_training = model.training
    model.eval()
    parts: dict[str, list] = {}
    order: list[int] = []
    for idx in bucket_batches(example_lengths(task, examples, tok), batch_size, shuffle=False):
        b = make_batch(task, examples, idx, tok, max_length).to(device)
        out = _outputs(model, b, with_embeddings)
        if model.joint_input(task):  # the decision comes from the jointly encoded pair
            j = make_batch(task, examples, idx, tok, max_length, joint=True).to(device)
            logit = model.para.forward_joint(model.embed(**j.inputs))["logit"]
            out.update(logit=logit, prob=logit.sigmoid(), pred=(logit > 0).long())
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu().numpy())
        order += idx
    model.train(was_training)
    inverse = np.argsort(np.array(order))
    return {k: np.concatenate(v)[inverse] for k, v in parts.items()}


def _outputs(model: MultitaskModel, b: Batch, with_embeddings: bool) -> dict[str, torch.Tensor]:
    if b.task == "sst":
        emb = model.embed(**b.inputs, task="sst")
        logits = model.sst(emb)["logits"]
        probs = logits.softmax(-1)
        out = {"logits": logits, "probs": probs, "pred": probs.argmax(-1)}
        return {**out, "emb": emb} if with_embeddings else out
    u, v = model.embed(**b.inputs).chunk(2)
    o = model.head(b.task)(u, v)
    if b.task == "para":
        prob = o["logit"].sigmoid()
        out = {"cosine": o["cosine"], "logit": o["logit"], "prob": prob, "pred": (prob > 0.5).long()}
    else:
        out = {"cosine": o["cosine"], "score": o["score"]}
    return {**out, "emb1": u, "emb2": v} if with_embeddings else out
