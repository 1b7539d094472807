"""Compare two models on the same dev examples: did the change really help, and where?

    python -m analysis.compare A B [--out-json F] [--data-dir DIR]

A and B name a checkpoint (stem, .json or .safetensors), a training run folder, or either of them followed
by @epochN for that epoch of the run that made it (training records every epoch's dev predictions, without
weights). So `python -m analysis.compare checkpoints/minbert-multitask@epoch1 checkpoints/minbert-multitask`
compares the shipped model with its own first epoch. Per task it reports B - A with a paired bootstrap 95%
interval, McNemar's exact test (SST, Quora) or a paired bootstrap p-value (STS r), the confusion-matrix
difference, and the flipped examples both ways. Every task the two have in common is compared, added tasks too
(classes tasks like SST-5, score tasks like STS-B).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minbert.atomic import atomic_write_json
from minbert.checkpoint import CheckpointError, paths, read_sidecar
from minbert.train.epoch_predictions import FILE as EPOCH_FILE
from minbert.evaluate.metrics import pearson
from minbert.tasks import Task, TaskSpecError, model_tasks

from analysis.precompute import results_paths
from analysis.significance import mcnemar, paired_bootstrap

MAX_FLIPS = 2000  # per direction kept in the JSON


class CompareError(ValueError):
    """A source that names nothing comparable."""


@dataclass
class Source:
    name: str
    outputs: dict[str, dict]  # task key -> {"ids", "gold", "pred"/"prob"/"score"}
    tasks: dict[str, Task]  # task key -> Task, of the checkpoint (old sidecars: the three built-ins)


def split_spec(spec: str) -> tuple[Path, int | None]:
    m = re.fullmatch(r"(.+?)@epoch(\d+)", spec.strip())
    return (Path(m.group(1)), int(m.group(2))) if m else (Path(spec.strip()), None)


def checkpoint_stem(path: Path) -> Path:
    """The checkpoint a spec names: a run folder's fp16 export, else the stem of a .json/.safetensors path."""
    return path / "model" if path.is_dir() else paths(path)[0].with_suffix("")


def _epoch_data(path: Path) -> dict | None:
    """The run's per-epoch record: from a run folder's file, else from the checkpoint's sidecar."""
    run_file = (path if path.is_dir() else checkpoint_stem(path).parent) / EPOCH_FILE
    if path.is_dir() and run_file.is_file():
        return json.loads(run_file.read_text())
    try:
        return read_sidecar(checkpoint_stem(path)).get("epoch_predictions")
    except CheckpointError:
        return json.loads(run_file.read_text()) if run_file.is_file() else None


def _from_record(data: dict, rec: dict) -> dict[str, dict]:
    return {t: {**data["dev"][t], **rec["tasks"][t]} for t in rec["tasks"] if t in data["dev"]}


def source_tasks(path: Path) -> dict[str, Task]:
    """The tasks of the checkpoint a spec names, from its sidecar (the built-ins where it names none or is absent)."""
    try:
        specs = read_sidecar(checkpoint_stem(path)).get("tasks", [])
        return {t.key: t for t in model_tasks([Task.from_dict(d) for d in specs])}
    except (CheckpointError, TaskSpecError):
        return {t.key: t for t in model_tasks(())}


def load_source(spec: str) -> Source:
    """Dev predictions of `spec` without running a model: an epoch record, the .dev.json of precomputed
    results, or a run's final record. CompareError says what is missing."""
    path, epoch = split_spec(spec)
    if not path.exists() and not paths(path)[1].is_file():
        raise CompareError(f"{path}: no such checkpoint or run folder")
    data, tasks = _epoch_data(path), source_tasks(path)
    if epoch is not None:
        recs = {r["epoch"]: r for r in (data or {}).get("epochs", [])}
        if epoch not in recs:
            have = ", ".join(f"@epoch{e}" for e in sorted(recs)) or "none"
            raise CompareError(f"{path} has no dev predictions of epoch {epoch} (recorded: {have})")
        return Source(spec, _from_record(data, recs[epoch]), tasks)
    dev_json = results_paths(checkpoint_stem(path))[0]
    if dev_json.is_file():
        preds = json.loads(dev_json.read_text())["predictions"]
        return Source(spec, {t: preds[t] for t in tasks if t in preds}, tasks)
    if data and "final" in data:
        return Source(spec, _from_record(data, data["final"]), tasks)
    raise CompareError(f"{path} has no stored dev predictions: run `python -m analysis.precompute --checkpoint "
                       f"{checkpoint_stem(path)}` (or name an @epochN record)")


def list_sources(roots=("checkpoints", "runs")) -> list[str]:
    """Every spec load_source accepts under these folders (no model is run to list or load them)."""
    found = []
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for side in sorted(root.glob("**/*.json")):
            if side.name.endswith(".dev.json") or side.name == EPOCH_FILE or side.parent.name.startswith("."):
                continue
            if side.name in ("config.json", "log.json", "state.json", "best.json"):
                continue
            found += specs_of(side.with_suffix(""))
    return list(dict.fromkeys(found))


def specs_of(stem: Path) -> list[str]:
    """The checkpoint itself (when it has stored dev predictions) and each of its @epochN records."""
    try:
        side = read_sidecar(stem)
    except CheckpointError:
        return []
    if "weights_file" not in side:
        return []
    data = side.get("epoch_predictions") or {}
    out = [str(stem)] if results_paths(stem)[0].is_file() or "final" in data else []
    return out + [f"{stem}@epoch{r['epoch']}" for r in data.get("epochs", [])]


def _aligned(a: dict, b: dict, task: Task) -> tuple[np.ndarray, dict, dict, list[str]]:
    pos = {i: k for k, i in enumerate(b["ids"])}
    ids = [i for i in a["ids"] if i in pos]
    if not ids:
        raise CompareError(f"{task.name}: the two sources share no dev examples")
    pos_a = {i: k for k, i in enumerate(a["ids"])}
    ia = np.array([pos_a[i] for i in ids])
    ib = np.array([pos[i] for i in ids])
    keys = [k for k in ("pred", "prob", "score") if k in a and k in b]
    out_a = {k: np.asarray(a[k])[ia] for k in keys}
    out_b = {k: np.asarray(b[k])[ib] for k in keys}
    return np.asarray(a["gold"], float)[ia], out_a, out_b, ids


def compare(a: Source, b: Source) -> dict:
    """Per-task differences B - A, with intervals, tests, confusion difference and flips."""
    report = {"a": a.name, "b": b.name, "tasks": {}}
    for key, task in a.tasks.items():
        if key in a.outputs and key in b.outputs and task.kind == b.tasks.get(key, task).kind:
            report["tasks"][key] = compare_task(task, *_aligned(a.outputs[key], b.outputs[key], task))
    if not report["tasks"]:
        raise CompareError("the two sources have no task in common")
    return report


def compare_task(task: Task, gold: np.ndarray, out_a: dict, out_b: dict, ids: list[str]) -> dict:
    """One task's comparison; the report names the task and its classes (None for a score task) for its readers."""
    m = "pearson" if task.is_score else "accuracy"
    ma, mb = (_metric(task, gold, o) for o in (out_a, out_b))
    boot = paired_bootstrap(task.key, gold, out_a, out_b)
    res = {"name": task.name, "classes": list(task.classes) if task.classes else None, "n": len(ids), "metric": m,
           "a": ma, "b": mb, "diff": mb - ma, "ci95": boot[m]["ci95"], "bootstrap_p": boot[m]["p_value"]}
    if task.is_score:
        err_a, err_b = np.abs(out_a["score"] - gold), np.abs(out_b["score"] - gold)
        order = np.argsort(err_b - err_a)  # most improved first
        rows = [{"id": ids[i], "gold": float(gold[i]), "a": round(float(out_a["score"][i]), 3),
                 "b": round(float(out_b["score"][i]), 3)} for i in order]
        moved = [r for r in rows if r["a"] != r["b"]]
        res.update(p_value=boot[m]["p_value"], test="paired bootstrap of Pearson r",
                   closer_in_b=[r for r in moved if abs(r["b"] - r["gold"]) < abs(r["a"] - r["gold"])][:MAX_FLIPS],
                   closer_in_a=[r for r in moved[::-1] if abs(r["a"] - r["gold"]) < abs(r["b"] - r["gold"])][:MAX_FLIPS])
        return res
    g, pa, pb = gold.astype(int), out_a["pred"].astype(int), out_b["pred"].astype(int)
    test = mcnemar(pa == g, pb == g)
    k = task.num_classes
    conf_a, conf_b = _confusion(g, pa, k), _confusion(g, pb, k)
    flips = {"a_right_b_wrong": np.flatnonzero((pa == g) & (pb != g)), "a_wrong_b_right": np.flatnonzero((pa != g) & (pb == g))}
    res.update(p_value=test["p_value"], test="McNemar exact", mcnemar=test, confusion_a=conf_a.tolist(),
               confusion_b=conf_b.tolist(), confusion_diff=(conf_b - conf_a).tolist(),
               **{name: [{"id": ids[i], "gold": int(g[i]), "a": int(pa[i]), "b": int(pb[i])} for i in idx[:MAX_FLIPS]]
                  for name, idx in flips.items()})
    return res


def _metric(task: Task, gold: np.ndarray, out: dict) -> float:
    if task.is_score:
        return float(pearson(out["score"], gold))
    return float((out["pred"].astype(int) == gold.astype(int)).mean())


def _confusion(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(gold * k + pred, minlength=k * k).reshape(k, k)  # rows gold, columns predicted


def summary_markdown(report: dict) -> str:
    lines = [f"B = `{report['b']}` against A = `{report['a']}` (B - A, paired over the same dev examples)", "",
             "| task | metric | A | B | B - A | 95% CI | test | p |", "|---|---|---|---|---|---|---|---|"]
    for t, r in report["tasks"].items():
        lines.append(f"| {r['name']} | {r['metric']} | {r['a']:.4f} | {r['b']:.4f} | {r['diff']:+.4f} | "
                     f"[{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}] | {r['test']} | {r['p_value']:.3g} |")
    for r in report["tasks"].values():
        if "mcnemar" in r:
            m = r["mcnemar"]
            lines.append(f"\n{r['name']}: {m['a_right_b_wrong']} examples A right and B wrong, "
                         f"{m['a_wrong_b_right']} the reverse.")
    return "\n".join(lines)


def summary_text(report: dict) -> str:
    """summary_markdown as plain text, a line per task (the app's API answers in plain text)."""
    lines = [f"B = {report['b']} against A = {report['a']} (B - A, paired over the same dev examples)"]
    for r in report["tasks"].values():
        lines.append(f"{r['name']} {r['metric']}: A {r['a']:.4f}, B {r['b']:.4f}, B - A {r['diff']:+.4f} "
                     f"(95% CI [{r['ci95'][0]:+.4f}, {r['ci95'][1]:+.4f}]), {r['test']} p = {r['p_value']:.3g}"
                     + (f"; {r['mcnemar']['a_right_b_wrong']} examples A right and B wrong, "
                        f"{r['mcnemar']['a_wrong_b_right']} the reverse" if "mcnemar" in r else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", nargs="?", help="model A: checkpoint, run folder, or either with @epochN")
    ap.add_argument("b", nargs="?", help="model B, compared against A (differences are B - A)")
    ap.add_argument("--out-json", default=None, help="write the whole report (with every flip) to this file")
    ap.add_argument("--list", action="store_true", help="only list the sources found under checkpoints/ and runs/")
    args = ap.parse_args(argv)
    if args.list or not args.b:
        print("\n".join(list_sources()) or "no comparable sources under checkpoints/ or runs/")
        return 0 if args.list else 2
    try:
        report = compare(load_source(args.a), load_source(args.b))
    except (CompareError, CheckpointError, OSError, json.JSONDecodeError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary_markdown(report))
    if args.out_json:
        atomic_write_json(args.out_json, report)
        print(f"\nwrote {args.out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
