"""The BERT encoder, written out. Parameter names follow the Hugging Face checkpoint layout."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from minbert.config import BertConfig

ACTIVATIONS = {
    "gelu": F.gelu,  # exact erf form
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


@dataclass
class EncoderOutput:
    last_hidden_state: torch.Tensor  # (B, T, H)
    pooler_output: torch.Tensor  # (B, H): tanh(dense([CLS]))
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (B, heads, T, T)


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        T = input_ids.shape[1]
        positions = torch.arange(T, device=input_ids.device)  # (T,) broadcast over the batch
        words = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, H)
        x = words + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.n_heads, self.head_size = config.num_attention_heads, config.head_size
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob
        self.dropout = nn.Dropout(self.dropout_p)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.head_size).transpose(1, 2)  # (B, heads, T, d)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor, output_attentions: bool,
                head_mask: torch.Tensor | None = None):
        """head_mask (heads,): 1 keeps a head, 0 removes it (its context vectors become zero)."""
        q, k, v = (self.split_heads(f(x)) for f in (self.query, self.key, self.value))
        probs = None
        if output_attentions:  # explicit path: the probabilities are a result in their own right
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + mask_bias  # (B, heads, T, T)
            probs = scores.softmax(dim=-1)
            ctx = self.dropout(probs) @ v  # (B, heads, T, d)
        else:  # fused kernel, same maths
            p = self.dropout_p if self.training else 0.0
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_bias, dropout_p=p)
        if head_mask is not None:  # as Hugging Face: the probabilities, hence the context, times the mask
            ctx = ctx * head_mask.to(ctx.dtype)[None, :, None, None]
            probs = None if probs is None else probs * head_mask.to(probs.dtype)[None, :, None, None]
        B, _, T, _ = ctx.shape
        return ctx.transpose(1, 2).reshape(B, T, -1), probs  # (B, T, H)


class BertAddNorm(nn.Module):
    """Projection back to hidden size, dropout, residual add, LayerNorm: ends both sub-layers of a layer."""

    def __init__(self, in_size: int, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)  # (B, T, H)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertAddNorm(config.hidden_size, config)

    def forward(self, x, mask_bias, output_attentions, head_mask=None):
        h, probs = self.self(x, mask_bias, output_attentions, head_mask)
        return self.output(h, x), probs


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(x))  # (B, T, 4H)


class BertLayer(nn.Module):
    """attention -> add & norm -> GELU feed-forward -> add & norm (post-LN, as in BERT)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertAddNorm(config.intermediate_size, config)  # HF calls it `output`

    def forward(self, x, mask_bias, output_attentions, head_mask=None):
        a, probs = self.attention(x, mask_bias, output_attentions, head_mask)
        return self.output(self.intermediate(a), a), probs


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(h[:, 0]))  # (B, H) from [CLS]


def attention_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) 1/0 mask -> (B, 1, 1, T) additive bias: 0 on real tokens, the dtype's minimum on padding."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class BertModel(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config)
        self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=self.config.initializer_range)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            nn.init.zeros_(m.weight[m.padding_idx])

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> "BertModel":
        """Load an HF-format BERT directory; None means the bundled all-MiniLM-L6-v2."""
        from minbert.pretrained import load_encoder_weights, resolve_model_dir
        model_dir = resolve_model_dir(path)
        model = cls(BertConfig.from_json(model_dir / "config.json"))
        load_encoder_weights(model, model_dir)
        return model.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, output_attentions: bool = False,
                inputs_embeds: torch.Tensor | None = None, head_mask: torch.Tensor | None = None,
                layers: Sequence[nn.Module] | None = None) -> EncoderOutput:
        """inputs_embeds (B, T, H), if given, replaces the word-embedding lookup (for attribution methods).
        head_mask (layers, heads), if given: 1 keeps a head, 0 removes it (Michel et al., 2019).
        layers, if given, are run instead of this encoder's own, bottom to top: a task's stack in which some
        top layers are that task's private copies (MultitaskModel.layers)."""
        layers = self.encoder.layer if layers is None else layers
        if head_mask is not None and tuple(head_mask.shape) != (len(layers), self.config.num_attention_heads):
            raise ValueError(f"head_mask must have shape (layers, heads) = ({len(layers)}, "
                             f"{self.config.num_attention_heads}), got {tuple(head_mask.shape)}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids, inputs_embeds)  # (B, T, H)
        dtype = x.dtype
        mask_bias = attention_bias(attention_mask, dtype)  # (B, 1, 1, T)
        attentions = []
        for i, layer in enumerate(layers):
            x, probs = layer(x, mask_bias, output_attentions, None if head_mask is None else head_mask[i])
            attentions.append(probs)
        return EncoderOutput(x, self.pooler(x), tuple(attentions) if output_attentions else None)
