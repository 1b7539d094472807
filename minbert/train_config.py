"""The training recipe as one dataclass, and the argparse CLI that builds it (flags override --config)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .lr_schedule import SCHEDULES
from .multitask import TASKS, MultitaskConfig
from .sampling import SCHEMES


# Fields added after runs had been saved, at the value that trains as runs did before the field existed: a saved
# config without one of them was trained with this value (not with today's default).
ADDED_OFF = {"sst_phrases": 0, "layer_decay": 1.0, "ema": 0.0, "sst_ordinal": 0.0, "sst_samples": 1,
             "sst_rdrop": 0.0, "para_val": 0, "para_hard": 0, "sst_layers": 0, "sst_shared_grad": 1.0,
             "freeze_embeddings": False, "para_hard_margin": 0.95}  # the margin is inert without --para-hard
# Fields that say how a run was launched, not what it trains: two runs differing only in these train the same model.
PER_RUN = ("out_dir", "command", "threads", "quiet", "resume")  # threads: speed only; quiet: no progress bars


@dataclass
class TrainConfig:
    """The default recipe (`python -m minbert.train` with no flags) is the shipped model's; see HELP."""
    data_dir: str | None = None  # None: $MINBERT_DATA, ./data, ../shared/data
    base_model: str | None = None  # None: bundled all-MiniLM-L6-v2
    out_dir: str = "runs/default"
    tasks: tuple[str, ...] = TASKS
    epochs: int = 4
    batch_size: int = 32
    lr: float = 5e-5
    layer_decay: float = 1.0
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema: float = 0.999  # evaluate and export the weights' moving average (~1,000 steps): SST steadier across epochs
    max_length: int = 128
    schedule: str = "linear"
    gamma: float = 0.96
    warmup_ratio: float = 0.1
    sampling: str = "annealed"
    sst_weight: float = 1.0
    para_weight: float = 1.0
    sts_weight: float = 1.0
    class_balance: bool = False
    para_max: int = 10000  # Quora pairs per epoch (0: all 13,174); more of them cost SST at full budget (README)
    para_val: int = 1000  # pairs held out to fit the decision threshold (Quora +0.013 at full budget; README)
    para_hard: int = 0  # mined hard-negative Quora pairs per epoch; 3000 cost Quora 0.020 at full budget (README)
    para_hard_margin: float = 0.95  # a mined negative stays below this times the anchor's known duplicate's cosine
    sst_phrases: int = 40000  # treebank phrases per epoch: the one lever beyond the seed spread (README)
    sst_phrase_min_words: int = 2
    pooling: str = "mean"
    sst_dropout: float = 0.3
    sst_ordinal: float = 0.0
    sst_samples: int = 1
    sst_rdrop: float = 0.0
    para_head: str = "features"
    mnrl_weight: float = 0.0
    sts_loss: str = "cosent"
    sts_discrete: bool = False
    sst_shared_grad: float = 1.0  # factor on sentiment's gradient into the shared layers (1: off)
    sst_layers: int = 1  # top layers sentiment gets its own copy of (0: all shared); one: STS +0.007, +3.5 MB fp16
    mlm_epochs: int = 0  # MLM epochs before stage 2; 4 cost STS 0.016 at full budget (README)
    mlm_lr: float = 5e-5
    mlm_prob: float = 0.15
    seed: int = 11711
    threads: int = 2
    device: str = "auto"
    precision: str = "auto"
    limit: int = 0
    train_limit: int = 0
    dev_limit: int = 0
    freeze_encoder: bool = False
    freeze_embeddings: bool = False  # keep the word-embedding table at its pretrained values
    train_eval_size: int = 600
    save_every: int = 200
    max_steps: int = 0
    resume: bool = False
    quiet: bool = False
    command: str = field(default="", repr=False)

    def autocast_dtype(self, device_type: str):
        """torch.bfloat16 where the training forward runs under autocast, else None."""
        import torch
        bf16 = self.precision == "bf16" or (self.precision == "auto" and device_type == "cuda")
        return torch.bfloat16 if bf16 else None

    def task_weight(self, task: str) -> float:
        return {"sst": self.sst_weight, "para": self.para_weight, "sts": self.sts_weight}[task]

    def model_config(self) -> MultitaskConfig:
        names = {f.name for f in dataclasses.fields(MultitaskConfig)}
        return MultitaskConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


HELP = {
    "data_dir": "task data folder (default: $MINBERT_DATA, then ./data, then ../shared/data)",
    "base_model": "HF-format BERT directory to start from (default: bundled all-MiniLM-L6-v2)",
    "out_dir": "run folder for config, log, resume state and checkpoints",
    "tasks": "tasks to train, comma-separated subset of sst,para,sts",
    "epochs": "multitask fine-tuning epochs",
    "batch_size": "examples (sentences or pairs) per task batch, summed over processes",
    "lr": "peak learning rate of the encoder in stage 2",
    "layer_decay": "layer-wise LR decay: each encoder layer below the top trains at this times the LR of the "
                   "one above, embeddings lowest (1: one LR for the whole encoder)",
    "head_lr": "peak learning rate of the task heads (new weights learn faster than the pretrained encoder)",
    "weight_decay": "AdamW decoupled weight decay",
    "ema": "evaluate and export an exponential moving average of the weights with this decay per step "
           "(e.g. 0.999; 0: the live weights)",
    "grad_clip": "clip the global gradient norm to this (0: off)",
    "max_length": "truncate inputs to this many tokens (at most 512)",
    "schedule": f"learning-rate schedule: {', '.join(SCHEDULES)}",
    "gamma": "per-epoch decay factor of the exponential schedule (the report: 0.96)",
    "warmup_ratio": "fraction of steps spent warming up (linear schedule)",
    "sampling": f"multitask sampling: {', '.join(SCHEMES)}",
    "sst_weight": "loss weight of the sentiment task",
    "para_weight": "loss weight of the paraphrase task",
    "sts_weight": "loss weight of the similarity task",
    "class_balance": "weight SST classes by inverse frequency and Quora positives by the neg/pos ratio",
    "para_max": "down-sample Quora training pairs to this many per epoch (0: all)",
    "para_val": "hold this many Quora training pairs out of training and fit the paraphrase decision threshold "
                "on them after every epoch, at most a tenth of the pairs (0: decide at logit 0)",
    "para_hard": "add this many mined hard-negative Quora pairs to each epoch's paraphrase data, freshly sampled "
                 "per epoch: for each question of a duplicate training pair, the nearest training question (by the "
                 "starting model's cosine) that is not a known duplicate of it (0: off)",
    "para_hard_margin": "a mined negative's cosine to its anchor must stay below this times the cosine of the "
                        "anchor's known duplicate (fewer unlabelled duplicates mined as negatives)",
    "sst_phrases": "add this many labelled SST treebank phrases (sst-train-trees.txt, train split only) to each "
                   "epoch's sentiment data, freshly sampled per epoch (0: whole sentences only)",
    "sst_phrase_min_words": "shortest phrase, in words, that --sst-phrases samples",
    "pooling": "sentence embedding: mean (over real tokens) or cls",
    "sst_dropout": "dropout before the sentiment classifier",
    "sst_ordinal": "ordinal-aware SST loss: width in classes of Gaussian soft labels around the gold class "
                   "(e.g. 0.5; 0: one-hot cross-entropy)",
    "sst_samples": "multi-sample dropout: average the SST loss over this many dropout masks of the head (1: off)",
    "sst_rdrop": "R-Drop: weight of the symmetric KL between two dropout passes of each SST batch (0: off; "
                 "doubles the SST encoder cost)",
    "para_head": "paraphrase head: cosine (the report), features ([u,v,|u-v|,u*v] + cosine) or cross (joint)",
    "mnrl_weight": "weight of Multiple Negatives Ranking Loss on Quora positives (0: off)",
    "sts_loss": "similarity loss: cosine_embedding (the report), mse or cosent",
    "sts_discrete": "round STS predictions to whole classes (the report's negative experiment)",
    "sst_layers": "give the sentiment task its own copy of the top N encoder layers, trained by it alone, so its "
                  "gradients stop reaching the layers the pair tasks' embeddings come from (0: all layers shared)",
    "sst_shared_grad": "multiply the sentiment loss's gradient by this factor where it enters the shared encoder "
                       "layers (below its own --sst-layers copies; at its pooled embedding with none), in training "
                       "only; the pair tasks' gradients and sentiment's head and own layers are untouched (1: off)",
    "mlm_epochs": "epochs of MLM further pretraining on the training sentences before stage 2 (0: skip)",
    "mlm_lr": "learning rate of the MLM stage",
    "mlm_prob": "fraction of real tokens selected for MLM",
    "seed": "random seed (data order, dropout, masking)",
    "threads": "torch intra-op threads per process",
    "device": "auto (cuda if available, else cpu), cpu or cuda",
    "precision": "auto (bf16 autocast on cuda, fp32 on cpu), fp32 or bf16 (autocast for the training forward pass)",
    "limit": "use only the first N examples of every split (0: all); for smoke tests",
    "train_limit": "use a fixed random sample of N training examples per task (0: all); for short budgets",
    "dev_limit": "score only a fixed random sample of N dev examples per task (0: all); for short budgets",
    "freeze_encoder": "train the heads only, on a frozen encoder (the ablation's frozen-base row)",
    "freeze_embeddings": "keep the word-embedding table (30,522 x 384, half the encoder) at its pretrained values: "
                         "rows of words a batch lacks are otherwise still moved by AdamW's momentum; level with the "
                         "default on every task over three seeds, with about 12%% less training time (README)",
    "train_eval_size": "training examples per task scored each epoch for the train-vs-dev plot",
    "save_every": "save resumable state every N steps (0: only at epoch ends)",
    "max_steps": "stop after N steps in total, leaving resumable state (0: no limit)",
    "resume": "continue from the state in --out-dir",
    "quiet": "no progress bars",
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m minbert.train", description=__doc__)
    ap.add_argument("--config", default=None, help="JSON or YAML file of defaults; flags override it")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "command":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            ap.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=HELP[f.name])
        elif f.name == "tasks":
            ap.add_argument(flag, default=",".join(f.default), help=HELP[f.name])
        else:
            kind = {"int": int, "float": float}.get(f.type, str)
            ap.add_argument(flag, type=kind, default=f.default, help=HELP[f.name])
    return ap


def read_config_file(path: str) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix in (".yaml", ".yml"):
            import yaml
            d = yaml.safe_load(text)
        else:
            d = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse failure becomes a clear CLI error
        raise SystemExit(f"error: cannot read --config {path}: {e}")
    if not isinstance(d, dict):
        raise SystemExit(f"error: --config {path} must hold a mapping of option: value")
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"command"}
    d = {k.replace("-", "_"): v for k, v in d.items()}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SystemExit(f"error: --config {path}: unknown option(s) {unknown}")
    if isinstance(d.get("tasks"), list):
        d["tasks"] = ",".join(d["tasks"])
    return d


def parse_args(argv: list[str]) -> TrainConfig:
    ap = build_parser()
    pre, _ = ap.parse_known_args(argv)
    if pre.config:
        ap.set_defaults(**read_config_file(pre.config))
    a = vars(ap.parse_args(argv))
    a.pop("config")
    tasks = tuple(t.strip() for t in str(a["tasks"]).split(",") if t.strip())
    if not tasks or set(tasks) - set(TASKS):
        ap.error(f"--tasks must be a comma-separated subset of {','.join(TASKS)}")
    a["tasks"] = tasks
    choices = {"schedule": SCHEDULES, "sampling": SCHEMES, "pooling": ("mean", "cls"),
               "para_head": ("cosine", "features", "cross"), "sts_loss": ("cosine_embedding", "mse", "cosent"),
               "device": ("auto", "cpu", "cuda"), "precision": ("auto", "fp32", "bf16")}
    for k, allowed in choices.items():
        if a[k] not in allowed:
            ap.error(f"--{k.replace('_', '-')} must be one of {', '.join(allowed)}, got {a[k]!r}")
    if not 2 < a["max_length"] <= 512:
        ap.error("--max-length must be in 3..512")
    if a["epochs"] < 1 or a["batch_size"] < 1 or a["sst_samples"] < 1:
        ap.error("--epochs, --batch-size and --sst-samples must be positive")
    if a["sst_layers"] < 0:
        ap.error("--sst-layers must be 0 (all shared) or a number of top layers")
    if not 0 <= a["sst_shared_grad"] <= 1:
        ap.error("--sst-shared-grad must be within [0, 1] (1: off; 0: sentiment trains only its own layers and head)")
    if a["para_val"] < 0:
        ap.error("--para-val must be 0 (off) or a number of pairs")
    if a["sst_rdrop"] < 0:
        ap.error("--sst-rdrop must be 0 (off) or a positive weight")
    return TrainConfig(**a, command=shlex.join(["python", "-m", "minbert.train", *argv]))
