"""Masked-language-model further pretraining: BERT's 15% / 80-10-10 masking and a tied MLM head."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from minbert.model import ACTIVATIONS, BertModel

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
