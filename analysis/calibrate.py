"""Fit temperature scaling for every classification head and store it in the checkpoint sidecar.

    python -m analysis.calibrate --checkpoint checkpoints/minbert-multitask [--data-dir DIR]

Runs the checkpoint over the dev sets (fp32), fits one temperature per classification task by negative
log-likelihood, reports ECE and NLL before and after by cross-fitting (each half of dev scored at the
temperature fit on the other half), checks each yes/no pair task's decision threshold the same way (a
diagnostic; never served), and writes {"calibration": {task key: ...}} into the sidecar (atomically; the
weights and their sha256 are untouched). Every tool then serves calibrated probabilities; raw logits stay
in their outputs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minbert.cli import add_checkpoint, add_data_dir, add_threads, apply_threads, fail
from minbert.evaluate.temperature import calibrate, per_class_logits, threshold_check
from minbert.checkpoint import CheckpointError, load_checkpoint, update_sidecar
from minbert.data import DataError, load_tasks
from minbert.evaluate import gold, yes_no_tasks
from minbert.evaluate.inference import predict
from minbert.tasks import Task


def run(checkpoint: Path, data_dir: str | None, batch_size: int) -> tuple[dict, list[Task]]:
    """The sidecar's "calibration" (task key -> fit and report, "method"), and the tasks calibrated."""
    ckpt = load_checkpoint(checkpoint)
    tasks = [t for t in ckpt.model.tasks.values() if t.classes]
    data = load_tasks(data_dir, ckpt.model.tasks.values(), need_train=False)
    result = {}
    for t in tasks:
        examples = data.dev[t.key]
        out = predict(ckpt.model, t, examples, ckpt.tokenizer, batch_size)
        ids, g = [e.id for e in examples], gold(examples)
        result[t.key] = calibrate(t, ids, out["logits"] if per_class_logits(t) else out["logit"], g)
        if t in yes_no_tasks(tasks):
            served = round(float(ckpt.model.head(t.key).threshold), 4)  # predict's logits are shifted by it
            result[t.key]["threshold"] = {**threshold_check(ids, out["logit"], g), "served_threshold": served}
    result["method"] = ("temperature scaling (Guo et al., 2017): T minimises dev NLL; ECE/NLL after are cross-fitted "
                        "(halves by the parity of the first byte of sha1(id), each scored at the other half's T)")
    update_sidecar(checkpoint, calibration=result)
    return result, tasks


def threshold_line(task: Task, th: dict) -> str:
    return (f"{task.name} decision threshold (diagnostic, not served): accuracy {th['accuracy_at_0']:.4f} at the "
            f"served decision (raw logit > {th.get('served_threshold', 0.0):+.3f}), "
            f"{th['accuracy_cross_fitted']:.4f} at a threshold fit on the other half of dev "
            f"({th['threshold_half_a']:+.2f} / {th['threshold_half_b']:+.2f} beyond it); predicts {task.classes[1]} "
            f"for {th['predicted_positive_rate']:.1%} of pairs, gold {th['gold_positive_rate']:.1%}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads(ap)
    add_checkpoint(ap)
    add_data_dir(ap)
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    try:
        res, tasks = run(Path(a.checkpoint), a.data_dir, a.batch_size)
    except (CheckpointError, DataError) as e:
        return fail(e)
    for t in tasks:
        r = res[t.key]
        print(f"{t.name}: T = {r['temperature']:.3f} (fit on {r['fit_on']}; halves: {r['cross_fit']['t_half_a']:.3f} "
              f"and {r['cross_fit']['t_half_b']:.3f}); cross-fitted ECE {r['ece_before']:.4f} -> {r['ece_after']:.4f}, "
              f"NLL {r['nll_before']:.4f} -> {r['nll_after']:.4f}")
        if "threshold" in r:
            print(threshold_line(t, r["threshold"]))
    print(f"written into the sidecar of {a.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
