"""Ablation table in the style of the report's Figure 7: each row adds one ingredient to the one above.

    python -m analysis.ablation [--out runs/ablation] [--sidecar checkpoints/minbert-multitask]

Every row is a real training run made by this script, on a short budget (stated in the table):
a fixed sample of training examples per task, and a fixed sample of dev examples per task.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .experiments import markdown, run_table
from .levers import BASE

REPORT = [*BASE, "--pooling", "cls", "--para-head", "cosine", "--sts-loss", "cosine_embedding",
          "--sampling", "sequential", "--schedule", "constant"]
ROWS = [
    ("frozen base", [*REPORT, "--freeze-encoder"]),
    ("fine-tune only", REPORT),
    ("+ MLM further pretraining", [*REPORT, "--mlm-epochs", "1"]),
]


def cumulative_rows(use_mlm: bool) -> list[tuple[str, list[str]]]:
    base = [*REPORT, "--mlm-epochs", "1"] if use_mlm else list(REPORT)
    decay = [*base, "--schedule", "exponential"]
    combined = [*decay, "--sampling", "annealed"]
    balanced = [*combined, "--class-balance"]
    extra = [*combined, "--pooling", "mean", "--sts-loss", "cosent", "--para-head", "features"]
    return [("+ LR decay (exponential, gamma 0.96)", decay), ("+ combined loss and annealed sampling", combined),
            ("+ class balancing", balanced),
            ("+ best extra (without balancing): mean pooling, CoSENT, [u,v,|u-v|,uv] head", extra),
            ("  ... with linear warm-up/decay instead (= the first shipped recipe)", [*extra, "--schedule", "linear"]),
            ("  ... with a cross-encoder paraphrase head", [*extra, "--schedule", "linear", "--para-head", "cross"]),
            ("negative: STS cosine mapped to discrete classes", [*extra, "--schedule", "linear", "--sts-discrete"])]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/ablation", help="folder for the runs and table.json")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table")
    ap.add_argument("--train-limit", type=int, default=640, help="training examples per task (short budget)")
    ap.add_argument("--dev-limit", type=int, default=600, help="dev examples per task (short budget)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per row")
    ap.add_argument("--keep-mlm", choices=("auto", "yes", "no"), default="auto",
                    help="carry MLM into later rows: auto = only if its row beat fine-tune only")
    a = ap.parse_args(argv)
    budget = ["--train-limit", str(a.train_limit), "--dev-limit", str(a.dev_limit), "--epochs", str(a.epochs)]
    out = Path(a.out)
    title = (f"Ablation (short budget: {a.train_limit} training and {a.dev_limit} dev examples per task, "
             f"{a.epochs} epochs, 2-core CPU)")
    first = run_table(ROWS, out, budget, title, None)
    use_mlm = a.keep_mlm == "yes" or (a.keep_mlm == "auto" and first["rows"][2][4] > first["rows"][1][4])
    table = run_table(ROWS + cumulative_rows(use_mlm), out, budget, title, a.sidecar)
    print(f"\n{title}; MLM carried into later rows: {use_mlm}\n")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
