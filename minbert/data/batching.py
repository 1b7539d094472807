"""Turning task examples into model batches: length bucketing, tokenizing, labels."""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from minbert.data import Example
from minbert.tasks import Task, get
from minbert.tokenizer import Tokenizer


@dataclass
class Batch:
    task: str  # the task key
    inputs: dict[str, torch.Tensor]  # (B, T) for a sentence task, (2B, T) for a pair task (or (B, T) joint)
    labels: torch.Tensor | None  # (B,)
    index: list[int]  # positions of the rows in the example list

    def to(self, device) -> "Batch":
        labels = None if self.labels is None else self.labels.to(device)
        return Batch(self.task, {k: v.to(device) for k, v in self.inputs.items()}, labels, self.index)


def texts_of(task: Task | str, examples: list[Example]) -> list[str]:
    """Sentences as fed to the encoder: a sentence task's rows, or all first then all second sentences."""
    task = get(task)
    if not task.pair:
        return [e.text for e in examples]
    return [e.text for e in examples] + [e.text2 for e in examples]


def make_batch(task: Task | str, examples: list[Example], index: list[int], tok: Tokenizer, max_length: int,
               joint: bool = False) -> Batch:
    """joint=True encodes each pair as one sequence ([CLS] s1 [SEP] s2 [SEP]) for a cross-encoder head."""
    task = get(task)
    rows = [examples[i] for i in index]
    if joint:
        enc = tok([r.text for r in rows], [r.text2 for r in rows], max_length=max_length)
    else:
        enc = tok(texts_of(task, rows), max_length=max_length)
    labels = None
    if rows and rows[0].label is not None:
        labels = torch.tensor([r.label for r in rows], dtype=torch.float if task.pair else torch.long)
    return Batch(task.key, enc.model_inputs(), labels, list(index))


def example_lengths(task: Task | str, examples: list[Example], tok: Tokenizer) -> list[int]:
    """Token count per example (the longer sentence of a pair), for length bucketing."""
    task = get(task)
    n = tok.token_lengths(texts_of(task, examples))
    return n if not task.pair else [max(a, b) for a, b in zip(n[:len(examples)], n[len(examples):])]


def bucket_batches(lengths: list[int], batch_size: int, shuffle: bool, seed: int = 0,
                   bucket_factor: int = 50) -> list[list[int]]:
    """Group indices of similar length so each batch pads little.

    shuffle=False: sorted by length (for evaluation; callers restore the order).
    shuffle=True: shuffle, sort within windows of batch_size*bucket_factor, then shuffle the batches.
    """
    idx = list(range(len(lengths)))
    if not shuffle:
        idx.sort(key=lambda i: lengths[i])
        return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(idx)
    window = batch_size * bucket_factor
    batches = []
    for w in range(0, len(idx), window):
        chunk = sorted(idx[w:w + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
