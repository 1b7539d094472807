"""One shared encoder, a pooling choice and one head per task (minbert/tasks.py), each named by its task key."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn as nn

from minbert import legacy
from minbert.model import BertModel
from minbert.options import check_choices, option
from minbert.task_heads import PairClassifier, PairScorer, make_head
from minbert.tasks import Task, TaskSpecError, model_tasks


POOLINGS = ("mean", "cls")  # how pool() turns token vectors into a sentence embedding


@dataclass
class MultitaskConfig:
    """The model's shape beyond the encoder; the defaults are the shipped recipe's."""
    pooling: str = option("mean", "sentence embedding: mean over real tokens (how MiniLM was trained) or cls (the "
                          "report)", choices=POOLINGS)
    sst_dropout: float = option(0.3, "dropout before every sentence classifier (SST's, as in the report; the grid "
                                "search's second axis)")
    para_head: str = option("features", "yes/no pair head: cosine (the report), features ([u,v,|u-v|,u*v] + cosine) "
                            "or cross (the pair encoded jointly)", choices=PairClassifier.KINDS)
    sts_loss: str = option("cosent", "pair-score loss: cosine_embedding (the report), mse or cosent",
                           choices=PairScorer.LOSSES)
    sts_discrete: bool = option(False, "round pair scores to whole numbers (the report's negative experiment)")
    sst_layers: int = option(1, "give the own_layers task (sentiment) its own copy of the top N encoder layers, "
                             "trained by it alone, so its gradients stop reaching the layers the pair tasks' "
                             "embeddings come from (0: all shared; one gave STS +0.007 for 3.5 MB of fp16 weights)")

    def __post_init__(self):
        check_choices(self)
        if self.sst_layers < 0:
            raise ValueError(f"sst_layers must be 0 (all shared) or a number of layers, got {self.sst_layers}")

    @classmethod
    def from_dict(cls, d: dict) -> "MultitaskConfig":
        """A saved model_config (a checkpoint's sidecar), as the model it was built as."""
        return cls(**legacy.saved_model_config(d, [f.name for f in dataclasses.fields(cls)]))


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """(B, T, H) -> (B, H): [CLS] vector, or the mean of the real (non-padding) tokens."""
    if how == "cls":
        return hidden[:, 0]
    m = attention_mask[..., None].to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class MultitaskModel(nn.Module):
    RESERVED = ("bert", "sst_encoder", "config", "tasks")  # attribute names no task key may take

    def __init__(self, bert: BertModel, config: MultitaskConfig, tasks=None):
        super().__init__()
        self.config = config
        self.bert = bert
        self.tasks: dict[str, Task] = {t.key: t for t in model_tasks(tasks or ())}  # built-ins first: their heads
        H = bert.config.hidden_size  # are made (and draw their init) in the same order as before added tasks
        for t in self.tasks.values():
            if t.key in self.RESERVED:
                raise TaskSpecError(f"task key {t.key!r} is reserved; choose another")
            self.add_module(t.key, make_head(t, H, config))  # HF-style names: "sst.classifier.weight"
        owners = [t.key for t in self.tasks.values() if t.own_layers]
        self.own_layers_task = owners[0] if owners else None  # the task sst_encoder's layers serve
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
        sst_layers of them replaced by the own_layers task's (sentiment's) own copies for that task."""
        shared = list(self.bert.encoder.layer)
        if task is None or task != self.own_layers_task or self.sst_encoder is None:
            return shared
        return shared[:len(shared) - len(self.sst_encoder)] + list(self.sst_encoder)

    def joint_input(self, task: str) -> bool:
        """True where a task's batches encode the two sentences together (a cross-encoder pair head)."""
        return getattr(self.head(task), "joint", None) is not None

    def head(self, task: str) -> nn.Module:
        if task not in self.tasks:
            raise KeyError(f"this model has no task {task!r} (it has {', '.join(self.tasks)})")
        return getattr(self, task)

    def embed(self, input_ids, attention_mask, token_type_ids=None, inputs_embeds=None, head_mask=None,
              task: str | None = None) -> torch.Tensor:
        """Sentence embeddings (B, H) for a task: "sst" takes sentiment's private top layers where it has them;
        any other task (or None) the shared encoder that the pair tasks, the embedding map and attention use."""
        h = self.bert(input_ids, attention_mask, token_type_ids, inputs_embeds=inputs_embeds, head_mask=head_mask,
                      layers=self.layers(task)).last_hidden_state  # (B, T, H)
        return pool(h, attention_mask, self.config.pooling)  # (B, H)

    def forward(self, batches: list[tuple[str, dict[str, torch.Tensor]]]) -> list[dict[str, torch.Tensor]]:
        """All batches of one training step in one call, so DistributedDataParallel sees one forward."""
        return [self.run_task(task, **inputs) for task, inputs in batches]

    def run_task(self, task: str, input_ids, attention_mask, token_type_ids=None) -> dict[str, torch.Tensor]:
        """Single-sentence tasks and joint pairs take B rows; other pair tasks 2B rows: sentences 1 then 2."""
        emb = self.embed(input_ids, attention_mask, token_type_ids, task=task)
        head = self.head(task)
        if not self.tasks[task].pair:
            return head(emb)
        if self.joint_input(task):
            return head.forward_joint(emb)
        u, v = emb.chunk(2)  # (B, H) each: both sentences went through the encoder in one pass
        return head(u, v)
