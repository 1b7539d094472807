"""Running short training runs and collecting their dev metrics: the engine of the seeded tables (levers, ablation,
grid search)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

from minbert import legacy
from minbert.checkpoint import update_sidecar
from minbert.train.loop import fit, score
from minbert.tasks import TASKS, resolve
from minbert.train.recipe import TrainConfig, parse_args

METRICS = (*(t.metric for t in TASKS.values()), "overall")  # a row's figures: the built-in tasks' metrics, overall


def run_row(name: str, flags: list[str], out_root: Path, budget: list[str]) -> list:
    """Train one configuration (reused if it finished, resumed if it stopped midway) and return its table row:
    name, the METRICS (None for a task the run did not train), minutes, flags."""
    out = out_root / re.sub(r"[^A-Za-z0-9.-]+", "_", name.replace("+", "plus")).strip("_")
    log = out / "log.jsonl"
    cfg = parse_args([*budget, *flags, "--out-dir", str(out), "--quiet", "--resume"])
    if (out / "model.json").exists():
        check_same_config(out, cfg)
        minutes = json.loads((out / "model.json").read_text()).get("wall_minutes", float("nan"))
    else:
        t0 = time.time()
        fit(cfg)
        minutes = (time.time() - t0) / 60
    tasks = resolve(cfg.tasks)  # the best epoch by overall, or by the trained tasks' mean
    best = max((json.loads(line) for line in log.read_text().splitlines()), key=lambda r: score(r, tasks))
    update_sidecar(out / "model", wall_minutes=minutes)
    d = best["dev"]
    return [name, *(d.get(m) for m in METRICS), round(minutes, 1), " ".join(flags)]


def check_same_config(out: Path, cfg: TrainConfig) -> None:
    """A finished run is reused only for the configuration it was trained with (tables share run folders), read as
    today's fields (minbert.legacy: a setting its config lacks was added later, and the run trained as that setting's
    old value; a retired lever it names must be at its off value, which is what every run trains now). Per-run
    fields (its folder, threads, --quiet) do not count."""
    stored = json.loads((out / "model.json").read_text()).get("train_config", {})
    then = legacy.saved_train_config(stored, asdict(TrainConfig()))
    now = asdict(cfg) | {k: legacy.RETIRED[k] for k in then if k in legacy.RETIRED}
    recipe = [f.name for f in TrainConfig.recipe_fields()] + [k for k in then if k in legacy.RETIRED]
    differ = [k for k in recipe if _norm(then[k]) != _norm(now[k])]
    if differ:
        what = ", ".join(f"{k}: {then[k]!r} there, {now[k]!r} now" for k in differ)
        raise SystemExit(f"{out} was trained with other settings ({what}); move it away or use another --out")


def _norm(v):
    return list(v) if isinstance(v, tuple) else v
