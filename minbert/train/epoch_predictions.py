"""Each epoch's dev predictions (no weights), so a run can be compared with its own earlier epochs.

    python -m minbert.train.epoch_predictions RUN CHECKPOINT   # attach a same-seed rerun's records to an older checkpoint

Training writes RUN/epoch_predictions.json after every epoch; the fp16 export copies it into the checkpoint's
sidecar under "epoch_predictions". Layout: {"dev": {task: {"ids", "gold"}}, "epochs": [{"epoch", "metrics",
"tasks": {task: outputs}}], "final": {"metrics", "tasks"}} with the outputs a comparison reads: SST pred,
Quora pred and prob, STS score.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from minbert.atomic import atomic_write_json

FILE = "epoch_predictions.json"
KEEP = ("pred", "prob", "score")  # the outputs a comparison reads, where a task has them: ~80 kB per epoch


def outputs_record(outputs: dict[str, dict[str, np.ndarray]]) -> dict:
    """The kept outputs of predict(), as JSON lists (labels as ints, scores to 4 decimals)."""
    return {t: {k: (out[k].astype(int).tolist() if k == "pred" else np.round(out[k].astype(float), 4).tolist())
                for k in KEEP if k in out} for t, out in outputs.items()}


def append(run_dir: str | Path, epoch: int, dev: dict, outputs: dict, metrics: dict) -> None:
    """Add (or replace, on a resumed epoch) this epoch's record in the run folder, atomically."""
    data = load_run(run_dir) or {"dev": {t: {"ids": [e.id for e in ex], "gold": [float(e.label) for e in ex]}
                                         for t, ex in dev.items()}, "epochs": []}
    rec = {"epoch": epoch, "metrics": metrics, "tasks": outputs_record(outputs)}
    data["epochs"] = sorted([r for r in data["epochs"] if r["epoch"] != epoch] + [rec], key=lambda r: r["epoch"])
    atomic_write_json(Path(run_dir) / FILE, data)


def add_final(run_dir: str | Path, outputs: dict, metrics: dict) -> dict | None:
    """Store the exported (fp16) model's own dev outputs as "final"; returns the whole record for the sidecar."""
    data = load_run(run_dir)
    if data is not None:
        data["final"] = {"metrics": metrics, "tasks": outputs_record(outputs)}
        atomic_write_json(Path(run_dir) / FILE, data)
    return data


def load_run(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / FILE
    return json.loads(path.read_text()) if path.is_file() else None


def attach(run_dir: str | Path, checkpoint: str | Path, tol: float = 1e-6) -> list[int]:
    """Copy a rerun's epoch records into a checkpoint trained before records existed, keeping only epochs
    whose dev metrics reproduce the checkpoint's own logged history to `tol`. Returns the epochs attached."""
    from minbert.checkpoint import read_sidecar, update_sidecar
    data, meta = load_run(run_dir), read_sidecar(checkpoint)
    if data is None:
        raise FileNotFoundError(f"no {FILE} in {run_dir}")
    logged = {h["epoch"]: h["dev"] for h in meta.get("history", [])}
    keep = []
    for rec in data["epochs"]:
        ref = logged.get(rec["epoch"])
        if ref and all(abs(rec["metrics"][k] - v) <= tol for k, v in ref.items() if k in rec["metrics"]):
            keep.append(rec)
    if not keep:
        raise ValueError(f"no epoch of {run_dir} reproduces the dev metrics logged in {checkpoint}")
    command = json.loads((Path(run_dir) / "config.json").read_text()).get("command", "")
    update_sidecar(checkpoint, epoch_predictions={"dev": data["dev"], "epochs": keep}, epoch_predictions_source=(
        f"rerun `{command}`; its epoch(s) {', '.join(str(r['epoch']) for r in keep)} reproduce the logged dev "
        f"metrics of this checkpoint's training to within {tol:g}"))
    return [r["epoch"] for r in keep]


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m minbert.train.epoch_predictions", description=__doc__)
    ap.add_argument("run_dir", help="a rerun of the checkpoint's own training command (same seed)")
    ap.add_argument("checkpoint", help="checkpoint (stem) trained before epoch records existed")
    ap.add_argument("--tol", type=float, default=1e-6, help="largest allowed difference of a logged dev metric")
    a = ap.parse_args(argv)
    try:
        print(f"attached epoch(s) {attach(a.run_dir, a.checkpoint, a.tol)} to {a.checkpoint}")
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
