"""One shared encoder, a pooling choice and three task heads."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn

from .heads import ParaphraseHead, SentimentHead, SimilarityHead
from .model import BertModel

TASKS = ("sst", "para", "sts")


@dataclass
class MultitaskConfig:
    pooling: str = "mean"  # "mean" over real tokens (how MiniLM was trained) or "cls" (the report)
    sst_dropout: float = 0.3  # dropout before the sentiment classifier, as in the report
    sst_ordinal: float = 0.0  # width (in classes) of Gaussian soft SST labels; 0: one-hot cross-entropy
    sst_samples: int = 1  # dropout masks per SST batch in the head (multi-sample dropout); 1: off
    sst_rdrop: float = 0.0  # weight of R-Drop's symmetric KL between two passes of each SST batch; 0: off
    para_head: str = "cosine"  # "cosine" (the report), "features" ([u,v,|u-v|,u*v] + cosine) or "cross" (joint)
    mnrl_weight: float = 0.0  # weight of Multiple Negatives Ranking Loss on paraphrase positives
    sts_loss: str = "cosent"  # "cosine_embedding" (the report), "mse" or "cosent"
    sts_discrete: bool = False  # round STS scores to whole classes (the report's negative experiment)
    sst_layers: int = 0  # top encoder layers sentiment runs through its own copies of (0: all shared)
    sst_shared_grad: float = 1.0  # factor on sentiment's gradient into the shared layers in training; 1: off

    def __post_init__(self):
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if self.sst_layers < 0:
            raise ValueError(f"sst_layers must be 0 (all shared) or a number of layers, got {self.sst_layers}")
        if not 0.0 <= self.sst_shared_grad <= 1.0:
            raise ValueError(f"sst_shared_grad must be within [0, 1], got {self.sst_shared_grad}")

    @classmethod
    def from_dict(cls, d: dict) -> "MultitaskConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """(B, T, H) -> (B, H): [CLS] vector, or the mean of the real (non-padding) tokens."""
    if how == "cls":
        return hidden[:, 0]
    m = attention_mask[..., None].to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times `scale` backward (a gradient-reversal layer's kin, Ganin & Lempitsky)."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    return x if scale == 1.0 else _ScaleGrad.apply(x, scale)


class MultitaskModel(nn.Module):
    def __init__(self, bert: BertModel, config: MultitaskConfig):
        super().__init__()
        self.config = config
        self.bert = bert
        H = bert.config.hidden_size
        self.sst = SentimentHead(H, config.sst_dropout, config.sst_ordinal, config.sst_samples, config.sst_rdrop)
        self.para = ParaphraseHead(H, config.para_head, config.mnrl_weight)
        self.sts = SimilarityHead(config.sts_loss, discrete=config.sts_discrete)
        L = len(bert.encoder.layer)
        if config.sst_layers > L:
            raise ValueError(f"sst_layers is {config.sst_layers}, but the encoder has only {L} layers")
        # sentiment's private copies of the top layers, starting from the shared ones; the pair tasks keep those
        self.sst_encoder = nn.ModuleList(copy.deepcopy(bert.encoder.layer[L - config.sst_layers:])) \
            if config.sst_layers else None

    @torch.no_grad()
    def reset_sst_layers(self) -> None:
        """Make sentiment's private layers copies of the shared top layers again (after MLM has moved those)."""
        if self.sst_encoder is not None:
            for mine, shared in zip(self.sst_encoder, self.layers()[-len(self.sst_encoder):]):
                mine.load_state_dict(shared.state_dict())

    def layers(self, task: str | None = None) -> list[nn.Module]:
        """The encoder layers a task's sentences run through, bottom to top: the shared ones, with the top
        sst_layers of them replaced by sentiment's own copies for task "sst"."""
        shared = list(self.bert.encoder.layer)
        if task != "sst" or self.sst_encoder is None:
            return shared
        return shared[:len(shared) - len(self.sst_encoder)] + list(self.sst_encoder)

    def joint_input(self, task: str) -> bool:
        """True where a task's training batches encode the two sentences together."""
        return task == "para" and self.config.para_head == "cross"

    def head(self, task: str) -> nn.Module:
        return {"sst": self.sst, "para": self.para, "sts": self.sts}[task]

    def embed(self, input_ids, attention_mask, token_type_ids=None, inputs_embeds=None, head_mask=None,
              task: str | None = None) -> torch.Tensor:
        """Sentence embeddings (B, H) for a task: "sst" takes sentiment's private top layers where it has them;
        any other task (or None) the shared encoder that the pair tasks, the embedding map and attention use."""
        layers, scale = self.layers(task), self.config.sst_shared_grad
        damp = task == "sst" and self.training and scale != 1.0  # --sst-shared-grad
        private = len(self.sst_encoder) if self.sst_encoder is not None else 0
        if damp and private:  # the first private layer's input is the shared stack's output
            k = len(layers) - private
            first = layers[k]
            layers = [*layers[:k], lambda x, *rest: first(scale_grad(x, scale), *rest), *layers[k + 1:]]
        h = self.bert(input_ids, attention_mask, token_type_ids, inputs_embeds=inputs_embeds, head_mask=head_mask,
                      layers=layers).last_hidden_state
        emb = pool(h, attention_mask, self.config.pooling)  # (B, H)
        return scale_grad(emb, scale) if damp and not private else emb  # all shared: damp at the head's input

    def forward(self, batches: list[tuple[str, dict[str, torch.Tensor]]]) -> list[dict[str, torch.Tensor]]:
        """All batches of one training step in one call, so DistributedDataParallel sees one forward."""
        return [self.run_task(task, **inputs) for task, inputs in batches]

    def run_task(self, task: str, input_ids, attention_mask, token_type_ids=None) -> dict[str, torch.Tensor]:
        """Single-sentence tasks and joint pairs take B rows; other pair tasks 2B rows: sentences 1 then 2."""
        if task == "sst" and self.training and self.config.sst_rdrop > 0:  # R-Drop: each sentence twice
            input_ids, attention_mask = input_ids.repeat(2, 1), attention_mask.repeat(2, 1)  # (2B, T)
            token_type_ids = None if token_type_ids is None else token_type_ids.repeat(2, 1)
        emb = self.embed(input_ids, attention_mask, token_type_ids, task=task)
        if task == "sst":
            return self.sst(emb)
        if self.joint_input(task):
            return self.para.forward_joint(emb)
        u, v = emb.chunk(2)  # (B, H) each: both sentences went through the encoder in one pass
        return self.head(task)(u, v)
