"""Fit temperature scaling for the classification heads and store it in the checkpoint sidecar.

    python -m analysis.calibrate --checkpoint checkpoints/minbert-multitask [--data-dir DIR]

Runs the checkpoint over the dev sets (fp32), fits one temperature per head by negative log-likelihood,
reports ECE and NLL before and after by cross-fitting (each half of dev scored at the temperature fit on
the other half), checks each yes/no pair task's (paraphrase's) decision threshold the same way (a diagnostic; never served), and writes {"calibration": {...}} into the sidecar (atomically; the weights and their
sha256 are untouched). Every tool then serves calibrated
probabilities; raw logits stay in their outputs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minbert.cli import add_checkpoint, add_data_dir, add_threads, apply_threads, fail
from minbert.evaluate.temperature import calibrate, temperatures, threshold_check
from minbert.checkpoint import CheckpointError, load_checkpoint, update_sidecar
from minbert.data import DataError, load_tasks
from minbert.evaluate import gold
from minbert.evaluate.inference import predict

from analysis.compare import source_tasks


def run(checkpoint: Path, data_dir: str | None, batch_size: int) -> dict:
    """Per task whose temperature the Predictor serves (minbert.evaluate.temperature.temperatures): its
    calibration, and for a yes/no pair task the threshold check."""
    ckpt = load_checkpoint(checkpoint)
    tasks = [ckpt.model.tasks[k] for k in temperatures(ckpt.meta) if k in ckpt.model.tasks]
    data = load_tasks(data_dir, tuple(ckpt.model.tasks.values()), need_train=False)
    result = {}
    for t in tasks:
        examples, logits = data.dev[t.key], "logit" if t.pair else "logits"
        out = predict(ckpt.model, t.key, examples, ckpt.tokenizer, batch_size)
        result[t.key] = calibrate(t.key, [e.id for e in examples], out[logits], gold(examples))
        if t.pair:  # logits above are shifted by the served threshold
            result[t.key]["threshold"] = {**threshold_check([e.id for e in examples], out[logits], gold(examples)),
                                          "served_threshold": round(float(ckpt.model.head(t.key).threshold), 4)}
    result["method"] = ("temperature scaling (Guo et al., 2017): T minimises dev NLL; ECE/NLL after are cross-fitted "
                        "(halves by the parity of the first byte of sha1(id), each scored at the other half's T)")
    update_sidecar(checkpoint, calibration=result)
    return result


def summary_lines(res: dict, tasks: dict) -> list[str]:
    """Each calibrated task's temperature and scores, and each threshold check, in words (tasks: key -> Task)."""
    lines = []
    for key, r in ((k, v) for k, v in res.items() if k in tasks):
        lines.append(f"{tasks[key].name}: T = {r['temperature']:.3f} (fit on {r['fit_on']}; halves: "
                     f"{r['cross_fit']['t_half_a']:.3f} and {r['cross_fit']['t_half_b']:.3f}); cross-fitted ECE "
                     f"{r['ece_before']:.4f} -> {r['ece_after']:.4f}, NLL {r['nll_before']:.4f} -> {r['nll_after']:.4f}")
        th = r.get("threshold")
        if th:
            yes = tasks[key].classes[-1]
            lines.append(f"{tasks[key].name} decision threshold (diagnostic, not served): accuracy "
                         f"{th['accuracy_at_0']:.4f} at the served decision (raw logit > {th.get('served_threshold', 0.0):+.3f}), "
                         f"{th['accuracy_cross_fitted']:.4f} at a threshold fit on the other half of dev "
                         f"({th['threshold_half_a']:+.2f} / {th['threshold_half_b']:+.2f} beyond it); predicts {yes} for "
                         f"{th['predicted_positive_rate']:.1%} of pairs, gold {th['gold_positive_rate']:.1%}")
    return lines


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
        res = run(Path(a.checkpoint), a.data_dir, a.batch_size)
    except (CheckpointError, DataError) as e:
        return fail(e)
    print("\n".join(summary_lines(res, source_tasks(Path(a.checkpoint)))))
    print(f"written into the sidecar of {a.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
