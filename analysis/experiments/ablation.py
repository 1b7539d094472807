"""Ablation in the style of the report's Figure 7: each row adds one ingredient to the row it names, over seeds.

    python -m analysis.experiments.ablation [--out runs/levers] [--seeds 11711,2,3] [--sidecar checkpoints/minbert-multitask]

It walks from the report's recipe (CLS pooling, cosine paraphrase head, cosine-embedding STS loss, sequential
sampling, constant LR) to the first shipped recipe (`analysis.experiments.levers.BASE`), one ingredient per row. Every
cell is a real training run at the lever table's budget (--train-limit training examples per task, a fresh
sample per seed, --epochs, full dev sets), at every seed, resumable run by run. A row's difference from the
row it adds to is marked ✓ where their ranges over seeds do not overlap. With the same --out as the lever
table, the row that reaches the first shipped recipe is the lever table's baseline runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from minbert.checkpoint import update_sidecar
from minbert.machine import machine_line

from analysis.experiments.levers import BASE
from analysis.experiments.seeded import Row, add_budget_args, budget_of, markdown, run_seeded

REPORT = [*BASE, "--pooling", "cls", "--para-head", "cosine", "--sts-loss", "cosine_embedding",
          "--sampling", "sequential", "--schedule", "constant"]  # the report's recipe on our base model
FIRST = [Row("abl-frozen", "frozen base (heads only)", [*REPORT, "--freeze-encoder"]),
         Row("abl-finetune", "fine-tune only (the report's recipe)", REPORT, "abl-frozen"),
         Row("abl-mlm", "+ MLM further pretraining (1 epoch)", [*REPORT, "--mlm-epochs", "1"], "abl-finetune")]


def cumulative_rows(use_mlm: bool) -> list[Row]:
    """The rows after the first three; they carry the MLM stage only if `use_mlm`."""
    start, tag = (FIRST[2], "-mlm") if use_mlm else (FIRST[1], "")
    decay = [*start.flags, "--schedule", "exponential"]
    combined = [*decay, "--sampling", "annealed"]
    extra = [*combined, "--pooling", "mean", "--sts-loss", "cosent", "--para-head", "features"]
    linear = [*extra, "--schedule", "linear"]
    k = {n: f"abl-{n}{tag}" for n in ("decay", "combined", "extra", "cross", "discrete")}
    k["linear"] = "abl-linear-mlm" if use_mlm else "baseline"  # without MLM: the lever table's baseline runs
    return [Row(k["decay"], "+ LR decay (exponential, gamma 0.96)", decay, start.key),
            Row(k["combined"], "+ annealed multitask sampling", combined, k["decay"]),
            Row(k["extra"], "+ mean pooling, CoSENT, [u,v,|u-v|,uv] head (not balancing)", extra, k["combined"]),
            Row(k["linear"], "+ linear warm-up/decay instead (= the first shipped recipe)", linear, k["extra"]),
            Row(k["cross"], "  ... with a cross-encoder paraphrase head", [*linear, "--para-head", "cross"], k["linear"]),
            Row(k["discrete"], "  ... negative: STS cosine rounded to whole classes", [*linear, "--sts-discrete"],
                k["linear"])]


def mlm_helps(table: dict) -> bool:
    """Whether the MLM row beat fine-tune only overall beyond the seed spread (with one seed: on its mean)."""
    o = {r["key"]: r["overall"] for r in table["rows"]}.get("abl-mlm")
    if o is None:
        return False
    return o["delta"] > 0 and (o["exceeds_spread"] or len(o["values"]) == 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.experiments.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/levers", help="folder for the runs and ablation_table.json (shared "
                    "with analysis.experiments.levers, whose baseline runs are the first shipped recipe's row)")
    ap.add_argument("--sidecar", default=None, help="checkpoint whose sidecar receives the table (key 'ablation')")
    ap.add_argument("--keep-mlm", choices=("auto", "yes", "no"), default="auto",
                    help="carry MLM into later rows: auto = only if its row beat fine-tune only overall beyond "
                    "the seed spread, decided after the first three rows have run at every seed")
    add_budget_args(ap)
    a = ap.parse_args(argv)
    seeds, budget, dev = budget_of(ap, a)
    title = (f"Ablation from the report's recipe to the first shipped one: {a.train_limit or 'all'} training examples "
             f"per task, {a.epochs} epoch(s), {dev}, seeds {a.seeds}, {machine_line()}; mean ± sd over seeds "
             "(delta vs the row it adds to, ✓ where the seed ranges do not overlap)")
    kw = dict(reference="", row_label="row", table_only=a.table_only, out_name="ablation_table.json")
    first = run_seeded(FIRST, seeds, Path(a.out), budget, title, **kw)
    use_mlm = a.keep_mlm == "yes" or (a.keep_mlm == "auto" and mlm_helps(first))
    table = run_seeded(FIRST + cumulative_rows(use_mlm), seeds, Path(a.out), budget, title, **kw)
    table["mlm_carried"] = bool(use_mlm)
    print(f"\n{title}; MLM carried into later rows: {use_mlm}\n\n{markdown(table)}")
    if a.sidecar:
        update_sidecar(a.sidecar, ablation=table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
