"""`torchrun -m minbert.predict` with 2 gloo processes on the CPU: the single-process output byte for byte
(bad rows and ids included), and a failing rank fails the whole run with no output and no part files left."""
import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minbert.serve.batch_predict import main as predict_main

pytestmark = pytest.mark.slow
# torchrun gives each rank one thread (OMP_NUM_THREADS=1); the single process compared with it gets one too, as
# float sums (pooling, small GEMMs) may split differently over another thread count
ONE_THREAD = ("--threads", "1")


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # predict_main --threads set them for this process
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "minbert-multitask"


@pytest.fixture(scope="module")
def ckpt(tiny_multitask_ckpt):
    return tiny_multitask_ckpt


@pytest.fixture(scope="module")
def inputs(data_dir, tmp_path_factory):
    """Real sentences: 300 SST dev rows and 200 STS dev pairs, with an empty row, a broken row and rows
    without an id (their id becomes the line number)."""
    d = tmp_path_factory.mktemp("in")
    sst = _read(data_dir / "ids-sst-dev.csv")[:300]
    sts = _read(data_dir / "sts-dev.csv")[:200]
    rows = [{"id": r["id"] if i % 50 else "", "sentence": "" if i == 7 else r["sentence"].strip(),
             "sentence2": sts[i % len(sts)]["sentence2"], "sentence1": sts[i % len(sts)]["sentence1"]}
            for i, r in enumerate(sst)]
    path = d / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["id", "sentence", "sentence1", "sentence2"])
        w.writeheader()
        w.writerows(rows[:150])
        f.write("broken,row\n")
        w.writerows(rows[150:])
    return path


def _read(path):
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           "-m", "minbert.predict", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("task, out_name, lines, bad, extra", [
    ("sentiment", "labels.csv", 1 + 299, 2, []),  # header + 300 rows less the empty one; empty and broken skipped
    ("embed", "emb.jsonl", 299, 2, []),
    ("paraphrase", "para.tsv", 1 + 300, 1, ["--text-col", "sentence1", "--text2-col", "sentence2"]),
])
def test_two_ranks_write_the_single_process_bytes(ckpt, inputs, tmp_path, task, out_name, lines, bad, extra):
    # 40-row chunks: 8 chunks, dealt 4 and 4 to the two ranks, the last one short
    common = ["--checkpoint", ckpt, "--task", task, "--input", inputs, "--chunk-size", "40", "--batch-size", "16",
              *extra]
    one, two = tmp_path / "one" / out_name, tmp_path / "two" / out_name
    assert predict_main([*map(str, common), "--output", str(one), *ONE_THREAD]) == 0
    r = _torchrun(*common, "--output", two)
    assert r.returncode == 0, r.stderr[-3000:]
    assert two.read_bytes() == one.read_bytes()
    assert len(one.read_text(encoding="utf-8").splitlines()) == lines
    assert r.stdout.count("wrote") == 1 and r.stderr.count("skipped") == bad  # reported once, by rank 0
    assert os.listdir(two.parent) == [out_name]  # no part files left


def test_shipped_model_embeddings_byte_identical(inputs, tmp_path):
    """The real encoder (6 layers, 384 wide): its 6-decimal embeddings are the same bytes too."""
    small = tmp_path / "small.csv"
    small.write_text("".join(inputs.read_text(encoding="utf-8").splitlines(keepends=True)[:50]), encoding="utf-8")
    common = ["--checkpoint", SHIPPED, "--task", "embed", "--input", small, "--chunk-size", "16"]
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert predict_main([*map(str, common), "--output", str(one), *ONE_THREAD]) == 0
    r = _torchrun(*common, "--output", two)
    assert r.returncode == 0, r.stderr[-3000:]
    assert two.read_bytes() == one.read_bytes()


def test_a_failing_rank_fails_the_run_and_leaves_nothing(ckpt, inputs, tmp_path):
    """Rank 1 cannot create its part file (a folder is in the way); rank 0 predicts its share, hears of the
    failure at the exchange, and both exit non-zero: no output, rank 0's part removed."""
    out = tmp_path / "out" / "labels.csv"
    blocker = out.parent / f".{out.name}.rank1.part"
    blocker.mkdir(parents=True)
    r = _torchrun("--checkpoint", ckpt, "--task", "sentiment", "--input", inputs, "--output", out, "--chunk-size", "40")
    assert r.returncode != 0
    assert "rank 1:" in r.stderr and "Is a directory" in r.stderr
    assert sorted(os.listdir(out.parent)) == [blocker.name]  # nothing else: no output, no part, no temp file


def test_fail_mode_bad_row_stops_every_rank_with_one_message(ckpt, inputs, tmp_path):
    out = tmp_path / "labels.csv"
    r = _torchrun("--checkpoint", ckpt, "--task", "sentiment", "--input", inputs, "--output", out,
                  "--chunk-size", "40", "--on-error", "fail")
    assert r.returncode != 0
    assert r.stderr.count("in.csv:9: empty 'sentence'") == 1  # line 9: header + 7 rows before it
    assert f'File "{ROOT / "minbert"}' not in r.stderr  # no traceback from our ranks (torchrun prints its own)
    assert os.listdir(tmp_path) == []


def test_ranks_serve_the_precision_rank_0_chose(ckpt, inputs, tmp_path):
    """--precision auto under torchrun: rank 0 alone measures, and both ranks serve its choice with its note, so
    every row comes from one model. Ranks measuring for themselves would print different timings (or one of
    them a cached line)."""
    out, logs = tmp_path / "labels.csv", tmp_path / "logs"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
         "--redirects=2", f"--log-dir={logs}",  # each rank's stderr in its own file
         "-m", "minbert.predict", "--checkpoint", str(ckpt), "--task", "sentiment", "--input", str(inputs),
         "--output", str(out), "--chunk-size", "40", "--precision", "auto"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for f in sorted(logs.rglob("stderr.log")) for ln in f.read_text().splitlines()
             if ln.startswith("precision: auto")]
    assert len(lines) == 2 and lines[0] == lines[1], lines
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 299
