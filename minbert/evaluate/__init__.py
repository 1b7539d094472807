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
from minbert.data import DataError, Example, find_data_dir, load_tasks, read_task_file
from minbert.evaluate.metrics import overall, summary_metrics, task_metrics
from minbert.tasks import TASKS
from minbert.multitask import MultitaskModel
from minbert.serve import precision as P
from minbert.evaluate.inference import predict
from minbert.tokenizer import Tokenizer

CI_METHOD = f"95% percentile bootstrap over dev examples, {N_RESAMPLES} resamples, seed 0"
QUORA_CAVEAT = TASKS["para"].caveat


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
    score = overall(summary, ts)
    if score is not None and len(ts) >= len(TASKS):  # the overall score needs every task (the three at least)
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


PRED_FILES = {  # task -> (file prefix, column, output key)
    "sst": ("sst", "Predicted_Sentiment", "pred"),
    "para": ("para", "Predicted_Is_Paraphrase", "pred"),
    "sts": ("sts", "Predicted_Similarity", "score"),
}
SOURCE_FILES = {"sst": ("ids-sst-dev.csv", "ids-sst-test-student.csv"),
                "para": ("quora-dev.csv", "quora-test-student.csv"),
                "sts": ("sts-dev.csv", "sts-test-student.csv")}


def write_predictions(model, tok, data_dir: Path, out_dir: Path, para_dev: list[Example], batch_size: int) -> list[Path]:
    """CS224N-format prediction files for every dev and test file present (para dev = the evaluated part)."""
    written = []
    for task, (prefix, column, key) in PRED_FILES.items():
        for split, name in zip(("dev", "test"), SOURCE_FILES[task]):
            if task == "para" and split == "dev":
                examples = para_dev
            elif (data_dir / name).is_file():
                examples = read_task_file(data_dir / name).examples
            else:
                continue
            out = predict(model, task, examples, tok, batch_size)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["id", column])
            for e, v in zip(examples, out[key]):
                w.writerow([e.id, f"{v:.4f}" if task == "sts" else int(v)])
            path = out_dir / f"{prefix}-{split}-output.csv"
            atomic_write_bytes(path, buf.getvalue().encode())
            written.append(path)
    return written


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
                    help="score the paraphrase decision at this logit threshold instead of the checkpoint's own "
                         "(0: the untuned head; what the fitted threshold of --para-val adds)")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    precision = a.precision
    if a.into_sidecar and (precision != "fp32" or a.para_threshold is not None):
        ap.error("--into-sidecar stores the checkpoint's own (fp32) intervals; drop --precision/--para-threshold")
    return EvalArgs(Path(a.checkpoint), a.data_dir, a.out_json and Path(a.out_json),
                    a.predict_dir and Path(a.predict_dir), a.batch_size, precision, a.into_sidecar, a.para_threshold)


def run(args: EvalArgs) -> dict:
    ckpt = load_checkpoint(args.checkpoint)
    stored = float(ckpt.model.para.threshold)
    if args.para_threshold is not None:
        ckpt.model.para.threshold.fill_(args.para_threshold)
    model = P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"), inplace=True)
    print(f"precision: {P.describe(model)}", file=sys.stderr)
    data = load_tasks(args.data_dir)
    splits = {"sst": data.sst_dev, "para": data.para_dev, "sts": data.sts_dev}
    metrics, outputs = evaluate_model(model, ckpt.tokenizer, splits, args.batch_size)
    metrics.update(confidence_intervals({t: gold(ex) for t, ex in splits.items()}, outputs))
    metrics.update(para_threshold=float(model.para.threshold), para_threshold_stored=stored,
                   para_protocol=data.para_protocol, precision=args.precision, served=P.describe(model),
                   checkpoint=str(ckpt.path), para_caveat=QUORA_CAVEAT, ci95_method=CI_METHOD)
    if args.predict_dir:
        write_predictions(model, ckpt.tokenizer, find_data_dir(args.data_dir), args.predict_dir,
                          data.para_dev, args.batch_size)
    if args.out_json:
        atomic_write_json(args.out_json, metrics)
    if args.into_sidecar:
        update_sidecar(args.checkpoint, metrics_ci95={k: v for k, v in metrics.items() if k.endswith("_ci95")},
                       ci95_method=CI_METHOD)
    return metrics


def summary_lines(m: dict) -> list[str]:
    def ci(k):
        lo_hi = m.get(f"{k}_ci95")
        return f" [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else ""
    return [f"SST dev accuracy      {m['sst_acc']:.4f}{ci('sst_acc')}  (macro-F1 {m['sst_macro_f1']:.4f})",
            f"Quora accuracy        {m['para_acc']:.4f}{ci('para_acc')}  (F1 {m['para_f1']:.4f})",
            f"STS dev Pearson r     {m['sts_pearson']:.4f}{ci('sts_pearson')}  (Spearman {m['sts_spearman']:.4f})",
            f"overall               {m['overall']:.4f}{ci('overall')}",
            f"paraphrase decision at logit threshold {m.get('para_threshold', 0.0):+.3f}"
            + (f" (the checkpoint's own: {m['para_threshold_stored']:+.3f})"
               if m.get("para_threshold_stored", 0.0) != m.get("para_threshold", 0.0) else ""),
            f"[lo, hi]: {m.get('ci95_method', CI_METHOD)}",
            f"paraphrase protocol: {m['para_protocol']}", QUORA_CAVEAT]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        m = run(args)
    except (CheckpointError, DataError, FileNotFoundError) as e:
        return fail(e)
    print("\n".join(summary_lines(m)))
    return 0

