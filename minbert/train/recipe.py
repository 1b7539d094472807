"""The training recipe as one dataclass; its fields' docs and choices make the CLI (flags override --config)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from minbert import legacy
from minbert.distributed import DEVICES
from minbert.multitask import MultitaskConfig
from minbert.options import check_choices, option, same_option
from minbert.tasks import TASK_KEYS, TaskSpecError, resolve
from minbert.tokenizer import MAX_LENGTH_LIMIT
from minbert.train.lr_schedule import SCHEDULES
from minbert.train.sampling import SCHEMES


def _model(name: str):
    return same_option(MultitaskConfig, name)  # the model's fields: their defaults, docs and choices are the model's


@dataclass
class TrainConfig:
    """The default recipe (`python -m minbert.train` with no flags) is the shipped model's."""
    data_dir: str | None = option(None, "task data folder (None: $MINBERT_DATA, then ./data, then the user cache)")
    base_model: str | None = option(None, "HF-format BERT directory to start from (None: the bundled "
                                    "all-MiniLM-L6-v2)")
    out_dir: str = option("runs/default", "run folder for config, log, resume state and checkpoints", per_run=True)
    tasks: tuple[str, ...] = option(TASK_KEYS, "tasks to train, comma-separated: built-in keys (sst,para,sts) and "
                                    "task spec files (tasks/cfimdb.yaml)")
    epochs: int = option(4, "multitask fine-tuning epochs")
    batch_size: int = option(32, "examples (sentences or pairs) per task batch and process (torchrun: "
                         "the processes' batches make one step)")
    lr: float = option(5e-5, "peak learning rate of the encoder (grid search: 2e-5, 5e-5, 1e-4)")
    head_lr: float = option(1e-3, "peak learning rate of the task heads: new weights learn faster than the "
                            "pretrained encoder")
    weight_decay: float = option(0.01, "AdamW's decoupled weight decay", set_by="config")
    grad_clip: float = option(1.0, "global gradient-norm clip (0: none)", set_by="config")
    ema: float = option(0.999, "evaluate and export a moving average of the weights with this decay per step "
                        "(~1,000 steps: SST steadier across epochs; 0: the live weights)")
    max_length: int = option(128, f"truncate inputs to this many tokens (at most {MAX_LENGTH_LIMIT})")
    schedule: str = option("linear", "learning-rate schedule: linear warm-up then decay, exponential (the "
                           "report's: gamma per epoch) or constant", choices=SCHEDULES)
    gamma: float = option(0.96, "per-epoch decay of the exponential schedule", set_by="config")
    warmup_ratio: float = option(0.1, "fraction of the steps warming up (linear schedule)", set_by="config")
    sampling: str = option("annealed", "which task each step trains: annealed draws a task in proportion to "
                           "size^alpha, alpha annealed from 1 to 0.2 (minbert/train/sampling.py)", choices=SCHEMES)
    para_max: int = option(10000, "yes/no pair task (Quora) pairs per epoch, down-sampled (0: all); more cost SST "
                           "at full budget")
    para_val: int = option(1000, "yes/no pair task (Quora) training pairs held out to fit the decision threshold "
                           "after every epoch, a tenth of the pairs at most (0: decide at logit 0)")
    sst_phrases: int = option(40000, "labelled treebank phrases (train split only) added to each epoch's sentiment "
                              "data, sampled afresh per epoch (0: whole sentences only)")
    sst_phrase_min_words: int = option(2, "shortest phrase, in words, that sst_phrases samples", set_by="config")
    pooling: str = _model("pooling")
    sst_dropout: float = _model("sst_dropout")
    para_head: str = _model("para_head")
    sts_loss: str = _model("sts_loss")
    sts_discrete: bool = _model("sts_discrete")
    sst_layers: int = _model("sst_layers")
    mlm_epochs: int = option(0, "epochs of MLM further pretraining on the training sentences first (0: skip; 4 cost "
                             "STS 0.016 at full budget)")
    mlm_lr: float = option(5e-5, "learning rate of the MLM stage", set_by="config")
    mlm_prob: float = option(0.15, "fraction of the real tokens MLM selects", set_by="config")
    seed: int = option(11711, "random seed (data order, dropout, masking)")
    threads: int = option(0, "torch intra-op threads per process (0: torch's default, one per core)", per_run=True)
    device: str = option("auto", "auto: cuda if available, else cpu", choices=DEVICES)
    precision: str = option("auto", "the training forward pass: auto (bf16 autocast on cuda, fp32 on cpu), fp32 or "
                            "bf16 autocast (1.2x on a CPU with AMX at the same accuracy, docs/RESULTS.md)",
                            choices=("auto", "fp32", "bf16"))
    limit: int = option(0, "the first N examples of every split (0: all); for smoke tests")
    train_limit: int = option(0, "a fixed random sample of N training examples per task (0: all); short budgets")
    dev_limit: int = option(0, "a fixed random sample of N dev examples per task (0: all); short budgets")
    freeze_encoder: bool = option(False, "train the heads only, on a frozen encoder (the ablation's frozen-base row)")
    train_eval_size: int = option(600, "training examples per task scored each epoch (the overfitting gap; fits the "
                                  "score tasks' maps)", set_by="config")
    save_every: int = option(200, "steps between resumable saves (0: at epoch ends only)", set_by="config")
    max_steps: int = option(0, "stop after N steps in total, leaving resumable state (0: no limit)")
    resume: bool = option(False, "continue from the state in out_dir", per_run=True)
    quiet: bool = option(False, "no progress bars", per_run=True)
    command: str = option("", "the command line that made this config", set_by="program", per_run=True)

    def __post_init__(self):
        check_choices(self)
        self.model_config()  # the model fields' own checks
        if not 2 < self.max_length <= MAX_LENGTH_LIMIT:
            raise ValueError(f"max_length must be in 3..{MAX_LENGTH_LIMIT}, got {self.max_length}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be positive, got {self.epochs} and {self.batch_size}")
        if self.para_val < 0:
            raise ValueError(f"para_val must be 0 (off) or a number of pairs, got {self.para_val}")

    def autocast_dtype(self, device_type: str):
        """torch.bfloat16 where the training forward runs under autocast, else None."""
        import torch
        bf16 = self.precision == "bf16" or (self.precision == "auto" and device_type == "cuda")
        return torch.bfloat16 if bf16 else None

    def model_config(self) -> MultitaskConfig:
        names = {f.name for f in dataclasses.fields(MultitaskConfig)}
        return MultitaskConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})

    @classmethod
    def recipe_fields(cls) -> list[dataclasses.Field]:
        """The fields that say what a run trains (not how it was launched: no per_run ones)."""
        return [f for f in dataclasses.fields(cls) if not f.metadata["per_run"]]


def recipe_yaml(cfg: TrainConfig) -> str:
    """A --config file of every recipe field of cfg, each under its doc (minbert/train/recipes/shipped.yaml is the
    defaults')."""
    fields = cfg.recipe_fields()
    values = {f.name: getattr(cfg, f.name) for f in fields}
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}  # YAML has lists, not tuples
    lines = yaml.safe_dump(values, sort_keys=False, default_flow_style=None, width=10**6).splitlines()
    assert len(lines) == len(fields), lines  # one line per field: lists flow ([sst, para, sts])
    out = []
    for f, line in zip(fields, lines):
        out += textwrap.wrap(f.metadata["doc"], 116, initial_indent="# ", subsequent_indent="# ") + [line]
    return "\n".join(out) + "\n"


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each flag's default after its help; the epilog's lines as written."""


def _epilog() -> str:
    only = [f for f in dataclasses.fields(TrainConfig) if f.metadata["set_by"] == "config"]
    width = max(len(f.name) for f in only) + 2
    return ("recipe fields a --config file may also set (YAML or JSON, as printed by --print-config):\n" +
            "\n".join(f"  {f.name:<{width}}{f.metadata['doc']} (default: {f.default})" for f in only) +
            "\n\nRecipes: minbert/train/recipes/shipped.yaml (the defaults) and report.yaml (the CS224N report's).")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m minbert.train", description=__doc__, epilog=_epilog(),
                                 formatter_class=_HelpFormatter)
    ap.add_argument("--config", default=None, help="JSON or YAML recipe file; flags override it")
    ap.add_argument("--print-config", action="store_true", help="print the resolved recipe as a --config file and "
                    "exit")
    for f in dataclasses.fields(TrainConfig):
        doc, set_by = f.metadata["doc"], f.metadata["set_by"]
        if set_by != "flag":
            ap.set_defaults(**({f.name: f.default} if set_by == "config" else {}))
        elif f.type == "bool":
            ap.add_argument(flag_of(f.name), action=argparse.BooleanOptionalAction, default=f.default, help=doc)
        elif f.name == "tasks":
            ap.add_argument(flag_of(f.name), default=",".join(f.default), help=doc)
        else:
            kind = {"int": int, "float": float}.get(f.type, str)
            ap.add_argument(flag_of(f.name), type=kind, default=f.default, choices=f.metadata["choices"], help=doc)
    return ap


def read_config_file(path: str) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        d = yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse failure becomes a clear CLI error
        raise SystemExit(f"error: cannot read --config {path}: {e}")
    if not isinstance(d, dict):
        raise SystemExit(f"error: --config {path} must hold a mapping of option: value")
    try:
        d = legacy.without_retired({k.replace("-", "_"): v for k, v in d.items()}, f"--config {path}")
    except ValueError as e:
        raise SystemExit(f"error: {e}")
    known = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata["set_by"] != "program"}
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
    show = a.pop("print_config")
    tasks = tuple(t.strip() for t in str(a["tasks"]).split(",") if t.strip())
    try:
        resolve(tasks)
    except TaskSpecError as e:
        ap.error(f"--tasks: {e}")
    if not tasks:
        ap.error(f"--tasks names no task (built-in: {','.join(TASK_KEYS)}; or task spec files)")
    try:
        cfg = TrainConfig(**{**a, "tasks": tasks}, command=shlex.join(["python", "-m", "minbert.train", *argv]))
    except ValueError as e:  # a value out of range, or (from a --config file) not one of the choices
        ap.error(str(e))
    if show:
        print(recipe_yaml(cfg), end="")
        raise SystemExit(0)
    return cfg
