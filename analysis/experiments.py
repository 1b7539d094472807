"""Running short training runs and collecting their dev metrics: the engine of ablation and grid search."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from minbert.atomic import atomic_write_json
from minbert.checkpoint import update_sidecar
from minbert.train import fit
from minbert.train_config import parse_args

COLUMNS = ["row", "SST acc", "Quora acc", "STS r", "overall", "minutes", "flags"]


def run_row(name: str, flags: list[str], out_root: Path, budget: list[str]) -> list:
    """Train one configuration (reused if it finished, resumed if it stopped midway) and return its table row."""
    out = out_root / re.sub(r"[^A-Za-z0-9.-]+", "_", name.replace("+", "plus")).strip("_")
    log = out / "log.jsonl"
    cfg = parse_args([*budget, *flags, "--out-dir", str(out), "--quiet", "--save-every", "200", "--resume"])
    if not (out / "model.json").exists():
        t0 = time.time()
        fit(cfg)
        minutes = (time.time() - t0) / 60
    else:
        minutes = json.loads((out / "model.json").read_text()).get("wall_minutes", float("nan"))
    best = max((json.loads(line) for line in log.read_text().splitlines()), key=lambda r: r["dev"]["overall"])
    update_sidecar(out / "model", wall_minutes=minutes)
    d = best["dev"]
    return [name, d["sst_acc"], d["para_acc"], d["sts_pearson"], d["overall"], round(minutes, 1), " ".join(flags)]


def run_table(rows: list[tuple[str, list[str]]], out_root: Path, budget: list[str], title: str,
              sidecar: str | None) -> dict:
    out_root.mkdir(parents=True, exist_ok=True)
    table = {"title": title, "budget": " ".join(budget), "columns": COLUMNS, "rows": []}
    for name, flags in rows:
        table["rows"].append(run_row(name, flags, out_root, budget))
        atomic_write_json(out_root / "table.json", table)  # partial tables survive an interruption
        print(markdown(table).splitlines()[-1], flush=True)
    if sidecar:
        key = "ablation" if "ablation" in title.lower() else "grid_search"
        update_sidecar(sidecar, **{key: table})
    return table


def markdown(table: dict) -> str:
    lines = ["| " + " | ".join(table["columns"]) + " |", "|" + "---|" * len(table["columns"])]
    for r in table["rows"]:
        lines.append("| " + " | ".join(cell(i, v) for i, v in enumerate(r)) + " |")
    return "\n".join(lines)


def cell(i: int, v) -> str:
    if COLUMNS[i] == "minutes":
        return f"{v:.1f}"
    if COLUMNS[i] == "flags":
        return f"`{v}`" if v else "(defaults)"
    return f"{v:.4f}" if isinstance(v, float) else str(v)
