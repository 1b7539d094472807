"""Task heads, one per task kind (minbert/tasks.py). Each head owns its loss and turns its raw output into the
predictions every caller reads (`predictions`); all take sentence embeddings from the encoder."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

class SentenceClassifier(nn.Module):
    """One sentence -> one of C classes (kind sentence_classes: SST-5, CFIMDB): embedding -> dropout -> linear.

    Input: sentence embeddings (B, H). Output: logits (B, C).
    Labels: int64 class ids in 0..C-1. Loss: cross-entropy.
    """
    label_dtype = torch.long

    def __init__(self, hidden_size: int, num_classes: int, dropout: float = 0.3):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        # all ones since class balancing retired (it cost SST 0.023); kept so checkpoints keep their tensors
        self.register_buffer("class_weights", torch.ones(num_classes))

    def forward(self, emb: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.classifier(self.dropout(emb))}  # (B, C)

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out["logits"], labels, weight=self.class_weights)

    @staticmethod
    def predictions(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """logits, probs (B, C) at temperature 1, pred (B,)."""
        probs = out["logits"].softmax(-1)
        return {"logits": out["logits"], "probs": probs, "pred": probs.argmax(-1)}


class PairClassifier(nn.Module):
    """Two sentences -> yes/no (kind pair_classes: Quora paraphrase), from their embeddings u, v (B, H) each.

    kind="cosine" (the report): logit = scale * cos(u, v) + bias, with learned scale and bias.
    kind="features": logit = linear([u, v, |u - v|, u * v]) + scale * cos(u, v) + bias, with the u and v
        blocks of the linear weight used as their mean: the logit of (s1, s2) is the logit of (s2, s1).
    kind="cross": the pair is encoded together ([CLS] s1 [SEP] s2 [SEP]); logit = linear(joint embedding),
        from forward_joint(), the one kind whose answer can depend on the sentence order. forward(u, v) still
        gives the cosine of the separate embeddings.
    Output: cosine in [-1, 1] (B,), logit (B,); probability = sigmoid(logit).
    Labels: float 0/1 (1 = duplicate). Loss: binary cross-entropy with logits.
    Decision threshold: in eval mode the logit is shifted by the `threshold` buffer (0 unless training fit it
    on held-out training pairs, --para-val), so logit > 0 and probability > 0.5 stay the decision everywhere.
    """

    KINDS = ("cosine", "features", "cross")
    label_dtype = torch.float

    def __init__(self, hidden_size: int, kind: str = "cosine"):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown paraphrase head {kind!r} (choose from {self.KINDS})")
        self.kind = kind
        self.scale = nn.Parameter(torch.tensor(10.0))  # cosines live in a narrow band: start steep
        self.bias = nn.Parameter(torch.tensor(-7.0))  # threshold near cos 0.7 before training
        self.features = nn.Linear(4 * hidden_size, 1) if kind == "features" else None
        if self.features is not None:
            nn.init.zeros_(self.features.weight)  # starts as the pure cosine head
            nn.init.zeros_(self.features.bias)
        self.joint = nn.Linear(hidden_size, 1) if kind == "cross" else None
        self.register_buffer("pos_weight", torch.tensor(1.0))  # 1 since class balancing retired; kept in checkpoints
        self.register_buffer("threshold", torch.tensor(0.0))  # eval-only decision shift (older checkpoints: 0)

    def decide(self, logit: torch.Tensor) -> torch.Tensor:
        """The training logit as it is; the served one shifted by the fitted decision threshold."""
        return logit if self.training else logit - self.threshold

    def forward_joint(self, joint: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-encoder logit from the embedding of the jointly encoded pair (B, H)."""
        return {"logit": self.decide(self.joint(joint).squeeze(-1))}

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
        cos = F.cosine_similarity(u, v, dim=-1)  # (B,)
        logit = self.scale * cos + self.bias
        if self.features is not None:
            logit = logit + self.pair_features(u, v)
        return {"cosine": cos, "logit": self.decide(logit), "u": u, "v": v}

    def pair_features(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """linear([u, v, |u - v|, u * v]) made symmetric: equal to the mean over both sentence orders, so
        swapping the sentences never changes the answer. Keeps the (1, 4H) weight that checkpoints store."""
        H = u.shape[-1]
        w = self.features.weight  # (1, 4H): blocks u, v, |u - v|, u * v
        tied = torch.cat([(w[:, :H] + w[:, H:2 * H]) / 2, w[:, 2 * H:]], dim=-1)  # (1, 3H)
        return F.linear(torch.cat([u + v, (u - v).abs(), u * v], dim=-1), tied, self.features.bias).squeeze(-1)  # (B,)

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(out["logit"], labels.float(), pos_weight=self.pos_weight)

    @staticmethod
    def predictions(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """cosine (absent for a joint encoding), logit, prob, pred (B,): the decision is prob > 0.5, logit > 0."""
        prob = out["logit"].sigmoid()
        return {**({"cosine": out["cosine"]} if "cosine" in out else {}), "logit": out["logit"], "prob": prob,
                "pred": (prob > 0.5).long()}


def cosent_loss(cos: torch.Tensor, labels: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """CoSENT: log(1 + sum over pairs (i, j) with label_i > label_j of exp(scale * (cos_j - cos_i))).

    Inputs: cosines (B,), gold similarities (B,). Only the order of the labels matters.
    """
    diff = (cos[None, :] - cos[:, None]) * scale  # (B, B): entry [i, j] = s(cos_j - cos_i)
    diff = diff - (labels[:, None] <= labels[None, :]).float() * 1e12  # keep pairs with label_i > label_j
    return torch.logsumexp(torch.cat([torch.zeros(1, device=cos.device), diff.flatten()]), dim=0)


class PairScorer(nn.Module):
    """Two sentences -> a score in [low, high] (kind pair_score: STS-B, 0..5), from embeddings u, v (B, H) each.

    Output: cosine in [-1, 1] (B,) and score = clamp(a * cos + b, low, high), where a, b are fitted by least
    squares on the training pairs after training (calibrate()); with discrete=True the score is rounded to a
    whole number, as in the report's negative experiment.
    Labels: float scores in [low, high]. Losses:
      "cosine_embedding" (the report): 1 - cos for pairs at or above the middle of the range, max(0, cos - margin)
        otherwise;
      "mse": (cos - (label - low) / (high - low))^2;
      "cosent": the CoSENT ranking loss on the cosines.
    """

    LOSSES = ("cosine_embedding", "mse", "cosent")
    label_dtype = torch.float

    def __init__(self, loss: str = "cosent", margin: float = 0.0, discrete: bool = False,
                 score_range: tuple[float, float] = (0.0, 5.0)):
        super().__init__()
        self.discrete = discrete  # the report's negative experiment: round the score to a whole number
        if loss not in self.LOSSES:
            raise ValueError(f"unknown similarity loss {loss!r} (choose from {self.LOSSES})")
        self.loss_name, self.margin = loss, margin
        self.low, self.high = float(score_range[0]), float(score_range[1])
        self.register_buffer("calibration", torch.tensor([self.high - self.low, self.low]))  # score = a * cos + b

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
        cos = F.cosine_similarity(u, v, dim=-1)  # (B,)
        a, b = self.calibration
        score = (a * cos + b).clamp(self.low, self.high)
        return {"cosine": cos, "score": score.round() if self.discrete else score}

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        cos, labels = out["cosine"], labels.float()
        if self.loss_name == "mse":
            return F.mse_loss(cos, (labels - self.low) / (self.high - self.low))
        if self.loss_name == "cosent":
            return cosent_loss(cos, labels)
        similar = labels >= (self.low + self.high) / 2
        return torch.where(similar, 1 - cos, (cos - self.margin).clamp(min=0)).mean()

    @staticmethod
    def predictions(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"cosine": out["cosine"], "score": out["score"]}

    @torch.no_grad()
    def calibrate(self, cos: torch.Tensor, labels: torch.Tensor) -> None:
        """Least-squares fit of labels ~ a * cos + b on training pairs."""
        X = torch.stack([cos, torch.ones_like(cos)], dim=1).double()
        sol = torch.linalg.lstsq(X, labels.double()[:, None]).solution.squeeze(1)
        self.calibration.copy_(sol.float())


def make_head(task, hidden_size: int, config) -> nn.Module:
    """The head of a task's kind, shaped by the task (classes, score range) and the model config (dropout, pair head,
    score loss)."""
    if task.kind == "sentence_classes":
        return SentenceClassifier(hidden_size, task.num_classes, config.sst_dropout)
    if task.kind == "pair_classes":
        return PairClassifier(hidden_size, config.para_head)
    return PairScorer(config.sts_loss, discrete=config.sts_discrete, score_range=task.score_range)
