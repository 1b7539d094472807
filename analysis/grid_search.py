"""Small grid search on short budgets, as the report tuned: learning rate x dropout x STS loss weight.

    python -m analysis.grid_search [--out runs/grid] [--sidecar checkpoints/minbert-multitask]
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from .experiments import markdown, run_table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.grid_search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/grid", help="folder for the runs and table.json")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table")
    ap.add_argument("--lr", default="2e-5,5e-5,1e-4", help="comma-separated learning rates")
    ap.add_argument("--sst-dropout", default="0.3", help="comma-separated sentiment dropouts")
    ap.add_argument("--sts-weight", default="1,2", help="comma-separated STS loss weights")
    ap.add_argument("--train-limit", type=int, default=640, help="training examples per task (short budget)")
    ap.add_argument("--dev-limit", type=int, default=600, help="dev examples per task (short budget)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per configuration")
    ap.add_argument("--base-flags", default="", help="flags shared by every configuration (default: the default recipe)")
    a = ap.parse_args(argv)
    budget = ["--train-limit", str(a.train_limit), "--dev-limit", str(a.dev_limit), "--epochs", str(a.epochs),
              *a.base_flags.split()]
    grid = itertools.product(a.lr.split(","), a.sst_dropout.split(","), a.sts_weight.split(","))
    rows = [(f"lr {lr} / dropout {d} / sts weight {w}", ["--lr", lr, "--sst-dropout", d, "--sts-weight", w])
            for lr, d, w in grid]
    title = (f"Grid search (short budget: {a.train_limit} training and {a.dev_limit} dev examples per task, "
             f"{a.epochs} epoch(s), 2-core CPU)")
    table = run_table(rows, Path(a.out), budget, title, a.sidecar)
    print(f"\n{title}\n\n{markdown(table)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
