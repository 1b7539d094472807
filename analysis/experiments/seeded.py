"""Tables of training runs over several seeds: mean ± sd per row, and which differences exceed the seed spread.

The engine of `analysis.experiments.levers` and `analysis.experiments.grid_search`. Every cell is a real run made by
`experiments.run_row` (finished runs are reused, stopped ones resumed), seed-major so that a partial table
already has every row. A row's difference from its reference row (the table's, or its own `parent`, as in a
cumulative ablation) is marked ✓ when the two rows' ranges over seeds do not overlap.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minbert.atomic import atomic_write_json

from minbert.tasks import TASKS

from analysis.experiments import runner
from analysis.experiments.runner import run_row



def column_name(task) -> str:
    """A task's metric as a short column name: "SST-5 acc", "STS-B r"."""
    return f"{task.name} {'r' if task.is_score else 'acc'}"


METRICS = list(zip(runner.METRICS, [*map(column_name, TASKS.values()), "overall"]))  # (key, column) of every table


@dataclass
class Row:
    key: str  # short id; also the run folders' prefix (KEY-seedN)
    name: str  # shown in the table
    flags: list[str]  # added to the shipped recipe
    parent: str | None = None  # key of the row it is compared with (None: the table's reference)


def run_name(key: str, seed: int) -> str:
    return f"{key}-seed{seed}"  # also its folder name under out (experiments.run_row keeps it)


def summarise(runs: dict[str, dict[int, dict]], rows: list[Row], reference: str = "baseline") -> dict:
    """runs: row key -> seed -> dev metrics. Mean, sd (ddof 1) and values per metric; marks against `reference`."""
    out = []
    for row in rows:
        per_seed = runs.get(row.key, {})
        if not per_seed:
            continue
        r = {"key": row.key, "name": row.name, "flags": " ".join(row.flags), "seeds": sorted(per_seed)}
        for m, _ in METRICS:
            v = np.array([per_seed[s][m] for s in sorted(per_seed)])
            r[m] = {"values": v.round(4).tolist(), "mean": float(v.mean()),
                    "sd": float(v.std(ddof=1)) if len(v) > 1 else None}
        out.append(r)
    by_key = {r["key"]: r for r in out}
    for row, r in zip([row for row in rows if row.key in by_key], out):
        ref = by_key.get(row.parent if row.parent is not None else reference)
        if ref is None or r is ref:
            continue
        r["against"] = ref["key"]
        for m, _ in METRICS:
            a, b = r[m]["values"], ref[m]["values"]
            r[m]["delta"] = r[m]["mean"] - ref[m]["mean"]
            r[m]["exceeds_spread"] = len(a) > 1 and len(b) > 1 and (min(a) > max(b) or max(a) < min(b))
    return {"kind": "seeded", "reference": reference, "rows": out}


def columns(table: dict) -> list[str]:
    return [table.get("row_label", "lever"), "seeds", *(n for _, n in METRICS), "minutes/run"]


def cells(table: dict) -> list[list[str]]:
    """One row of text cells per row: mean ± sd, and (delta, ✓ beyond the seed spread) against its reference row,
    named where it is neither the table's reference nor the row above."""
    out, names = [], {r["key"]: r["name"].split(" (")[0].strip(" .+") for r in table["rows"]}
    for before, r in zip([None, *table["rows"]], table["rows"]):
        against = r.get("against")
        said = against in (table.get("reference"), before and before["key"])  # the reference or the row above
        row = [r["name"] + ("" if against is None or said else f" [vs {names[against]}]"), str(len(r["seeds"]))]
        for m, _ in METRICS:
            c = r[m]
            s = f"{c['mean']:.4f}" + (f" ± {c['sd']:.4f}" if c["sd"] is not None else "")
            if "delta" in c:
                s += f" ({c['delta']:+.4f}{' ✓' if c['exceeds_spread'] else ''})"
            row.append(s)
        out.append(row + [f"{r.get('minutes', float('nan')):.1f}"])
    return out


def markdown(table: dict) -> str:
    cols = columns(table)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells(table)])


def add_budget_args(ap: argparse.ArgumentParser, what: str = "row") -> None:
    """The flags every seeded table shares: seeds, the per-run budget, threads, --table-only."""
    ap.add_argument("--seeds", default="11711,2,3", help=f"comma-separated seeds; every {what} runs each")
    ap.add_argument("--train-limit", type=int, default=4000, help="training examples per task per run (0: all)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run")
    ap.add_argument("--dev-limit", type=int, default=0, help="score a fixed sample of N dev examples per task "
                    "(0: the full dev sets, as decisions need; a limit is for smoke tests)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per run (0: torch's default; 1 lets two "
                    "tables share 2 cores; finished runs are reused whatever their thread count)")
    ap.add_argument("--table-only", action="store_true", help="train nothing: the table of the runs already finished")


def budget_of(ap: argparse.ArgumentParser, a: argparse.Namespace) -> tuple[list[int], list[str], str]:
    """(seeds, the train flags of the budget, the dev sets in words) from add_budget_args' flags."""
    try:
        seeds = [int(s) for s in a.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds must be comma-separated whole numbers, got {a.seeds!r}")
    if a.threads < 0:
        ap.error("--threads must be 0 (torch's default) or more")
    budget = ["--train-limit", str(a.train_limit), "--epochs", str(a.epochs), "--dev-limit", str(a.dev_limit),
              "--threads", str(a.threads)]
    return seeds, budget, f"{a.dev_limit} dev examples per task" if a.dev_limit else "full dev sets"


def run_seeded(rows: list[Row], seeds: list[int], out: Path, budget: list[str], title: str, *,
               reference: str = "baseline", row_label: str = "lever", table_only: bool = False,
               out_name: str = "table.json") -> dict:
    """Train every row at every seed (seed-major, resumable) and write out/OUT_NAME after each run."""
    runs: dict[str, dict[int, dict]] = {}
    minutes: dict[str, list[float]] = {}
    table = {"title": title, "budget": " ".join(budget), "row_label": row_label, "kind": "seeded", "rows": []}
    for seed in seeds:
        for row in rows:
            if table_only and not (out / run_name(row.key, seed) / "model.json").exists():
                continue
            r = run_row(run_name(row.key, seed), [*row.flags, "--seed", str(seed)], out, budget)
            runs.setdefault(row.key, {})[seed] = dict(zip([m for m, _ in METRICS], r[1:1 + len(METRICS)]))
            minutes.setdefault(row.key, []).append(r[1 + len(METRICS)])
            table = {"title": title, "budget": " ".join(budget), "row_label": row_label,
                     **summarise(runs, rows, reference)}
            for t in table["rows"]:
                t["minutes"] = float(np.mean(minutes[t["key"]]))
            atomic_write_json(out / out_name, table)  # a partial table survives an interruption
            print(f"{row.key} seed {seed}: " + " ".join(f"{n} {v:.4f}" for (_, n), v in zip(METRICS, r[1:])),
                  flush=True)
    return table
