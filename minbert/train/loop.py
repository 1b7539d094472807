"""Multitask training: optional MLM further pretraining, then every task (SST + Quora + STS, and any added by a
task spec) on one shared encoder.

    python -m minbert.train [--config recipe.yaml] [--flag value ...]
    torchrun --nproc_per_node=2 -m minbert.train ...   # DistributedDataParallel (gloo on CPU, nccl on GPU)

Writes into --out-dir: config.json (resolved config and command), log.jsonl (one line per epoch),
state.* (for --resume), best.* (fp32, best dev overall) and model.* (fp16 export of best, re-evaluated).
"""
from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from minbert import distributed as dist
from minbert.atomic import atomic_write_json
from minbert.checkpoint import load_checkpoint, load_train_state, save_checkpoint, save_train_state
from minbert.data import TaskData, find_data_dir, load_tasks
from minbert.data.batching import bucket_batches, example_lengths, make_batch
from minbert.data.sst_trees import read_phrases
from minbert.evaluate import calibrate_scores, evaluate_model, fit_threshold
from minbert.evaluate.metrics import overall
from minbert.model import BertModel
from minbert.multitask import MultitaskConfig, MultitaskModel
from minbert.optimizer import AdamW
from minbert.pretrained import resolve_model_dir
from minbert.tasks import resolve
from minbert.tokenizer import Tokenizer
from minbert.train import epoch_predictions
from minbert.train.ema import EMA
from minbert.train.lr_schedule import lr_multiplier
from minbert.train.mlm import run_mlm_stage
from minbert.train.recipe import TrainConfig, parse_args
from minbert.train.sampling import epoch_plan


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Splits(NamedTuple):
    """The examples a run sees, per task."""
    train: dict  # task -> training examples
    dev: dict  # task -> dev examples (model selection and the exported metrics)
    train_eval: dict  # task -> a training subset scored each epoch (the overfitting gap; fits score maps)
    held_out: dict  # yes/no pair task -> --para-val pairs held out of training; its decision threshold is fit on them


def task_splits(data: TaskData, keys: list[str], *, seed: int, limit: int, train_limit: int, dev_limit: int,
                para_val: int, train_eval_size: int) -> Splits:
    """The examples of the tasks `keys` trains, with --limit, --train-limit, --dev-limit and --para-val applied. Every
    task the data holds is sampled in its order (the built-ins first), so a task added after them leaves their samples
    as they were."""
    train, dev = dict(data.train), dict(data.dev)
    if limit:
        train = {t: ex[:limit] for t, ex in train.items()}
        dev = {t: ex[:limit] for t, ex in dev.items()}
    pools = dict(train)
    rng = random.Random(seed)
    if train_limit:
        train = {t: rng.sample(ex, min(len(ex), train_limit)) for t, ex in train.items()}
    held = {t.key: hold_out_pairs(pools[t.key], train, t.key, para_val, seed) for t in data.tasks
            if para_val and t.key in keys and t.kind == "pair_classes"}
    if dev_limit:
        dev = {t: random.Random(0).sample(ex, min(len(ex), dev_limit)) for t, ex in dev.items()}
    train_eval = {t: rng.sample(ex, min(len(ex), train_eval_size)) for t, ex in train.items()}
    return Splits({t: train[t] for t in keys}, {t: dev[t] for t in keys}, {t: train_eval[t] for t in keys}, held)


def hold_out_pairs(pool: list, train: dict, task: str, n_pairs: int, seed: int) -> list:
    """n_pairs (--para-val) pairs of a yes/no pair task never trained on: taken from the pairs a --train-limit sample
    left unused (the training sample stays the same as without the flag), else removed from the training pairs (a
    tenth at most)."""
    used = {id(e) for e in train[task]}
    spare = [e for e in pool if id(e) not in used]
    if len(spare) >= n_pairs:
        return random.Random(seed + 1).sample(spare, n_pairs)
    n = min(n_pairs, len(train[task]) // 10)
    if n < n_pairs:
        dist.print0(f"--para-val {n_pairs}: holding out {n} of the {len(train[task]):,} {task} training pairs "
                    "(a tenth at most)" + ("; the decision stays at logit 0" if n == 0 else ""))
    pick = set(random.Random(seed + 1).sample(range(len(train[task])), n))
    held = [e for i, e in enumerate(train[task]) if i in pick]
    train[task] = [e for i, e in enumerate(train[task]) if i not in pick]
    return held


def add_phrases(train: dict, tasks: list, root: Path, n_phrases: int, min_words: int, limit: int) -> dict[str, int]:
    """With n_phrases (--sst-phrases), append the labelled phrases of each task that has a phrases file (SST's
    treebank, in the data folder `root`) to its training list; returns how many leading rows per task are always used
    (the rest is sampled per epoch)."""
    core = {t: len(ex) for t, ex in train.items()}  # rows past core[t] are extras: --sst-phrases
    by_key = {t.key: t for t in tasks}
    for key in [k for k in train if by_key[k].phrases and n_phrases]:
        phrases = read_phrases(root / by_key[key].phrases, min_words)
        phrases = phrases[:limit] if limit else phrases  # --limit caps every pool, phrases too
        train[key] = train[key] + phrases
        dist.print0(f"{by_key[key].name}: {core[key]:,} sentences + {n_phrases:,} of {len(phrases):,} labelled "
                    "phrases per epoch")
    return core


def epoch_batches(train: dict, lengths: dict, tasks: dict, epoch: int, core: dict[str, int] | None = None, *,
                  batch_size: int, para_max: int, n_phrases: int, seed: int) -> dict[str, list[list[int]]]:
    """Length-bucketed batches per task for one epoch, batch_size rows per process; yes/no pair tasks down-sampled to
    para_max rows if set; rows past core[t] (treebank phrases) sampled, n_phrases of them."""
    out = {}
    for t, ex in train.items():
        n = (core or {}).get(t, len(ex))
        idx = list(range(n))
        if tasks[t].kind == "pair_classes" and para_max and para_max < n:
            idx = sorted(random.Random(seed * 7919 + epoch).sample(idx, para_max))
        if n < len(ex):
            extra = random.Random(seed * 104729 + epoch).sample(range(n, len(ex)), min(n_phrases, len(ex) - n))
            idx = idx + sorted(extra)
        sub = bucket_batches([lengths[t][i] for i in idx], batch_size * dist.world_size(), True,
                             seed=seed * 31 + epoch)
        out[t] = [[idx[j] for j in b] for b in sub]
    return out


def train_step(model, raw: MultitaskModel, step, train, tok, opt, device, *, max_length: int, dtype, grad_clip: float,
               ema=None) -> dict[str, float]:
    """One optimizer step on a plan's step (its batches' losses summed); dtype: the autocast dtype, or None."""
    batches = []
    for task, idx in step:
        shard = idx[dist.rank()::dist.world_size()] or idx[:1]  # each rank its share of the global batch
        batches.append(make_batch(raw.tasks[task], train[task], shard, tok, max_length, raw.joint_input(task))
                       .to(device))
    with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        outs = model([(b.task, b.inputs) for b in batches])
        losses = {b.task: raw.head(b.task).loss(o, b.labels) for b, o in zip(batches, outs)}  # each head owns its loss
    opt.zero_grad(set_to_none=True)
    total = sum(losses.values())
    if total.requires_grad:  # not so for a parameter-free head on a frozen encoder
        total.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable(raw), grad_clip)
        opt.step()
        if ema is not None:
            ema.update(raw)
    return {t: v.item() for t, v in losses.items()}


def evaluate_epoch(raw: MultitaskModel, tok, splits: Splits, max_length: int, device) -> dict:
    """Fit each score task's map and (with --para-val) each yes/no pair task's threshold on training pairs, then
    score."""
    for key in [k for k in splits.train if raw.tasks[k].is_score]:
        calibrate_scores(raw, tok, key, splits.train_eval[key], device=device)
    extra = {f"{k}_threshold": fit_threshold(raw, tok, k, held, max_length=max_length, device=device)
             for k, held in splits.held_out.items() if held}
    dev_m, dev_out = evaluate_model(raw, tok, splits.dev, max_length=max_length, device=device)
    train_m, _ = evaluate_model(raw, tok, splits.train_eval, max_length=max_length, device=device)
    keys = [k for key in splits.train for k in (raw.tasks[key].metric, raw.tasks[key].second_metric)] + ["overall"]
    return {"dev": {k: dev_m[k] for k in keys if k in dev_m}, "train": {k: train_m[k] for k in keys if k in train_m},
            "dev_outputs": dev_out, **extra}


def score(metrics: dict, tasks: list) -> float:
    """Model selection: the mean of the trained tasks' metrics on a 0..1 scale (the overall score for all three)."""
    return overall(metrics["dev"], tasks)


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def param_groups(model: MultitaskModel, lr: float, head_lr: float) -> list[dict]:
    """The encoder (sentiment's private top layers included) at lr, the heads at head_lr; `base_lr` is what the
    schedule multiplies."""
    encoder = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(("bert.", "sst_encoder."))]
    ids = {id(p) for p in encoder}
    heads = [p for p in trainable(model) if id(p) not in ids]
    groups = [{"params": encoder, "lr": lr, "base_lr": lr}, {"params": heads, "lr": head_lr, "base_lr": head_lr}]
    return [g for g in groups if g["params"]]


def build(base: Path, tasks: list, config: MultitaskConfig, seed: int, freeze_encoder: bool,
          device) -> tuple[Tokenizer, MultitaskModel]:
    """Tokenizer and model from the base model folder, the heads drawn after seeding."""
    seed_everything(seed)
    bert = BertModel.from_pretrained(base)
    model = MultitaskModel(bert, config, tasks).to(device)
    if freeze_encoder:  # sentiment's own copies of the top layers are encoder too
        for part in (model.bert, model.sst_encoder):
            if part is not None:
                part.requires_grad_(False)
    return Tokenizer.from_pretrained(base), model


@dataclass
class TrainState:
    """Where a run stands; saved with every resumable state and read back by --resume."""
    epoch: int = 0  # finished epochs
    step_in_epoch: int = 0  # steps done in the current epoch
    global_step: int = 0
    history: list = field(default_factory=list)  # one record per finished epoch, as in log.jsonl
    mlm_history: list = field(default_factory=list)  # the MLM stage's loss per epoch
    best_score: float = -1.0  # best dev score so far (model selection)
    mlm_done: bool = False
    elapsed_s: float = 0.0  # training time, summed over resumed sessions


def fit(cfg: TrainConfig) -> Path | None:
    """The whole recipe, and the one function that reads its config: the helpers take the values they need.
    Returns the fp16 model path (rank 0), or None on other ranks and on --max-steps."""
    device = dist.setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t0, out, tasks, root = time.time(), Path(cfg.out_dir), resolve(cfg.tasks), find_data_dir(cfg.data_dir)
    data = load_tasks(root, tasks)
    splits = task_splits(data, [t.key for t in tasks], seed=cfg.seed, limit=cfg.limit, train_limit=cfg.train_limit,
                         dev_limit=cfg.dev_limit, para_val=cfg.para_val, train_eval_size=cfg.train_eval_size)
    core = add_phrases(splits.train, data.tasks, root, cfg.sst_phrases, cfg.sst_phrase_min_words, cfg.limit)
    tok, model = build(resolve_model_dir(cfg.base_model), tasks, cfg.model_config(), cfg.seed, cfg.freeze_encoder,
                       device)
    new_optimizer = partial(AdamW, lr=cfg.lr, weight_decay=cfg.weight_decay)
    opt = new_optimizer(param_groups(model, cfg.lr, cfg.head_lr))
    run = {"command": cfg.command, "train_config": asdict(cfg)}  # the run's config, in config.json and every sidecar
    state, saved = start_or_resume(model, opt, out, cfg.resume, run, mlm_done=cfg.mlm_epochs == 0)
    if not state.mlm_done:  # stage 1
        sentences = {t: ex[:core[t]] for t, ex in splits.train.items()}  # the phrases are spans of the SST sentences
        state.mlm_history = run_mlm_stage(
            model.bert, tok, sentences, device, epochs=cfg.mlm_epochs, lr=cfg.mlm_lr, weight_decay=cfg.weight_decay,
            prob=cfg.mlm_prob, batch_size=cfg.batch_size, max_length=cfg.max_length, grad_clip=cfg.grad_clip,
            seed=cfg.seed, quiet=cfg.quiet)
        model.reset_sst_layers()  # sentiment's private layers start from the further-pretrained ones too
        state.mlm_done = True
        opt = new_optimizer(param_groups(model, cfg.lr, cfg.head_lr))  # fresh moments
    ddp = dist.wrap(model, device)
    lengths = {t: example_lengths(model.tasks[t], ex, tok) for t, ex in splits.train.items()}
    ema = EMA(model, cfg.ema) if cfg.ema else None  # made after the MLM stage: it averages stage 2's weights
    if ema is not None and "ema_steps" in saved:
        ema.load_tensors(saved)

    def plan_of(epoch: int) -> list:  # the epoch's steps, each a list of (task, example indices)
        batches = epoch_batches(splits.train, lengths, model.tasks, epoch, core, batch_size=cfg.batch_size,
                                para_max=cfg.para_max, n_phrases=cfg.sst_phrases, seed=cfg.seed)
        return epoch_plan(batches, cfg.sampling, epoch, cfg.epochs, cfg.seed)

    steps_per_epoch, elapsed0 = len(plan_of(0)), state.elapsed_s
    lr_at = partial(lr_multiplier, cfg.schedule, steps_per_epoch=steps_per_epoch, total_steps=steps_per_epoch
                    * cfg.epochs, gamma=cfg.gamma, warmup_ratio=cfg.warmup_ratio)  # step -> multiplier
    dtype = cfg.autocast_dtype(device.type)  # None: fp32
    while state.epoch < cfg.epochs:  # stage 2
        plan, losses = plan_of(state.epoch), {}
        bar = tqdm(total=len(plan), initial=state.step_in_epoch, desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
                   disable=not dist.is_main() or cfg.quiet, dynamic_ncols=True)
        ddp.train()
        for i in range(state.step_in_epoch, len(plan)):
            set_lr(opt, lr_at(state.global_step))
            for t, v in train_step(ddp, model, plan[i], splits.train, tok, opt, device, max_length=cfg.max_length,
                                   dtype=dtype, grad_clip=cfg.grad_clip, ema=ema).items():
                losses.setdefault(t, []).append(v)
            state.step_in_epoch, state.global_step = i + 1, state.global_step + 1
            state.elapsed_s = elapsed0 + time.time() - t0
            bar.update(1)
            bar.set_postfix({t: f"{np.mean(v[-50:]):.3f}" for t, v in losses.items()}, refresh=False)
            if cfg.max_steps and state.global_step >= cfg.max_steps and i + 1 < len(plan):
                save_state(model, opt, state, out, ema)
                dist.print0(f"\nstopped after {cfg.max_steps} steps; continue with --resume")
                dist.cleanup()
                return None
            if cfg.save_every and state.global_step % cfg.save_every == 0:
                save_state(model, opt, state, out, ema)
        bar.close()
        with ema.applied(model) if ema is not None else contextlib.nullcontext():  # evaluate and keep the average
            end_epoch(model, tok, splits, out, opt, state, losses, device, max_length=cfg.max_length,
                      encoder_lr=cfg.lr, run=run)
        save_state(model, opt, state, out, ema)  # the live weights go on training
        dist.barrier()
    path = export(out, tok, data, splits.dev, cfg.max_length, state, device) if dist.is_main() else None
    dist.cleanup()
    return path


def start_or_resume(model: MultitaskModel, opt, out: Path, resume: bool, run: dict,
                    mlm_done: bool) -> tuple[TrainState, dict]:
    """With resume and a saved state in `out`: that state, with weights, moments and RNG restored, and the tensors
    saved beside them (the EMA's). Otherwise a fresh state (MLM stage done if there is none) and run folder, whose
    config.json records `run` (command and config)."""
    saved = {}
    if resume and (out / "state.json").is_file():
        state = TrainState(**load_train_state(out / "state", model, opt, saved))
        dist.print0(f"resumed at epoch {state.epoch} step {state.step_in_epoch}")
        return state, saved
    if dist.is_main():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "config.json", {"command": run["command"], "config": run["train_config"]})
        (out / "log.jsonl").unlink(missing_ok=True)
    return TrainState(mlm_done=mlm_done), saved


def set_lr(opt, multiplier: float) -> None:
    for g in opt.param_groups:
        g["lr"] = g["base_lr"] * multiplier


def end_epoch(raw, tok, splits: Splits, out: Path, opt, state: TrainState, losses, device, *, max_length: int,
              encoder_lr: float, run: dict) -> None:
    """Score the epoch on dev, log it, keep the best weights; the epoch counts as done on every rank."""
    if dist.is_main():
        metrics = evaluate_epoch(raw, tok, splits, max_length, device)
        outputs = metrics.pop("dev_outputs")
        epoch_predictions.append(out, state.epoch + 1, splits.dev, outputs, metrics["dev"])
        record = {"epoch": state.epoch + 1, "step": state.global_step, "lr": top_lr(opt, encoder_lr),
                  "loss": {t: float(np.mean(v)) for t, v in losses.items()}, "loss_curve": {
                      t: [float(np.mean(v[j:j + 20])) for j in range(0, len(v), 20)] for t, v in losses.items()},
                  "minutes": state.elapsed_s / 60, **metrics}
        state.history.append(record)
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        shift = "".join(f" | {k.removesuffix('_threshold')} threshold {v:+.3f}" for k, v in metrics.items()
                        if k.endswith("_threshold"))
        dist.print0(" | ".join(f"{k} {v:.4f}" for k, v in metrics["dev"].items()) + shift + f" | {record['minutes']:.1f} min")
        trained = [raw.tasks[k] for k in splits.train]
        if score(metrics, trained) > state.best_score:
            state.best_score = score(metrics, trained)
            save_checkpoint(out / "best", raw, tok, meta_for(run, state), dtype=torch.float32)
    state.epoch, state.step_in_epoch = state.epoch + 1, 0


def top_lr(opt, encoder_lr: float) -> float:
    """The encoder's learning rate (= encoder_lr, --lr, at the schedule's peak)."""
    return next((g["lr"] for g in opt.param_groups if g["base_lr"] == encoder_lr), opt.param_groups[0]["lr"])


def save_state(raw, opt, state: TrainState, out: Path, ema=None) -> None:
    if dist.is_main():
        save_train_state(out / "state", raw, opt, asdict(state), None if ema is None else ema.state_tensors())


def meta_for(run: dict, state: TrainState) -> dict:
    """A checkpoint's sidecar fields: the run's command and config, and its history so far."""
    return {**run, "history": state.history, "mlm_history": state.mlm_history, "train_minutes": state.elapsed_s / 60}


def export(out: Path, tok, data: TaskData, dev, max_length: int, state: TrainState, device) -> Path:
    """fp16 copy of the best checkpoint, with its dev metrics measured on the fp16 weights themselves."""
    best = load_checkpoint(out / "best", device)
    path = save_checkpoint(out / "model", best.model, tok, best.meta, dtype=torch.float16)
    fp16 = load_checkpoint(path, device)
    metrics, outputs = evaluate_model(fp16.model, tok, dev, max_length=max_length, device=device)
    epochs = epoch_predictions.add_final(out, outputs, {k: v for k, v in metrics.items() if k != "tasks"})
    notes = {f"{t.key}_protocol": data.protocols[t.key] for t in data.tasks if t.dev_holdout}
    notes.update({f"{t.key}_caveat": t.caveat for t in data.tasks if t.caveat})
    meta = {**best.meta, "metrics": metrics, **notes, "dropped_rows": data.dropped, "train_minutes": state.elapsed_s / 60,
            "history": state.history, "best_epoch": best.meta["history"][-1]["epoch"],
            "epoch_predictions": epochs}
    path = save_checkpoint(out / "model", fp16.model, tok, meta, dtype=torch.float16)
    dist.print0(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) after {meta['train_minutes']:.1f} min")
    return path


def main(argv=None) -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        fit(cfg)
    except (FileNotFoundError, ValueError) as e:  # DataError, ConfigError, WeightLoadError's kin
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
