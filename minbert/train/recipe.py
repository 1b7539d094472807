"""The training recipe as one dataclass, and the argparse CLI that builds it (flags override --config)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from minbert.train.lr_schedule import SCHEDULES
from minbert.multitask import MultitaskConfig
from minbert.tasks import TASK_KEYS, TaskSpecError, resolve
from minbert.train.sampling import SCHEMES


# Fields added after runs had been saved, at the value that trains as runs did before the field existed: a saved
# config without one of them was trained with this value (not with today's default).
ADDED_OFF = {"sst_phrases": 0, "ema": 0.0, "para_val": 0, "sst_layers": 0}
# Fields that say how a run was launched, not what it trains: two runs differing only in these train the same model.
PER_RUN = ("out_dir", "command", "threads", "quiet", "resume")  # threads: speed only; quiet: no progress bars
# Levers measured at the full recipe over seeds that did not help, removed from the code (docs/EXPERIMENTS.md has
# their results; commit 8a2619e is the last that had them). A saved config may still name them, at their off value.
RETIRED = {"layer_decay": 1.0, "sst_weight": 1.0, "para_weight": 1.0, "sts_weight": 1.0, "class_balance": False,
           "para_hard": 0, "para_hard_margin": 0.95, "sst_ordinal": 0.0, "sst_samples": 1, "sst_rdrop": 0.0,
           "mnrl_weight": 0.0, "sst_shared_grad": 1.0, "freeze_embeddings": False}
_M = MultitaskConfig()  # the model fields' defaults are the model's own: one place for them


@dataclass
class TrainConfig:
    """The default recipe (`python -m minbert.train` with no flags) is the shipped model's."""
    data_dir: str | None = None  # None: $MINBERT_DATA, ./data, then the user cache
    base_model: str | None = None  # None: bundled all-MiniLM-L6-v2
    out_dir: str = "runs/default"
    tasks: tuple[str, ...] = TASK_KEYS
    epochs: int = 4
    batch_size: int = 32  # per task batch, summed over processes
    lr: float = 5e-5  # encoder peak LR (grid search: 2e-5, 5e-5, 1e-4)
    head_lr: float = 1e-3  # new head weights learn faster than the pretrained encoder
    weight_decay: float = 0.01  # AdamW's decoupled decay
    grad_clip: float = 1.0  # global gradient-norm clip
    ema: float = 0.999  # evaluate and export the weights' moving average (~1,000 steps): SST steadier across epochs
    max_length: int = 128  # tokens; longer inputs are truncated
    schedule: str = "linear"  # linear warmup + decay; the report: exponential
    gamma: float = 0.96  # per-epoch decay of the exponential schedule (the report's)
    warmup_ratio: float = 0.1  # fraction of steps warming up (linear schedule)
    sampling: str = "annealed"  # which task each step trains: proportional to size^alpha, alpha annealed to 1
    para_max: int = 10000  # Quora pairs per epoch (0: all 13,174); more of them cost SST at full budget
    para_val: int = 1000  # pairs held out to fit the decision threshold (Quora +0.013 at full budget)
    sst_phrases: int = 40000  # treebank phrases per epoch: the one lever beyond the seed spread
    sst_phrase_min_words: int = 2  # shortest phrase --sst-phrases samples
    pooling: str = _M.pooling  # sentence embedding: mean over real tokens (the report: cls)
    sst_dropout: float = _M.sst_dropout  # before the sentiment classifier
    para_head: str = _M.para_head  # [u,v,|u-v|,u*v] + cosine (the report: cosine)
    sts_loss: str = _M.sts_loss  # the report: cosine_embedding
    sts_discrete: bool = _M.sts_discrete  # the report's negative experiment: STS rounded to whole classes
    sst_layers: int = _M.sst_layers  # sentiment's own copy of the top N layers; one: STS +0.007, +3.5 MB fp16
    mlm_epochs: int = 0  # MLM epochs before stage 2; 4 cost STS 0.016 at full budget
    mlm_lr: float = 5e-5  # learning rate of the MLM stage
    mlm_prob: float = 0.15  # fraction of real tokens MLM selects
    seed: int = 11711  # data order, dropout, masking
    threads: int = 0  # torch intra-op threads per process (0: torch's default)
    device: str = "auto"  # cuda if available, else cpu
    precision: str = "auto"  # bf16 autocast on cuda, fp32 on cpu
    limit: int = 0  # smoke tests: the first N examples of every split
    train_limit: int = 0  # short budgets: a fixed random sample of N training examples per task
    dev_limit: int = 0  # short budgets: a fixed random sample of N dev examples per task
    freeze_encoder: bool = False  # heads only (the ablation's frozen-base row)
    train_eval_size: int = 600  # training examples per task scored each epoch (overfitting gap; fits the STS map)
    save_every: int = 200  # steps between resumable saves (0: epoch ends only)
    max_steps: int = 0  # stop after N steps in total, resumable (0: no limit)
    resume: bool = False
    quiet: bool = False
    command: str = field(default="", repr=False)

    def autocast_dtype(self, device_type: str):
        """torch.bfloat16 where the training forward runs under autocast, else None."""
        import torch
        bf16 = self.precision == "bf16" or (self.precision == "auto" and device_type == "cuda")
        return torch.bfloat16 if bf16 else None

    def model_config(self) -> MultitaskConfig:
        names = {f.name for f in dataclasses.fields(MultitaskConfig)}
        return MultitaskConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


# Recipe details set in a --config file rather than on the command line (keeps --help to the recipe's levers).
CONFIG_ONLY = ("weight_decay", "grad_clip", "gamma", "warmup_ratio", "sst_phrase_min_words", "mlm_lr", "mlm_prob",
               "train_eval_size", "save_every")

HELP = {
    "data_dir": "task data folder (default: $MINBERT_DATA, then ./data, then the user cache)",
    "base_model": "HF-format BERT directory to start from (default: bundled all-MiniLM-L6-v2)",
    "out_dir": "run folder for config, log, resume state and checkpoints",
    "tasks": "tasks to train, comma-separated: built-in keys sst,para,sts and task spec files (tasks/cfimdb.yaml)",
    "epochs": "multitask fine-tuning epochs",
    "batch_size": "examples (sentences or pairs) per task batch, summed over processes",
    "lr": "peak learning rate of the encoder in stage 2",
    "head_lr": "peak learning rate of the task heads (new weights learn faster than the pretrained encoder)",
    "ema": "evaluate and export an exponential moving average of the weights with this decay per step "
           "(e.g. 0.999; 0: the live weights)",
    "max_length": "truncate inputs to this many tokens (at most 512)",
    "schedule": f"learning-rate schedule: {', '.join(SCHEDULES)}",
    "sampling": f"multitask sampling: {', '.join(SCHEMES)}",
    "para_max": "down-sample Quora training pairs to this many per epoch (0: all)",
    "para_val": "hold this many Quora training pairs out of training and fit the paraphrase decision threshold "
                "on them after every epoch, at most a tenth of the pairs (0: decide at logit 0)",
    "sst_phrases": "add this many labelled SST treebank phrases (sst-train-trees.txt, train split only) to each "
                   "epoch's sentiment data, freshly sampled per epoch (0: whole sentences only)",
    "pooling": "sentence embedding: mean (over real tokens) or cls",
    "sst_dropout": "dropout before the sentiment classifier (the grid search's second axis)",
    "sts_discrete": "round STS predictions to whole classes (the report's negative experiment)",
    "para_head": "paraphrase head: cosine (the report), features ([u,v,|u-v|,u*v] + cosine) or cross (joint)",
    "sts_loss": "similarity loss: cosine_embedding (the report), mse or cosent",
    "sst_layers": "give the sentiment task its own copy of the top N encoder layers, trained by it alone, so its "
                  "gradients stop reaching the layers the pair tasks' embeddings come from (0: all layers shared)",
    "mlm_epochs": "epochs of MLM further pretraining on the training sentences before stage 2 (0: skip)",
    "seed": "random seed (data order, dropout, masking)",
    "threads": "torch intra-op threads per process (0: torch's default, one per core)",
    "device": "auto (cuda if available, else cpu), cpu or cuda",
    "precision": "auto (bf16 autocast on cuda, fp32 on cpu: on an AMX CPU bf16 gave 1.2x at the same accuracy, "
                 "docs/RESULTS.md), fp32 or bf16 (autocast for the training forward pass)",
    "limit": "use only the first N examples of every split (0: all); for smoke tests",
    "train_limit": "use a fixed random sample of N training examples per task (0: all); for short budgets",
    "dev_limit": "score only a fixed random sample of N dev examples per task (0: all); for short budgets",
    "freeze_encoder": "train the heads only, on a frozen encoder (the ablation's frozen-base row)",
    "max_steps": "stop after N steps in total, leaving resumable state (0: no limit)",
    "resume": "continue from the state in --out-dir",
    "quiet": "no progress bars",
}
EPILOG = ("Recipes: minbert/train/recipes/shipped.yaml (the defaults) and report.yaml (the CS224N report's). "
          "A --config file may also set " + ", ".join(CONFIG_ONLY) + ".")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m minbert.train", description=__doc__, epilog=EPILOG)
    ap.add_argument("--config", default=None, help="JSON or YAML recipe file; flags override it")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "command" or f.name in CONFIG_ONLY:
            ap.set_defaults(**({} if f.name == "command" else {f.name: f.default}))
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
    retired = sorted(k for k in set(d) & set(RETIRED) if d[k] != RETIRED[k])
    if retired:
        raise SystemExit(f"error: --config {path}: retired option(s) {retired}; docs/EXPERIMENTS.md has their "
                         "results, and commit 8a2619e is the last that trains them")
    d = {k: v for k, v in d.items() if k not in RETIRED}  # at their off value: what every run now trains
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
    try:
        resolve(tasks)
    except TaskSpecError as e:
        ap.error(f"--tasks: {e}")
    if not tasks:
        ap.error(f"--tasks names no task (built-in: {','.join(TASK_KEYS)}; or task spec files)")
    a["tasks"] = tasks
    choices = {"schedule": SCHEDULES, "sampling": SCHEMES, "pooling": ("mean", "cls"),
               "para_head": ("cosine", "features", "cross"), "sts_loss": ("cosine_embedding", "mse", "cosent"),
               "device": ("auto", "cpu", "cuda"), "precision": ("auto", "fp32", "bf16")}
    for k, allowed in choices.items():
        if a[k] not in allowed:
            ap.error(f"--{k.replace('_', '-')} must be one of {', '.join(allowed)}, got {a[k]!r}")
    if not 2 < a["max_length"] <= 512:
        ap.error("--max-length must be in 3..512")
    if a["epochs"] < 1 or a["batch_size"] < 1:
        ap.error("--epochs and --batch-size must be positive")
    if a["sst_layers"] < 0:
        ap.error("--sst-layers must be 0 (all shared) or a number of top layers")
    if a["para_val"] < 0:
        ap.error("--para-val must be 0 (off) or a number of pairs")
    return TrainConfig(**a, command=shlex.join(["python", "-m", "minbert.train", *argv]))
