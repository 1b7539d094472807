"""bench/peers.py: its smoke mode runs the rows whose packages are installed here and prints a full table,
in which our fp32 encoder agrees with sentence-transformers fp32 (the reference) on every sentence."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.peers import ROWS, batched

ROOT = Path(__file__).resolve().parents[1]
# the quick rows, each with the packages it needs; the CLI (its precision choice is measured on every
# start under load) and the PT2E rows (inductor compiles for minutes) are left to the full bench
SMOKE = {"st-fp32": ["sentence_transformers"], "minbert-fp32": [], "minbert-int8-int_mm": [],
         "ort-int8": ["transformers", "onnxscript", "onnxruntime"],
         "ov-int8": ["transformers", "onnxscript", "openvino", "nncf"]}


def present(modules: list[str]) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def test_batched_keeps_input_order():
    items = ["bb", "a", "dddd", "ccc", "e"]
    run = lambda batch: batch["len"][:, None].astype(np.float32)  # noqa: E731  one "embedding" per item: its length
    tokenize = lambda xs: {"len": np.array([len(x) for x in xs])}  # noqa: E731
    assert batched(run, tokenize, items, batch=2)[:, 0].tolist() == [2, 1, 4, 3, 1]


@pytest.mark.slow
def test_smoke_mode_prints_every_present_row(data_dir):
    rows = [k for k, mods in SMOKE.items() if present(mods)]
    run = subprocess.run([sys.executable, "-m", "bench.peers", "--n", "64", "--rounds", "1", "--rows", ",".join(rows)],
                         cwd=ROOT, capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "MINBERT_DATA": str(data_dir)})
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert out.startswith("machine: ") and "Traceback" not in out
    assert "note:" not in out.replace("note: auto", ""), out  # nothing present was skipped
    row = r"^\| (.+?) \| ([\d.]+) \| ([\d.]+)x \| (.+?) \| (.+?) \| (.+?) \|$"
    table = {m[0]: m[1:] for m in re.findall(row, out, re.M)}
    assert {ROWS[k] for k in rows} == set(table), out
    assert all(float(v[0]) > 0 for v in table.values())
    if "st-fp32" in rows:
        assert table[ROWS["st-fp32"]][2] == "reference"
        cos_min = float(table[ROWS["minbert-fp32"]][2].split(" / ")[1])
        assert cos_min >= 0.9999 and table[ROWS["minbert-fp32"]][3] == "100.00%", out  # same model, same maths
