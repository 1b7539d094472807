"""Decision-grade lever table: each lever added alone to the first shipped recipe (BASE), several seeds, full dev sets.

    python -m analysis.experiments.levers [--out runs/levers] [--seeds 11711,2,3] [--rows baseline,phrases,...]

Every cell is a real training run made by this script (resumable: finished runs are reused, so an interrupted
table continues where it stopped), at a budget stated in the table: --train-limit training examples per task
(a fresh sample per seed), --epochs epochs, scored on the full dev sets. Runs go seed by seed, so a partial
table already has every row. A row's difference from the baseline is marked when the two rows' ranges over
seeds do not overlap (the difference exceeds the seed spread).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from minbert.checkpoint import update_sidecar
from minbert.machine import machine_line

from analysis.experiments.seeded import Row, add_budget_args, budget_of, markdown, run_seeded

BASE = ["--sst-phrases", "0", "--para-max", "10000",
        "--para-val", "0", "--sst-layers", "0", "--ema", "0"]  # the first shipped recipe: every lever row starts here
LEVERS = {  # key -> (row name, flags added to BASE)
    "baseline": ("baseline (the first shipped recipe: no phrases, one-hot SST loss)", []),
    "phrases": ("+ SST treebank phrases (9,000 per epoch)", ["--sst-phrases", "9000"]),
    "ema": ("+ EMA of the weights (decay 0.99 per step)", ["--ema", "0.99"]),
    "mlm": ("+ MLM further pretraining (1 epoch over the training sentences)", ["--mlm-epochs", "1"]),
    "threshold": ("+ paraphrase threshold fit on 1,000 Quora training pairs held out of training",
                  ["--para-val", "1000"]),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiments.levers", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/levers", help="folder for the runs and table.json")
    ap.add_argument("--rows", default="baseline,phrases,ema,mlm", help=f"levers, from {','.join(LEVERS)}")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table (key 'levers')")
    add_budget_args(ap)
    a = ap.parse_args(argv)
    order = [k.strip() for k in a.rows.split(",") if k.strip()]
    unknown = [k for k in order if k not in LEVERS]
    if unknown:
        ap.error(f"unknown lever(s) {unknown}; choose from {', '.join(LEVERS)}")
    seeds, budget, dev = budget_of(ap, a)
    out = Path(a.out)
    title = (f"Levers, each added alone to the first shipped recipe: {a.train_limit or 'all'} training examples per task, "
             f"{a.epochs} epoch(s), {dev}, seeds {a.seeds}, {machine_line()}; mean ± sd over seeds "
             "(delta vs baseline, ✓ where the seed ranges do not overlap)")
    rows = [Row(k, LEVERS[k][0], [*BASE, *LEVERS[k][1]]) for k in order]
    table = run_seeded(rows, seeds, out, budget, title, table_only=a.table_only)
    print(f"\n{title}\n\n{markdown(table)}")
    if a.sidecar:
        update_sidecar(a.sidecar, levers=table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
