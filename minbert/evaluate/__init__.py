"""Evaluate a checkpoint on the dev sets; optionally write metrics JSON and prediction files.

    python -m minbert.evaluate --checkpoint checkpoints/minbert-multitask [--out-json m.json] [--predict-dir out/]
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from minbert.cli import add_checkpoint, add_data_dir, add_threads, apply_threads, fail
from minbert.atomic import atomic_write_bytes, atomic_write_json
from minbert.evaluate.bootstrap import N_RESAMPLES, confidence_intervals
from minbert.evaluate.temperature import best_threshold
from minbert.checkpoint import CheckpointError, load_checkpoint, update_sidecar
from minbert.data import DataError, Example, find_data_dir, load_tasks, read_task_file, task_file
from minbert.evaluate.metrics import overall_score, scored_output, summary_metrics, task_metrics
from minbert.tasks import PARA, TASKS, Task
from minbert.multitask import MultitaskModel
from minbert.serve import precision as P
from minbert.evaluate.inference import predict
from minbert.tokenizer import Tokenizer

CI_METHOD = f"95% percentile bootstrap over dev examples, {N_RESAMPLES} resamples, seed 0"
QUORA_CAVEAT = PARA.caveat
THRESHOLD_TASK = PARA.key  # the task --para-threshold sets: users know the flag, which predates tasks as data


def gold(examples: list[Example]) -> np.ndarray:
    return np.array([e.label for e in examples], dtype=float)


def evaluate_model(model: MultitaskModel, tok: Tokenizer, splits: dict[str, list[Example]],
                   batch_size: int = 64, max_length: int = 128, device="cpu") -> tuple[dict, dict]:
    """Metrics and raw outputs of every task in `splits` (task key -> examples)."""
    outputs = {t: predict(model, t, ex, tok, batch_size, max_length, device) for t, ex in splits.items()}
    return score_outputs({t: gold(ex) for t, ex in splits.items()}, outputs, model.tasks), outputs


def score_outputs(golds: dict[str, np.ndarray], outputs: dict[str, dict], tasks: dict | None = None) -> dict:
    """Summary metrics (sst_acc, para_acc, sts_pearson, ..., overall) and per-task reports of `predict` outputs.
    tasks: key -> Task, for added tasks (default: the built-ins)."""
    ts = [(tasks or TASKS)[k] for k in golds]
    per_task = {t.key: task_metrics(t, golds[t.key], outputs[t.key]) for t in ts}
    summary = {k: v for t in ts for k, v in summary_metrics(t, per_task[t.key]).items()}
    score = overall_score(summary, ts)
    if score is not None:
        summary["overall"] = score
    return {**summary, "tasks": per_task}


@torch.no_grad()
def calibrate_scores(model: MultitaskModel, tok: Tokenizer, task: str, train: list[Example], batch_size: int = 64,
                     max_length: int = 128, device="cpu") -> None:
    """Fit a pair_score task's cosine -> score map on its training pairs (dev labels never touch it)."""
    out = predict(model, task, train, tok, batch_size, max_length, device)
    model.head(task).calibrate(torch.from_numpy(out["cosine"]).float(), torch.from_numpy(gold(train)).float())


@torch.no_grad()
def fit_threshold(model: MultitaskModel, tok: Tokenizer, task: str, held_out: list[Example], batch_size: int = 64,
                  max_length: int = 128, device="cpu") -> float:
    """Set a yes/no pair task's decision threshold to the one of best accuracy on training pairs held out of
    training (dev labels never touch it); returns it."""
    head = model.head(task)
    head.threshold.zero_()  # predict's logits are shifted by the current threshold
    out = predict(model, task, held_out, tok, batch_size, max_length, device)
    t = best_threshold(out["logit"], gold(held_out))
    head.threshold.fill_(t)
    return t


def write_predictions(model: MultitaskModel, tok: Tokenizer, data_dir: Path | None, out_dir: Path,
                      dev: dict[str, tuple[list[Example], dict]], batch_size: int) -> list[Path]:
    """CS224N-format prediction files, `<task key>-<split>-output.csv` with the spec's prediction_column, for every
    task of the model: its evaluated dev examples (dev: key -> (examples, predict outputs); a dev_holdout task's
    held-out part) and its test file where present."""
    written = []
    for task in model.tasks.values():
        if task.key in dev:
            written.append(_write_prediction_file(out_dir / f"{task.key}-dev-output.csv", task, *dev[task.key]))
        test = task_file(data_dir, task, "test")
        if test is not None:
            examples = read_task_file(test, task, labelled=False).examples
            out = predict(model, task, examples, tok, batch_size)
            written.append(_write_prediction_file(out_dir / f"{task.key}-test-output.csv", task, examples, out))
    return written


def _write_prediction_file(path: Path, task: Task, examples: list[Example], out: dict) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", task.prediction_column])
    for e, v in zip(examples, out[scored_output(task)]):
        w.writerow([e.id, f"{v:.4f}" if task.is_score else int(v)])
    atomic_write_bytes(path, buf.getvalue().encode())
    return path


@dataclass
class EvalArgs:
    checkpoint: Path
    data_dir: str | None
    out_json: Path | None
    predict_dir: Path | None
    batch_size: int
    precision: str
    into_sidecar: bool
    para_threshold: float | None = None  # None: the checkpoint's own


def parse_args(argv) -> EvalArgs:
    ap = argparse.ArgumentParser(prog="python -m minbert.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads(ap)
    add_checkpoint(ap, required=True)
    add_data_dir(ap)
    ap.add_argument("--out-json", default=None, help="write all metrics to this JSON file")
    ap.add_argument("--predict-dir", default=None, help="write CS224N-format prediction CSVs into this folder")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    P.add_arguments(ap, default="fp32")
    ap.add_argument("--into-sidecar", action="store_true",
                    help="also store the 95%% intervals in the checkpoint's sidecar (metrics_ci95), where the app shows "
                         "them; only for fp32 evaluation, whose metrics are the sidecar's own")
    ap.add_argument("--para-threshold", type=float, default=None,
                    help=f"score the {PARA.name} {PARA.skill} decision at this logit "
                         "threshold instead of the checkpoint's own (0: the untuned head; what the fitted threshold of "
                         "--para-val adds)")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    precision = a.precision
    if a.into_sidecar and (precision != "fp32" or a.para_threshold is not None):
        ap.error("--into-sidecar stores the checkpoint's own (fp32) intervals; drop --precision/--para-threshold")
    return EvalArgs(Path(a.checkpoint), a.data_dir, a.out_json and Path(a.out_json),
                    a.predict_dir and Path(a.predict_dir), a.batch_size, precision, a.into_sidecar, a.para_threshold)


def yes_no_tasks(tasks) -> list[Task]:
    """The tasks decided at a logit threshold (pair_classes: one logit, yes above the threshold)."""
    return [t for t in tasks if t.kind == "pair_classes"]


def evaluate_checkpoint(args: EvalArgs) -> tuple[dict, tuple[Task, ...]]:
    """Every task the checkpoint has, scored on its dev examples: (metrics as --out-json writes them, the tasks)."""
    ckpt = load_checkpoint(args.checkpoint)
    tasks = tuple(ckpt.model.tasks.values())
    stored = {t.key: float(ckpt.model.head(t.key).threshold) for t in yes_no_tasks(tasks)}
    if args.para_threshold is not None:
        ckpt.model.head(THRESHOLD_TASK).threshold.fill_(args.para_threshold)
    model = P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"), inplace=True)
    print(f"precision: {P.describe(model)}", file=sys.stderr)
    data = load_tasks(args.data_dir, tasks, need_train=False)
    metrics, outputs = evaluate_model(model, ckpt.tokenizer, data.dev, args.batch_size)
    golds = {k: gold(ex) for k, ex in data.dev.items()}
    metrics.update(confidence_intervals(golds, outputs, tasks=ckpt.model.tasks))
    for t in yes_no_tasks(tasks):
        metrics.update({f"{t.key}_threshold": float(model.head(t.key).threshold),
                        f"{t.key}_threshold_stored": stored[t.key]})
    metrics.update({f"{t.key}_protocol": data.protocols[t.key] for t in tasks if t.dev_holdout})
    metrics.update(precision=args.precision, served=P.describe(model), checkpoint=str(ckpt.path))
    metrics.update({f"{t.key}_caveat": t.caveat for t in tasks if t.caveat}, ci95_method=CI_METHOD)
    if args.predict_dir:
        write_predictions(model, ckpt.tokenizer, find_data_dir(args.data_dir), args.predict_dir,
                          {k: (ex, outputs[k]) for k, ex in data.dev.items()}, args.batch_size)
    if args.out_json:
        atomic_write_json(args.out_json, metrics)
    if args.into_sidecar:
        update_sidecar(args.checkpoint, metrics_ci95={k: v for k, v in metrics.items() if k.endswith("_ci95")},
                       ci95_method=CI_METHOD)
    return metrics, tasks


def run(args: EvalArgs) -> dict:
    """The metrics of evaluate_checkpoint."""
    return evaluate_checkpoint(args)[0]


def second_metric_name(task: Task) -> str:
    return "Spearman" if task.is_score else "F1" if task.num_classes == 2 else "macro-F1"


def summary_lines(m: dict, tasks) -> list[str]:
    """What the CLI prints: each task's metric with its interval and second figure, the overall score, each yes/no
    task's decision threshold, the interval method, and the tasks' protocols and caveats."""
    def ci(k):
        lo_hi = m.get(f"{k}_ci95")
        return f" [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else ""
    lines = [f"{t.title:<22}{m[t.metric]:.4f}{ci(t.metric)}  ({second_metric_name(t)} {m[t.second_metric]:.4f})"
             for t in tasks if t.metric in m]
    if "overall" in m:
        lines.append(f"{'overall':<22}{m['overall']:.4f}{ci('overall')}")
    for t in yes_no_tasks(tasks):
        now, own = m.get(f"{t.key}_threshold", 0.0), m.get(f"{t.key}_threshold_stored", 0.0)
        lines.append(f"{t.skill} decision at logit threshold {now:+.3f}"
                     + (f" (the checkpoint's own: {own:+.3f})" if own != now else ""))
    lines.append(f"[lo, hi]: {m.get('ci95_method', CI_METHOD)}")
    lines += [f"{t.skill} protocol: {m[f'{t.key}_protocol']}" for t in tasks if f"{t.key}_protocol" in m]
    return lines + [t.caveat for t in tasks if t.caveat]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        m, tasks = evaluate_checkpoint(args)
    except (CheckpointError, DataError, FileNotFoundError) as e:
        return fail(e)
    print("\n".join(summary_lines(m, tasks)))
    return 0
