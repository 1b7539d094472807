"""python -m minbert.predict on small files of every format, bad rows, order and ids; int8 agreement."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from minbert.serve.batch_predict import main as predict_main
from tests.tiny_recipe import TINY_RECIPE

pytestmark = pytest.mark.slow  # every test needs the module's trained checkpoint


@pytest.fixture(scope="module")
def ckpt(tiny_model_dir, data_dir, tmp_path_factory):
    from minbert.train.loop import main as train_main
    out = tmp_path_factory.mktemp("ckpt") / "run"
    assert train_main(["--base-model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out-dir", str(out),
                       "--limit", "16", "--batch-size", "8", *TINY_RECIPE, "--quiet", "--epochs", "1"]) == 0
    return out / "model"


SENTS = ["a fine film", "dull and long", "", "an utter triumph of style", "meh"]


def _write(path, fmt):
    rows = [{"id": f"r{i}", "sentence": s, "sentence2": s[::-1] or "x"} for i, s in enumerate(SENTS)]
    if fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json}\n")
    else:
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, ["id", "sentence", "sentence2"], delimiter="\t" if fmt == "tsv" else ",")
            w.writeheader()
            w.writerows(rows)
            f.write("broken,row,with,too,many\n" if fmt == "csv" else "broken\trow\twith\ttoo\tmany\n")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_formats_order_ids_and_bad_rows(ckpt, tmp_path, fmt, capsys):
    inp, out = tmp_path / f"in.{fmt}", tmp_path / "out.jsonl"
    _write(inp, fmt)
    assert predict_main(["--checkpoint", str(ckpt), "--task", "sentiment", "--input", str(inp), "--output", str(out),
                         "--batch-size", "2", "--chunk-size", "3"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["r0", "r1", "r3", "r4"]  # input order, empty and broken rows skipped
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-3 for r in recs)
    err = capsys.readouterr().err
    broken_line = 6 if fmt == "jsonl" else 7  # after 5 rows (+ a header for csv/tsv)
    assert "empty 'sentence'" in err and f"in.{fmt}:{broken_line}:" in err


def test_pairs_and_embeddings(ckpt, tmp_path):
    inp = tmp_path / "in.csv"
    _write(inp, "csv")
    for task, key in (("paraphrase", "probability"), ("similarity", "similarity")):
        out = tmp_path / f"{task}.csv"
        assert predict_main(["--checkpoint", str(ckpt), "--task", task, "--input", str(inp), "--output", str(out)]) == 0
        rows = list(csv.DictReader(out.open()))
        assert [r["id"] for r in rows] == ["r0", "r1", "r3", "r4"] and key in rows[0]
    out = tmp_path / "emb.jsonl"
    predict_main(["--checkpoint", str(ckpt), "--task", "embed", "--input", str(inp), "--output", str(out)])
    e = np.array([json.loads(line)["embedding"] for line in out.read_text().splitlines()])
    assert e.shape == (4, 32) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)


def test_fail_mode_writes_nothing(ckpt, tmp_path):
    inp, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(inp, "csv")
    r = subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", str(ckpt), "--task", "sentiment",
                        "--input", str(inp), "--output", str(out), "--on-error", "fail"], capture_output=True, text=True)
    assert r.returncode == 1 and "in.csv:4: empty 'sentence'" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))


def test_missing_column_and_bad_format(ckpt, tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("id,text\n1,hello\n")
    r = subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", str(ckpt), "--task", "sentiment",
                        "--input", str(inp), "--output", str(tmp_path / "o.csv"), "--on-error", "fail"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no column 'sentence' (use --text-col)" in r.stderr
    r = subprocess.run([sys.executable, "-m", "minbert.predict", "--task", "sentiment", "--input", str(inp),
                        "--output", str(tmp_path / "o.xlsx")], capture_output=True, text=True)
    assert r.returncode != 0 and "cannot tell the format" in r.stderr
