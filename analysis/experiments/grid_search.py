"""Grid search over the encoder learning rate and the sentiment dropout, as the report tuned, over seeds.

    python -m analysis.experiments.grid_search [--lr 2e-5,5e-5,1e-4] [--sst-dropout 0.3] [--seeds 11711,2,3]

Every cell is the lever table's baseline recipe (`analysis.experiments.levers.BASE`) with the two values set, trained at
each seed at the lever table's budget (--train-limit examples per task, --epochs, full dev sets) and shown
as mean ± sd, with its difference from the recipe's own values (lr 5e-5, dropout 0.3) marked ✓ where the seed
ranges do not overlap. The cell at the recipe's values is the lever table's baseline run: with the same --out
the runs are shared. Resumable run by run.

The report's third axis, the STS loss weight, is not searched: with one task per step and the gradient norm
clipped to 1, a constant factor on one task's loss is normalised away (the short-budget grid measured no
difference at all); the task loss weights retired (docs/EXPERIMENTS.md).
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from minbert.checkpoint import update_sidecar
from minbert.machine import machine_line
from minbert.train.recipe import TrainConfig

from analysis.experiments.levers import BASE
from analysis.experiments.seeded import Row, add_budget_args, budget_of, markdown, run_seeded


def grid_rows(lrs: list[str], dropouts: list[str]) -> list[Row]:
    """One row per cell; the cell at the recipe's own values is keyed 'baseline', as in the lever table."""
    d = TrainConfig()
    rows = []
    for lr, p in itertools.product(lrs, dropouts):
        own = float(lr) == d.lr and float(p) == d.sst_dropout
        key = "baseline" if own else f"lr{lr}-drop{p}"
        name = f"lr {lr} / dropout {p}"
        flags = [] if own else ["--lr", lr, "--sst-dropout", p]
        rows.append(Row(key, name + (" (the recipe's values)" if own else ""), [*BASE, *flags]))
    return sorted(rows, key=lambda r: r.key != "baseline")  # the reference first


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiments.grid_search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/levers", help="folder for the runs and table.json (shared with "
                    "analysis.experiments.levers, whose baseline runs are the grid's reference cell)")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table (key 'grid_search')")
    ap.add_argument("--lr", default="2e-5,5e-5,1e-4", help="comma-separated encoder learning rates")
    ap.add_argument("--sst-dropout", default="0.3", help="comma-separated sentiment dropouts")
    add_budget_args(ap, "cell")
    a = ap.parse_args(argv)
    try:
        split = [[v.strip() for v in s.split(",") if v.strip()] for s in (a.lr, a.sst_dropout)]
        [float(v) for vs in split for v in vs]
    except ValueError as e:
        ap.error(f"grid values must be comma-separated numbers ({e})")
    seeds, budget, dev = budget_of(ap, a)
    rows = grid_rows(*split)
    title = (f"Grid search on the lever table's baseline: {a.train_limit or 'all'} training examples per task, "
             f"{a.epochs} epoch(s), {dev}, seeds {a.seeds}, {machine_line()}; mean ± sd over seeds "
             "(delta vs the recipe's values, ✓ where the seed ranges do not overlap)")
    table = run_seeded(rows, seeds, Path(a.out), budget, title, row_label="cell", table_only=a.table_only,
                       out_name="grid_table.json")
    print(f"\n{title}\n\n{markdown(table)}")
    if a.sidecar:
        update_sidecar(a.sidecar, grid_search=table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
