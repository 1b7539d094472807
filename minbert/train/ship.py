"""Publish a training run's fp16 export as a named checkpoint, verified, with the run's wall time recorded.

    python -m minbert.train.ship RUN [--to checkpoints/minbert-multitask]

The weights are copied byte for byte (their sha256 checked against the run's sidecar first); the sidecar
gains `weights_file` under its new name, `wall_clock` (launch to fp16 export, from the run folder's files)
and `shipped_from`. Tables that describe the recipe rather than this model (`levers`, `grid_search`,
`ablation`, `learning_curves`) are kept from the checkpoint being replaced. The dev results (`STEM.dev.*`) belong to the old
weights: rerun `python -m analysis.precompute` and the analyses after shipping.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from minbert.atomic import atomic_write_bytes, atomic_write_json
from minbert.checkpoint import CheckpointError, paths, read_sidecar

KEPT = ("levers", "grid_search", "ablation", "learning_curves")  # recipe-level tables, kept from the replaced checkpoint


def wall_clock(run: Path) -> tuple[float, str]:
    """Minutes and a sentence from the run's launch (config.json) to its fp16 export (model.safetensors)."""
    start, end = (run / "config.json").stat().st_mtime, (run / "model.safetensors").stat().st_mtime
    fmt = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S UTC")  # noqa: E731
    day = datetime.fromtimestamp(end, timezone.utc).strftime("%Y-%m-%d")
    return (end - start) / 60, f"launched {fmt(start)}, fp16 export written {fmt(end)} ({day})"


def ship(run: str | Path, dest: str | Path) -> Path:
    """Copy RUN/model.* to DEST.*; returns the new weights path."""
    run = Path(run)
    meta = read_sidecar(run / "model")
    blob = (run / "model.safetensors").read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
        raise CheckpointError(f"{run / 'model.safetensors'} does not match its sidecar's sha256")
    weights, sidecar = paths(dest)
    old = read_sidecar(dest) if sidecar.is_file() else {}
    minutes, clock = wall_clock(run)
    meta.update({k: old[k] for k in KEPT if k in old and k not in meta})
    meta.update(weights_file=weights.name, wall_minutes_total=round(minutes, 1), wall_clock=clock,
                shipped_from=str(run))
    atomic_write_bytes(weights, blob)
    atomic_write_json(sidecar, meta)
    return weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m minbert.train.ship", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="training run folder holding model.safetensors and model.json (its fp16 export)")
    ap.add_argument("--to", default="checkpoints/minbert-multitask", help="checkpoint stem to write")
    a = ap.parse_args(argv)
    try:
        path = ship(a.run, a.to)
    except (CheckpointError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    meta = read_sidecar(path)
    m = meta["metrics"]
    print(f"shipped {a.run} -> {path} ({path.stat().st_size / 1e6:.1f} MB, {meta['wall_clock']}): "
          f"SST {m['sst_acc']:.4f} Quora {m['para_acc']:.4f} STS r {m['sts_pearson']:.4f} overall {m['overall']:.4f}")
    print(f"next: python -m analysis.precompute --checkpoint {a.to} (the dev results belong to the old weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
