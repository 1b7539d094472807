"""Decision-grade lever table: each lever added alone to the shipped recipe, several seeds, full dev sets.

    python -m analysis.levers [--out runs/levers] [--seeds 11711,2,3] [--rows baseline,phrases,...]

Every cell is a real training run made by this script (resumable: finished runs are reused, so an interrupted
table continues where it stopped), at a budget stated in the table: --train-limit training examples per task
(a fresh sample per seed), --epochs epochs, scored on the full dev sets. Runs go seed by seed, so a partial
table already has every row. A row's difference from the baseline is marked when the two rows' ranges over
seeds do not overlap (the difference exceeds the seed spread).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from minbert.atomic import atomic_write_json
from minbert.checkpoint import update_sidecar

from .experiments import run_row

LEVERS = {  # key -> (row name, flags added to the shipped recipe)
    "baseline": ("baseline (the shipped recipe)", []),
    "phrases": ("+ SST treebank phrases (9,000 per epoch)", ["--sst-phrases", "9000"]),
    "ordinal": ("+ ordinal SST loss (soft labels, sigma 0.5)", ["--sst-ordinal", "0.5"]),
    "llrd": ("+ layer-wise LR decay 0.9", ["--layer-decay", "0.9"]),
    "ema": ("+ EMA of the weights (decay 0.99 per step)", ["--ema", "0.99"]),
    "mnrl": ("+ in-batch negatives on Quora positives (MNRL, weight 1)", ["--mnrl-weight", "1"]),
    "mlm": ("+ MLM further pretraining (1 epoch over the training sentences)", ["--mlm-epochs", "1"]),
}
METRICS = [("sst_acc", "SST acc"), ("para_acc", "Quora acc"), ("sts_pearson", "STS r"), ("overall", "overall")]


def summarise(runs: dict[str, dict[int, dict]], order: list[str]) -> dict:
    """runs: lever -> seed -> dev metrics. Mean, sd (ddof 1) and range per metric; marks against baseline."""
    rows = []
    for key in order:
        per_seed = runs.get(key, {})
        if not per_seed:
            continue
        row = {"lever": key, "name": LEVERS[key][0], "flags": " ".join(LEVERS[key][1]), "seeds": sorted(per_seed)}
        for m, _ in METRICS:
            v = np.array([per_seed[s][m] for s in sorted(per_seed)])
            row[m] = {"values": v.round(4).tolist(), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None}
        rows.append(row)
    base = next((r for r in rows if r["lever"] == "baseline"), None)
    for r in rows:
        for m, _ in METRICS:
            if base is None or r is base:
                continue
            a, b = r[m]["values"], base[m]["values"]
            r[m]["delta"] = r[m]["mean"] - base[m]["mean"]
            r[m]["exceeds_spread"] = len(a) > 1 and len(b) > 1 and (min(a) > max(b) or max(a) < min(b))
    return {"rows": rows}


COLUMNS = ["lever", "seeds", *(n for _, n in METRICS), "minutes/run"]


def cells(table: dict) -> list[list[str]]:
    """One row of text cells per lever: mean ± sd, and (delta, ✓ beyond the seed spread) against baseline."""
    out = []
    for r in table["rows"]:
        row = [r["name"], str(len(r["seeds"]))]
        for m, _ in METRICS:
            c = r[m]
            s = f"{c['mean']:.4f}" + (f" ± {c['sd']:.4f}" if c["sd"] is not None else "")
            if "delta" in c:
                s += f" ({c['delta']:+.4f}{' ✓' if c['exceeds_spread'] else ''})"
            row.append(s)
        out.append(row + [f"{r.get('minutes', float('nan')):.1f}"])
    return out


def markdown(table: dict) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells(table)])


def run_name(key: str, seed: int) -> str:
    return f"{key}-seed{seed}"  # also its folder name under --out (experiments.run_row keeps it)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.levers", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/levers", help="folder for the runs and table.json")
    ap.add_argument("--seeds", default="11711,2,3", help="comma-separated seeds; every row runs each")
    ap.add_argument("--rows", default="baseline,phrases,ordinal,llrd", help=f"levers, from {','.join(LEVERS)}")
    ap.add_argument("--train-limit", type=int, default=4000, help="training examples per task per run (0: all)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run")
    ap.add_argument("--dev-limit", type=int, default=0, help="score a fixed sample of N dev examples per task "
                    "(0: the full dev sets, as decisions need; a limit is for smoke tests)")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table (key 'levers')")
    ap.add_argument("--table-only", action="store_true", help="train nothing: the table of the runs already finished")
    a = ap.parse_args(argv)
    order = [k.strip() for k in a.rows.split(",") if k.strip()]
    unknown = [k for k in order if k not in LEVERS]
    if unknown:
        ap.error(f"unknown lever(s) {unknown}; choose from {', '.join(LEVERS)}")
    seeds = [int(s) for s in a.seeds.split(",")]
    budget = ["--train-limit", str(a.train_limit), "--epochs", str(a.epochs), "--dev-limit", str(a.dev_limit)]
    out = Path(a.out)
    dev = f"{a.dev_limit} dev examples per task" if a.dev_limit else "full dev sets"
    title = (f"Levers, each added alone to the shipped recipe: {a.train_limit or 'all'} training examples per task, "
             f"{a.epochs} epoch(s), {dev}, seeds {a.seeds}, 2-core CPU; mean ± sd over seeds "
             "(delta vs baseline, ✓ where the seed ranges do not overlap)")
    runs: dict[str, dict[int, dict]] = {}
    minutes: dict[str, list[float]] = {}
    for seed in seeds:
        for key in order:
            if a.table_only and not (out / run_name(key, seed) / "model.json").exists():
                continue
            r = run_row(run_name(key, seed), [*LEVERS[key][1], "--seed", str(seed)], out, budget)
            runs.setdefault(key, {})[seed] = dict(zip([m for m, _ in METRICS], r[1:5]))
            minutes.setdefault(key, []).append(r[5])
            table = {"title": title, "budget": " ".join(budget), **summarise(runs, order)}
            for row in table["rows"]:
                row["minutes"] = float(np.mean(minutes[row["lever"]]))
            atomic_write_json(out / "table.json", table)  # a partial table survives an interruption
            print(f"{key} seed {seed}: " + " ".join(f"{n} {v:.4f}" for (_, n), v in zip(METRICS, r[1:5])), flush=True)
    print(f"\n{title}\n\n{markdown(table)}")
    if a.sidecar:
        update_sidecar(a.sidecar, levers=table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
