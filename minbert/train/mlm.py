"""Stage 1, masked-language-model further pretraining of the encoder on the tasks' training sentences (never
dev/test): BERT's 15% / 80-10-10 masking, a tied MLM head and the stage's loop."""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from minbert import distributed as dist
from minbert.data.batching import bucket_batches, texts_of
from minbert.model import ACTIVATIONS, BertModel
from minbert.optimizer import AdamW

IGNORE = -100  # label of positions that are not predicted


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: frozenset[int],
                mask_id: int, vocab_size: int, prob: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Select `prob` of the real, non-special tokens; of those 80% -> [MASK], 10% -> random, 10% kept.

    Returns (masked input_ids (B, T), labels (B, T) holding the original id where selected, else -100).
    """
    g = dict(generator=generator) if generator is not None else {}
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for sid in special_ids:
        special |= input_ids == sid
    candidates = attention_mask.bool() & ~special
    selected = (torch.rand(input_ids.shape, **g) < prob) & candidates
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE))
    roll = torch.rand(input_ids.shape, **g)
    masked = input_ids.clone()
    masked[selected & (roll < 0.8)] = mask_id
    rand_pos = selected & (roll >= 0.8) & (roll < 0.9)
    masked[rand_pos] = torch.randint(vocab_size, input_ids.shape, **g)[rand_pos]
    return masked, labels


class MLMHead(nn.Module):
    """dense -> activation -> LayerNorm -> decoder tied to the word embeddings (+ own bias).

    Input: hidden states (B, T, H). Output: vocabulary logits (B, T, V). Loss: cross-entropy on the
    selected positions only (labels -100 elsewhere).
    """

    def __init__(self, bert: BertModel):
        super().__init__()
        c = bert.config
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.act = ACTIVATIONS[c.hidden_act]
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.word_embeddings = bert.embeddings.word_embeddings  # tied: the same Parameter
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.LayerNorm(self.act(self.dense(hidden)))
        return h @ self.word_embeddings.weight.T + self.bias  # (B, T, V)

    @staticmethod
    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)


class MLMModel(nn.Module):
    """Encoder + MLM head, for the further-pretraining stage (computes logits only where labelled)."""

    def __init__(self, bert: BertModel):
        super().__init__()
        self.bert = bert
        self.head = MLMHead(bert)

    def forward(self, input_ids, attention_mask, labels) -> torch.Tensor:
        h = self.bert(input_ids, attention_mask).last_hidden_state  # (B, T, H)
        sel = labels != IGNORE
        return MLMHead.loss(self.head(h[sel][None]), labels[sel][None])  # only selected positions


def run_mlm_stage(bert, tok, train: dict, device, *, epochs: int, lr: float, weight_decay: float, prob: float,
                  batch_size: int, max_length: int, grad_clip: float, seed: int, quiet: bool) -> list[dict]:
    """MLM on the sentences of `train` (task -> examples) for `epochs`, batch_size per process and step, masking
    `prob` of the tokens. Returns the loss curve: one point per 20 steps, {"step", "epoch", "loss"}."""
    sentences = sorted({s for t, ex in train.items() for s in texts_of(t, ex)})
    lengths = tok.token_lengths(sentences)
    mlm = dist.wrap(MLMModel(bert).to(device), device)
    opt = AdamW(mlm.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    curve, window, step, t0 = [], [], 0, time.time()
    dist.print0(f"MLM: {len(sentences):,} training sentences, {epochs} epochs")
    for epoch in range(epochs):
        epoch_losses = []
        batches = bucket_batches(lengths, batch_size * dist.world_size(), True, seed=seed + epoch)
        for idx in tqdm(batches, desc=f"MLM {epoch + 1}/{epochs}", disable=not dist.is_main() or quiet):
            enc = tok([sentences[i] for i in idx[dist.rank()::dist.world_size()]], max_length=max_length)
            ids, labels = mask_tokens(enc.input_ids, enc.attention_mask, tok.special_ids, tok.mask_id,
                                      tok.vocab_size, prob, g)
            loss = mlm(ids.to(device), enc.attention_mask.to(device), labels.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), grad_clip or 1e9)
            opt.step()
            window.append(loss.item())
            epoch_losses.append(window[-1])
            step += 1
            if step % 20 == 0:
                curve.append({"step": step, "epoch": epoch + 1, "loss": float(np.mean(window))})
                window = []
        dist.print0(f"MLM epoch {epoch + 1}: loss {np.mean(epoch_losses):.3f} | {(time.time() - t0) / 60:.1f} min")
    return curve
