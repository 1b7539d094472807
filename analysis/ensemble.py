"""What combining several checkpoints would reach on dev: their output ensemble and their weight soup.

    python -m analysis.ensemble A B [C ...] [--out-json F] [--data-dir DIR]

A, B, ... name checkpoints (stem, .json or .safetensors) or training run folders (their fp16 export), all with the
same tasks. Each member is run over the tasks' dev sets (the three built-ins: about 40 s per checkpoint on 2 cores).
Two ways to combine them:

- ensemble: the members' outputs averaged by the task's kind (a sentence task's class probabilities, as SST-5's; a
  yes/no pair task's logits, each relative to its own decision threshold, decided at 0, as Quora's; a score task's
  scores, as STS-B's). It costs N models at serving time, and it is the usual
  ceiling for combining them in one model (distilling the ensemble, averaging weights): if the ensemble
  misses a target, those are unlikely to reach it;
- soup: one model whose weights are the members' mean (a uniform model soup, Wortsman et al. 2022; the Quora
  threshold and STS score map, being buffers, are averaged too). Only for members of one architecture
  (encoder shape, vocabulary, pooling and heads) and meaningful only for ones fine-tuned from the same base;
  otherwise reported as skipped.

Reported per task: each member, the members' mean ± sd, and each combination with its bootstrap 95% interval and
its paired difference from the best member (paired bootstrap 95% interval and p-value over the same examples).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from minbert.cli import add_data_dir, add_threads, apply_threads
from minbert.atomic import atomic_write_json
from minbert.evaluate.bootstrap import confidence_intervals
from minbert.checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_sidecar
from minbert.data import DataError, load_tasks
from minbert.evaluate import evaluate_model, gold, score_outputs

from analysis.compare import checkpoint_stem, source_tasks
from analysis.significance import paired_bootstrap

MAX_MEMBERS = 16  # each is held in memory (about 100 MB for the shipped size) for the soup


def metric_keys(tasks) -> list[str]:
    """The figures reported per member and combination: each task's metric ("sst_acc", ...), then overall."""
    return [t.metric for t in tasks] + ["overall"]


def average_outputs(outs: list[dict], tasks) -> dict[str, dict]:
    """One set of `predict` outputs from several, per task (minbert.tasks.Task): the rules of the module docstring."""
    res = {}
    for t in tasks:
        mean = lambda k: np.mean([o[t.key][k] for o in outs], axis=0)  # noqa: E731
        if t.is_score:
            res[t.key] = {"score": mean("score"), "cosine": mean("cosine")}
        elif t.pair:  # (N,) logits, already minus each member's threshold
            logit = mean("logit")
            res[t.key] = {"logit": logit, "prob": 1 / (1 + np.exp(-logit)), "pred": (logit > 0).astype(int)}
        else:
            probs = mean("probs")  # (N, C)
            res[t.key] = {"probs": probs, "pred": probs.argmax(-1)}
    return res


SERVING = ("pooling", "para_head", "sts_discrete", "sst_layers")  # model-config fields that change a forward pass; the rest are losses


def soup(members: list[Checkpoint]) -> Checkpoint | None:
    """The weight average of the members, or None unless they share the encoder's shape, the vocabulary and the
    fields of SERVING (members trained with different losses, e.g. --sts-loss, can be averaged)."""
    first = members[0]
    shapes = lambda c: {k: tuple(v.shape) for k, v in c.model.state_dict().items()}  # noqa: E731
    serving = lambda c: [getattr(c.model.config, f) for f in SERVING]  # noqa: E731
    if any(c.meta["bert_config"] != first.meta["bert_config"] or c.meta["vocab"] != first.meta["vocab"]
           or serving(c) != serving(first) or shapes(c) != shapes(first) for c in members[1:]):
        return None
    states = [c.model.state_dict() for c in members]
    avg = {k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v for k, v in states[0].items()}
    model = type(first.model)(type(first.model.bert)(first.model.bert.config), first.model.config,
                              tuple(first.model.tasks.values()))
    model.load_state_dict(avg)
    return Checkpoint(model.eval(), first.tokenizer, first.meta, first.path)


def summary(golds: dict, out: dict, tasks) -> dict:
    """Summary metrics of combined outputs (evaluate's keys, without per-task reports), with their 95% intervals."""
    scored = score_outputs(golds, out, {t.key: t for t in tasks})
    return {k: v for k, v in scored.items() if k != "tasks"} | confidence_intervals(golds, out)


def against(golds: dict, best: dict, out: dict, tasks) -> dict:
    """Per task: combination minus the best member, paired over the same dev examples."""
    return {t.metric: paired_bootstrap(t.key, golds[t.key], best[t.key], out[t.key])[
        "pearson" if t.is_score else "accuracy"] for t in tasks}


def run(specs: list[str], data_dir: str | None = None, batch_size: int = 64) -> dict:
    if not 2 <= len(specs) <= MAX_MEMBERS:
        raise ValueError(f"give between 2 and {MAX_MEMBERS} checkpoints to combine, not {len(specs)}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, not {batch_size}")
    for spec in specs:  # every sidecar readable before the first minute of inference
        read_sidecar(checkpoint_stem(Path(spec)))
    tasks = tuple(source_tasks(Path(specs[0])).values())
    if any([t.key for t in source_tasks(Path(s)).values()] != [t.key for t in tasks] for s in specs[1:]):
        raise ValueError("the members have different tasks: combine checkpoints trained on the same tasks")
    data = load_tasks(data_dir, tasks, need_train=False)
    splits, keys = data.dev, metric_keys(tasks)
    golds = {t: gold(ex) for t, ex in splits.items()}
    members, outs, rows = [], [], []
    for spec in specs:
        ckpt = load_checkpoint(checkpoint_stem(Path(spec)))
        metrics, out = evaluate_model(ckpt.model, ckpt.tokenizer, splits, batch_size)
        members.append(ckpt)
        outs.append(out)
        rows.append({"name": spec, **{k: metrics[k] for k in keys}})
    best = max(range(len(rows)), key=lambda i: rows[i]["overall"])
    res = {"keys": keys, "members": rows, "best_member": specs[best],
           "member_mean": {k: float(np.mean([r[k] for r in rows])) for k in keys},
           "member_sd": {k: float(np.std([r[k] for r in rows], ddof=1)) for k in keys}}
    combos = {"ensemble": average_outputs(outs, tasks)}
    souped = soup(members)
    if souped is not None:
        combos["soup"] = evaluate_model(souped.model, souped.tokenizer, splits, batch_size)[1]
    for name, out in combos.items():
        res[name] = {**summary(golds, out, tasks), "vs_best_member": against(golds, outs[best], out, tasks)}
    if souped is None:
        res["soup"] = {"skipped": ("the members differ in encoder shape, vocabulary or a serving setting (" + ", ".join(SERVING) + ")")}
    return res


def report(res: dict) -> list[str]:
    keys = res["keys"]
    fmt = lambda r: "  ".join(f"{r[k]:>{max(len(k), 6)}.4f}" for k in keys)  # noqa: E731
    lines = [f"{'':<34}" + "  ".join(f"{k:>{max(len(k), 6)}}" for k in keys)]
    lines += [f"{r['name'][-34:]:<34}{fmt(r)}" for r in res["members"]]
    sd = res["member_sd"]
    lines.append(f"{'members, mean':<34}{fmt(res['member_mean'])}")
    lines.append(f"{'members, sd':<34}" + "  ".join(f"{sd[k]:>{max(len(k), 6)}.4f}" for k in keys))
    for name in ("ensemble", "soup"):
        r = res[name]
        if "skipped" in r:
            lines.append(f"{name}: skipped ({r['skipped']})")
            continue
        lines.append(f"{name:<34}{fmt(r)}")
        lines += [f"  {key}: {r[key]:.4f} {r[key + '_ci95']}; minus the best member {d['ci95']} (p = {d['p_value']:.3f})"
                  for key, d in r["vs_best_member"].items()]
    lines.append(f"best member (by overall): {res['best_member']}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.ensemble", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help=f"2 to {MAX_MEMBERS} checkpoint stems or training run folders")
    add_data_dir(ap)
    add_threads(ap)
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    ap.add_argument("--out-json", default=None, help="write the full result to this JSON file")
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    try:
        res = run(a.checkpoints, a.data_dir, a.batch_size)
    except (CheckpointError, DataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(report(res)))
    if a.out_json:
        atomic_write_json(a.out_json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
