"""Do two training runs have the same history? Epoch by epoch: every logged loss, the dev metrics and the threshold.

    python -m minbert.train.history_diff runs/old runs/new [--epochs 1]

Compares the runs' log.jsonl records of the epochs both reached (or the first --epochs), prints the largest
difference of each kind, and exits 0 only when they are identical; with the runs' exported weights it also prints
their sha256. The check behind "the default recipe trains exactly as before" (docs/RESULTS.md).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


def epochs(run: Path) -> list[dict]:
    """The per-epoch records of a run's log.jsonl (those with dev metrics), in order."""
    log = run / "log.jsonl"
    if not log.is_file():
        raise SystemExit(f"error: {log} not found: give a run folder written by python -m minbert.train")
    return [r for r in map(json.loads, log.read_text(encoding="utf-8").splitlines()) if "dev" in r]


def numbers(record: dict) -> dict[str, list[float]]:
    """{kind: values} for one epoch: the loss curve(s), the dev metrics, the threshold."""
    curve = record.get("loss_curve", [])
    curves = curve.values() if isinstance(curve, dict) else [curve]
    return {"loss_curve": [float(v) for c in curves for v in (c if isinstance(c, list) else [c])],
            "dev": [float(record["dev"][k]) for k in sorted(record["dev"])],
            "threshold": [float(record.get("para_threshold") or 0.0)]}


def weights_sha256(run: Path) -> str:
    path = run / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "(no export)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path, help="a run folder (its log.jsonl)")
    p.add_argument("new", type=Path, help="the run to compare with it")
    p.add_argument("--epochs", type=int, default=0, help="compare the first N epochs only (0: every epoch both reached)")
    p.add_argument("--metric-tol", type=float, default=0.0,
                   help="largest dev-metric difference still called the same (float rounding of a library metric); "
                        "losses, threshold and weights are always compared exactly")
    args = p.parse_args(argv)
    old, new = epochs(args.old), epochs(args.new)
    n = min(len(old), len(new)) if args.epochs <= 0 else args.epochs
    if n == 0 or len(old) < n or len(new) < n:
        print(f"error: the runs logged {len(old)} and {len(new)} epochs; nothing to compare for {n}", file=sys.stderr)
        return 2
    same = True
    for a, b in zip(old[:n], new[:n]):
        na, nb = numbers(a), numbers(b)
        diffs = {k: max((abs(x - y) for x, y in zip(na[k], nb[k])), default=0.0) if len(na[k]) == len(nb[k])
                 else float("inf") for k in na}
        identical = na["loss_curve"] == nb["loss_curve"] and na["threshold"] == nb["threshold"] and \
            diffs["dev"] <= args.metric_tol
        same &= identical
        print(f"epoch {a['epoch']}: {'identical' if identical else 'DIFFERENT'}  " +
              "  ".join(f"{k} max |diff| {v:.3g} ({len(na[k])} values)" for k, v in diffs.items()))
    for run in (args.old, args.new):
        print(f"{run}: model.safetensors sha256 {weights_sha256(run)}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
