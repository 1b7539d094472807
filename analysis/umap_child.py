"""UMAP in a child process, for the app: umap-learn's numba phases hold the GIL for seconds on large inputs (a light
request waited 6 s behind a 20,000-row corpus and 31 s behind a 100,000-row one, bench/corpus_map.py --app), so a
corpus map runs its UMAP where it cannot stall the app's other requests.

    fit_in_child(unit, params)                       # (N, 2) float32, as umap.UMAP(**params).fit_transform(unit)
    python -m analysis.umap_child IN.npy OUT.npy '{"n_neighbors": 15, ...}'   # what the child runs
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TIMEOUT_S = 3600  # 100,000 rows take about 100 s on 2 cores; a child past an hour is killed, not waited on forever


def fit_in_child(unit: np.ndarray, params: dict) -> np.ndarray:
    """umap.UMAP(**params).fit_transform(unit) computed by `python -m analysis.umap_child` (a plain interpreter,
    not a fork of the app: it imports numpy and umap only). Raises RuntimeError with the child's last line."""
    with tempfile.TemporaryDirectory(prefix="minbert-umap-") as tmp:
        src, out = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
        np.save(src, np.ascontiguousarray(unit, dtype=np.float32))
        done = subprocess.run([sys.executable, "-m", "analysis.umap_child", str(src), str(out), json.dumps(params)],
                              capture_output=True, text=True, timeout=TIMEOUT_S,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode or not out.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"UMAP's child process failed ({done.returncode}): {last}")
        return np.load(out)


def main(argv: list[str]) -> None:
    src, out, params = argv
    import umap  # the heavy import, in the child only
    xy = umap.UMAP(**json.loads(params)).fit_transform(np.load(src)).astype(np.float32)
    np.save(out, xy)


if __name__ == "__main__":
    main(sys.argv[1:])
