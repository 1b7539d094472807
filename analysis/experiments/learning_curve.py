"""How one task's dev score grows with its training data, and how much data a target score would need.

    python -m analysis.experiments.learning_curve --task para --sizes 1646,3293,6587,0 --seeds 11711,2 [--target 0.87]

The task is trained alone (the shipped recipe's settings, `--tasks TASK --train-limit N`) on a fresh random sample
of N training examples per size and seed (0: all of them), for --epochs epochs, and scored on its full dev set at
its best epoch. Every cell is a real run (finished runs are reused, stopped ones resumed). A least-squares line of
the dev score against log2(N) over every run gives the gain per doubling of the data (with its standard error)
and, extrapolated, the N at which the line reaches --target. Learning curves flatten as data grows, and the
smaller samples get fewer steps at a fixed epoch count, so the line overstates later gains: the extrapolated N is
a lower bound on the data the target needs, not an estimate of it.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minbert.cli import add_data_dir
from minbert.atomic import atomic_write_json
from minbert.checkpoint import read_sidecar, update_sidecar
from minbert.data import TaskData, load_tasks
from minbert.machine import machine_line
from minbert.tasks import PARA, SST, STS, get
from minbert.train.loop import task_splits
from minbert.train.recipe import parse_args as train_args

from analysis.experiments import runner
from analysis.experiments.runner import run_row

ALONE_FLAGS = {  # the tasks a curve can train alone (the built-ins), and the flags that keep the data seen at N
    PARA.key: ["--para-max", "0"],  # every sampled pair every epoch: the size is the data seen
    SST.key: ["--sst-phrases", "0"],  # whole sentences only: the phrases would add data at every size
    STS.key: [],
}


@dataclass
class CurveConfig:
    task: str = PARA.key  # the task trained alone
    sizes: tuple[int, ...] = (1646, 3293, 6587, 0)  # training examples per run (0: all)
    seeds: tuple[int, ...] = (11711, 2)  # every size runs each
    epochs: int = 2  # per run, the same at every size
    target: float | None = None  # dev score to extrapolate to
    threads: int = 0  # torch threads per run (0: torch's default)
    out: str = "runs/curve-para"  # folder for the runs and curve.json (the CLI's default: runs/curve-TASK)
    sidecar: str | None = None  # checkpoint whose sidecar receives the curve (key 'learning_curves', by task)
    table_only: bool = False  # train nothing: the curve of the runs already finished
    dev_limit: int = 0  # score a fixed sample of N dev examples (0: the full dev set; a limit is for smoke tests)
    data_dir: str | None = None  # task data folder (None: the usual search)
    base_model: str | None = None  # HF-format BERT directory to start from (None: the bundled all-MiniLM-L6-v2)


def fit_line(n: list[int], y: list[float]) -> dict:
    """Least squares y = a + b log2(n) over every run: b is the gain per doubling; its standard error from the
    residuals (None with fewer than three runs or a single size)."""
    x, y = np.log2(np.asarray(n, dtype=float)), np.asarray(y, dtype=float)
    if len(set(x.tolist())) < 2:
        return {"intercept": None, "per_doubling": None, "per_doubling_se": None}
    b, a = np.polyfit(x, y, 1)
    se = None
    if len(x) > 2:
        resid = y - (a + b * x)
        se = float(math.sqrt(resid @ resid / (len(x) - 2) / ((x - x.mean()) @ (x - x.mean()))))
    return {"intercept": float(a), "per_doubling": float(b), "per_doubling_se": se}


def size_for(line: dict, target: float) -> float | None:
    """Training examples at which the line reaches target (None where the line does not rise)."""
    if not line["per_doubling"] or line["per_doubling"] <= 0:
        return None
    return float(2 ** ((target - line["intercept"]) / line["per_doubling"]))


def summarise(cells: dict[int, dict[int, tuple[int, float, float]]], task: str, target: float | None) -> dict:
    """cells: size flag -> seed -> (training examples used, dev score, minutes). Rows by size, and the line."""
    rows = []
    for size, per_seed in cells.items():
        used = [c[0] for c in per_seed.values()]
        v = np.array([c[1] for c in per_seed.values()])
        rows.append({"size": size, "examples": int(round(np.mean(used))), "seeds": sorted(per_seed),
                     "values": v.round(4).tolist(), "mean": float(v.mean()),
                     "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
                     "minutes": float(np.mean([c[2] for c in per_seed.values()]))})
    rows.sort(key=lambda r: r["examples"])
    points = [(c[0], c[1]) for per_seed in cells.values() for c in per_seed.values()]
    line = fit_line([p[0] for p in points], [p[1] for p in points])
    out = {"kind": "learning_curve", "task": task, "metric": get(task).metric, "rows": rows, "line": line,
           "target": target}
    if target is not None:
        out["examples_for_target"] = size_for(line, target)
    return out


def markdown(curve: dict) -> str:
    name = get(curve["task"]).title
    lines = [f"| training examples | seeds | {name} | minutes/run |", "|---|---|---|---|"]
    for r in curve["rows"]:
        s = f"{r['mean']:.4f}" + (f" ± {r['sd']:.4f}" if r["sd"] is not None else "")
        lines.append(f"| {r['examples']:,} | {len(r['seeds'])} | {s} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def verdict(curve: dict) -> str:
    line = curve["line"]
    if line["per_doubling"] is None:
        return "one size only: no line"
    se = f" ± {line['per_doubling_se']:.4f}" if line["per_doubling_se"] is not None else ""
    text = f"gain per doubling of the training data: {line['per_doubling']:+.4f}{se} (least squares over every run)"
    if curve.get("target") is not None:
        n = curve.get("examples_for_target")
        text += (f"; the line reaches {curve['target']} at about {n:,.0f} training examples, a lower bound "
                 "(curves flatten)" if n else f"; the line does not rise, so it never reaches {curve['target']}")
    return text


def cell_flags(cfg: CurveConfig, size: int, seed: int) -> list[str]:
    where = [*(["--data-dir", cfg.data_dir] if cfg.data_dir else []),
             *(["--base-model", cfg.base_model] if cfg.base_model else [])]
    return ["--tasks", cfg.task, *ALONE_FLAGS[cfg.task], "--sst-layers", "0",  # one task alone: nothing to keep apart
            "--ema", "0",  # the live weights, as the curves' finished runs were scored
            "--train-limit", str(size), "--epochs", str(cfg.epochs),
            "--seed", str(seed), "--threads", str(cfg.threads), "--dev-limit", str(cfg.dev_limit), *where]


def examples_used(cfg: CurveConfig, size: int, seed: int, data: TaskData) -> int:
    """Training examples the run's split gives the task (after --para-val's held-out pairs)."""
    c = train_args(cell_flags(cfg, size, seed))
    return len(task_splits(data, list(c.tasks), seed=c.seed, limit=c.limit, train_limit=c.train_limit,
                           dev_limit=c.dev_limit, para_val=c.para_val, train_eval_size=c.train_eval_size)
               .train[cfg.task])


def run_curve(cfg: CurveConfig) -> dict:
    """Train every size at every seed (seed-major, resumable) and write out/curve.json after each run."""
    data, out = load_tasks(cfg.data_dir), Path(cfg.out)
    cells: dict[int, dict[int, tuple[int, float, float]]] = {}
    curve = summarise(cells, cfg.task, cfg.target)
    for seed in cfg.seeds:
        for size in cfg.sizes:
            name = f"{cfg.task}-n{size or 'all'}-seed{seed}"
            if cfg.table_only and not (out / name / "model.json").exists():
                continue
            r = run_row(name, cell_flags(cfg, size, seed), out, [])
            value = dict(zip(runner.METRICS, r[1:]))[get(cfg.task).metric]
            minutes = r[1 + len(runner.METRICS)]
            cells.setdefault(size, {})[seed] = (examples_used(cfg, size, seed, data), value, minutes)
            curve = summarise(cells, cfg.task, cfg.target)
            curve["title"] = (f"{get(cfg.task).title} against training examples: {cfg.task} alone, {cfg.epochs} "
                              f"epoch(s), full dev set, seeds {','.join(map(str, cfg.seeds))}, {machine_line()}")
            atomic_write_json(out / "curve.json", curve)  # a partial curve survives an interruption
            print(f"{name}: {value:.4f} ({minutes:.1f} min)", flush=True)
    return curve


def parse_args(argv=None) -> CurveConfig:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiments.learning_curve", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(ALONE_FLAGS), default=PARA.key, help="the task to train alone")
    ap.add_argument("--sizes", default="1646,3293,6587,0", help="comma-separated training examples per run "
                    "(0: all; Quora has 13,174 after the 1,000 held out for the threshold)")
    ap.add_argument("--seeds", default="11711,2", help="comma-separated seeds; every size runs each")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per run, the same at every size")
    ap.add_argument("--target", type=float, default=None, help="dev score to extrapolate the line to")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per run (0: torch's default)")
    ap.add_argument("--out", default=None, help="folder for the runs and curve.json (default runs/curve-TASK)")
    ap.add_argument("--sidecar", default=None,
                    help="checkpoint whose sidecar receives the curve (key 'learning_curves', by task)")
    ap.add_argument("--table-only", action="store_true", help="train nothing: the curve of the runs already finished")
    ap.add_argument("--dev-limit", type=int, default=0, help="score a fixed sample of N dev examples (0: the full "
                    "dev set, as a curve needs; a limit is for smoke tests)")
    add_data_dir(ap)
    ap.add_argument("--base-model", default=None, help="HF-format BERT directory to start from (default: the "
                    "bundled all-MiniLM-L6-v2)")
    a = ap.parse_args(argv)
    try:
        sizes = tuple(int(s) for s in a.sizes.split(","))
        seeds = tuple(int(s) for s in a.seeds.split(","))
    except ValueError:
        ap.error(f"--sizes and --seeds must be comma-separated whole numbers, got {a.sizes!r} and {a.seeds!r}")
    if any(s < 0 for s in sizes) or len(set(sizes)) != len(sizes):
        ap.error("--sizes must be distinct whole numbers, 0 or more")
    if a.epochs < 1 or a.threads < 0 or a.dev_limit < 0:
        ap.error("--epochs must be at least 1, --threads and --dev-limit 0 or more")
    return CurveConfig(a.task, sizes, seeds, a.epochs, a.target, a.threads, a.out or f"runs/curve-{a.task}",
                       a.sidecar, a.table_only, a.dev_limit, a.data_dir, a.base_model)


def main(argv=None) -> int:
    cfg = parse_args(argv)
    curve = run_curve(cfg)
    print(f"\n{curve.get('title', '')}\n\n{markdown(curve)}\n\n{verdict(curve)}")
    if cfg.sidecar:  # one curve per task, beside the others already recorded
        update_sidecar(cfg.sidecar, learning_curves={**(read_sidecar(cfg.sidecar).get("learning_curves") or {}),
                                                     cfg.task: curve})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
