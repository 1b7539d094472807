"""python -m minbert.predict on small files of every format: bad rows, order and ids; any task of the checkpoint
by key, skill or name; embeddings to .npy/.parquet/.safetensors with their exact float32 values; no output when no
row can be predicted; and the same predictions as the app's file evaluation on the same files."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minbert.serve.batch_predict import main as predict_main

ROOT = Path(__file__).resolve().parent.parent
SENTS = ["a fine film", "dull and long", "", "an utter triumph of style", "meh"]


@pytest.fixture(scope="module")
def ckpt(tiny_multitask_ckpt):
    return tiny_multitask_ckpt


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


def _predict(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minbert.predict", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_formats_order_ids_and_bad_rows(ckpt, tmp_path, fmt, capsys):
    inp, out = tmp_path / f"in.{fmt}", tmp_path / "out.jsonl"
    _write(inp, fmt)
    assert predict_main(["--checkpoint", str(ckpt), "--task", "sentiment", "--input", str(inp), "--output", str(out),
                         "--batch-size", "2", "--chunk-size", "3"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["r0", "r1", "r3", "r4"]  # input order, empty and broken rows skipped
    assert all(abs(sum(v for k, v in r.items() if k.startswith("p_")) - 1) < 1e-3 for r in recs)
    assert {"label", "label_name", "p_somewhat_negative", "logit_positive"} <= set(recs[0])
    err = capsys.readouterr().err
    broken_line = 6 if fmt == "jsonl" else 7  # after 5 rows (+ a header for csv/tsv)
    assert "empty 'sentence'" in err and f"in.{fmt}:{broken_line}:" in err


def test_pairs_and_embeddings(ckpt, tmp_path):
    inp = tmp_path / "in.csv"
    _write(inp, "csv")
    for task, key in (("paraphrase", "probability"), ("similarity", "score")):
        out = tmp_path / f"{task}.csv"
        assert predict_main(["--checkpoint", str(ckpt), "--task", task, "--input", str(inp), "--output", str(out)]) == 0
        rows = list(csv.DictReader(out.open()))
        assert [r["id"] for r in rows] == ["r0", "r1", "r3", "r4"] and key in rows[0] and "cosine" in rows[0]
    out = tmp_path / "emb.jsonl"
    assert predict_main(["--checkpoint", str(ckpt), "--task", "embed", "--input", str(inp), "--output", str(out)]) == 0
    e = np.array([json.loads(line)["embedding"] for line in out.read_text().splitlines()])
    assert e.shape == (4, 32) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)


def test_an_added_task_by_key_skill_or_name(ckpt, tmp_path):
    """CFIMDB came from tasks/cfimdb.yaml: --task takes its key, skill or name; the output names its classes."""
    inp = tmp_path / "reviews.csv"
    inp.write_text('review\nA wonderful film.\n"Awful, just awful."\n')  # "review": an alias of the text column
    outs = []
    for name in ("cfimdb", "movie-sentiment", "CFIMDB"):
        out = tmp_path / f"{name}.jsonl"
        assert predict_main(["--checkpoint", str(ckpt), "--task", name, "--input", str(inp), "--output", str(out)]) == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1] == outs[2]
    recs = [json.loads(line) for line in outs[0].splitlines()]
    assert [r["id"] for r in recs] == ["2", "3"]  # no id column: the line number
    assert set(recs[0]) == {"id", "label", "label_name", "p_negative", "p_positive", "logit_negative", "logit_positive"}
    assert recs[0]["label_name"] == ("negative", "positive")[recs[0]["label"]]
    r = _predict("--checkpoint", ckpt, "--task", "topic", "--input", inp, "--output", tmp_path / "o.csv")
    assert r.returncode == 1 and "unknown task 'topic'" in r.stderr and "movie-sentiment (CFIMDB)" in r.stderr


def test_fail_mode_writes_nothing(ckpt, tmp_path):
    inp, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(inp, "csv")
    r = _predict("--checkpoint", ckpt, "--task", "sentiment", "--input", inp, "--output", out, "--on-error", "fail",
                 "--threads", "1")
    assert r.returncode == 1 and "in.csv:4: empty 'sentence'" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))


@pytest.mark.parametrize("out_name", ["out.csv", "out.npy"])
def test_no_usable_row_fails_with_no_output(ckpt, tmp_path, out_name):
    """Every row bad (skipped one by one): exit status 1, a clear message, and no output file, not even an empty
    one or a temporary one."""
    inp = tmp_path / "bad.csv"
    inp.write_text("id,sentence,other\n1,,x\n2,  ,y\nthree,fields,here,and,more\n")
    r = _predict("--checkpoint", ckpt, "--task", "embed" if out_name.endswith(".npy") else "sentiment",
                 "--input", inp, "--output", tmp_path / out_name)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no row could be predicted (3 bad, reported above); no output written" in r.stderr
    assert "bad.csv:4: 5 fields, header has 3" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_missing_column_and_bad_format(ckpt, tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("id,words\n1,hello\n")
    r = _predict("--checkpoint", ckpt, "--task", "sentiment", "--input", inp, "--output", tmp_path / "o.csv")
    assert r.returncode == 1 and "no text column (tried sentence, text, review" in r.stderr
    assert "use --text-col" in r.stderr and not (tmp_path / "o.csv").exists()
    r = _predict("--checkpoint", ckpt, "--task", "sentiment", "--input", inp, "--output", tmp_path / "o.csv",
                 "--text-col", "nope")
    assert r.returncode == 1 and "no column 'nope'" in r.stderr
    r = _predict("--task", "sentiment", "--input", inp, "--output", tmp_path / "o.xlsx")
    assert r.returncode != 0 and "cannot tell the format" in r.stderr
    r = _predict("--task", "sentiment", "--input", inp, "--output", tmp_path / "o.npy")
    assert r.returncode != 0 and "holds embeddings" in r.stderr


def test_embedding_files_round_trip_exactly(ckpt, data_dir, tmp_path):
    """--task embed --output X.npy | X.parquet | X.safetensors: the ids and the exact float32 values of the
    in-process embeddings (minbert.serve.embedding.embed_texts, the same batches), and the same vectors as
    Predictor.embed, for the SST dev sentences (and a few rows that are skipped)."""
    import pandas as pd
    from safetensors import safe_open

    from minbert.checkpoint import load_checkpoint
    from minbert.data import read_task_file
    from minbert.serve.embedding import embed_texts
    from minbert.serve.predictor import Predictor
    dev = read_task_file(data_dir / "ids-sst-dev.csv").examples[:300]
    inp = tmp_path / "dev.jsonl"
    inp.write_text("".join(json.dumps({"id": e.id, "sentence": e.text}) + "\n" + ('{"id": "x"}\n' if i == 7 else "")
                           for i, e in enumerate(dev)), encoding="utf-8")
    ck = load_checkpoint(ckpt)
    ref = embed_texts(ck.model, ck.tokenizer, [e.text for e in dev], 64, 128)
    ids = [e.id for e in dev]
    for fmt in ("npy", "parquet", "safetensors"):
        out = tmp_path / f"emb.{fmt}"
        assert predict_main(["--checkpoint", str(ckpt), "--task", "embed", "--input", str(inp),
                             "--output", str(out)]) == 0
        if fmt == "npy":
            got = np.load(out)
            got_ids = (tmp_path / "emb.ids.txt").read_text(encoding="utf-8").split("\n")[:-1]
        elif fmt == "parquet":
            df = pd.read_parquet(out)
            got, got_ids = np.stack(df["embedding"].to_numpy()), df["id"].tolist()
        else:
            with safe_open(str(out), "np") as f:
                got, got_ids = f.get_tensor("embeddings"), json.loads(f.metadata()["ids"])
        assert got.dtype == np.float32 and got_ids == ids, fmt
        np.testing.assert_array_equal(got, ref, err_msg=fmt)  # exact: no rounding on the way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.jsonl", "emb.ids.txt", "emb.npy", "emb.parquet",
                                                          "emb.safetensors"]  # no temporary files left
    served = Predictor(ckpt).embed([e.text for e in dev])  # one batch, up to 512 tokens: the same vectors
    np.testing.assert_allclose(served, ref, atol=2e-6, rtol=0)


def test_sentiment_embedding_is_a_named_option(ckpt, tmp_path):
    """--embedding sentiment: sentiment's own top layer, not the shared encoder (which --task embed gives)."""
    inp = tmp_path / "s.txt"
    inp.write_text("text\nA fine film.\nNot my kind of thing.\n")
    shared, own = tmp_path / "shared.npy", tmp_path / "own.npy"
    common = ["--checkpoint", str(ckpt), "--task", "embed", "--input", str(inp)]
    assert predict_main([*common, "--output", str(shared)]) == 0
    assert predict_main([*common, "--embedding", "sentiment", "--output", str(own)]) == 0
    cos = (np.load(shared) * np.load(own)).sum(-1)
    assert cos.max() < 0.9999
    r = _predict("--checkpoint", ckpt, "--task", "embed", "--embedding", "similarity", "--input", inp,
                 "--output", tmp_path / "x.npy")
    assert r.returncode == 1 and "no encoder layers of its own" in r.stderr


THREE_FILES = {  # the three files: a sentence1,sentence2 CSV, a semicolon CSV with text labels, a JSONL
    "pairs.csv": ("paraphrase", 'sentence1,sentence2,is_duplicate\nHow do I learn Python?,"How can I learn Python, '
                                'fast?",1\nWhat is AI?,Why is the sky blue?,0\nIs it "good"?,Is it ""bad""?,no\n'),
    "reviews.csv": ("sentiment", "text;label\nA gripping, tender film.;positive\n\"Dull; overlong.\";negative\n"
                                 "It was fine, I guess.;Neutral\nNot bad at all;somewhat positive\n"),
    "sts.jsonl": ("similarity", '{"sentence1": "A man plays a guitar.", "sentence2": "Someone plays guitar.", '
                                '"similarity": 4.2}\n{"sentence1": "A cat sleeps.", "sentence2": "Stocks fell.", '
                                '"similarity": 0}\n'),
}


@pytest.mark.parametrize("name", list(THREE_FILES))
def test_app_file_evaluation_and_cli_give_the_same_predictions(ckpt, tmp_path, name):
    """The function behind the app's /evaluate_file (user_files.read_file + file_eval.evaluate) and minbert.predict
    (batch_predict.run, in the Predictor's batches: --batch-size 16, --chunk-size 64, --max-length 512) give the
    same labels and the same numbers for the same rows, found by the same column names."""
    from analysis.studio import file_eval, user_files
    from minbert.serve import batch_predict as bp
    from minbert.serve.predictor import FILE_BATCH, FILE_CHUNK, MAX_TOKENS, Predictor
    skill, body = THREE_FILES[name]
    inp = tmp_path / name
    inp.write_text(body, encoding="utf-8")
    predictor = Predictor(ckpt)
    parsed = user_files.read_file(inp, skill != "sentiment", user_files.KIND[skill])
    state = file_eval.evaluate(predictor, parsed, user_files.KIND[skill])  # the Task, as Studio.evaluate_file passes it
    app = state["preds"][state["task"].key]
    out = tmp_path / "cli.jsonl"
    args = bp.parse_args(["--checkpoint", str(ckpt), "--task", skill, "--input", str(inp), "--output", str(out),
                          "--batch-size", str(FILE_BATCH), "--chunk-size", str(FILE_CHUNK),
                          "--max-length", str(MAX_TOKENS)])
    assert bp.run(args) == 0
    cli = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in cli] == app["ids"] and len(cli) == body.count("\n") - (name != "sts.jsonl")
    if skill == "similarity":
        np.testing.assert_allclose([r["score"] for r in cli], app["score"], atol=1e-4)
    else:
        assert [r["label"] for r in cli] == [int(p) for p in app["pred"]]
        probs = [r["probability"] for r in cli] if skill == "paraphrase" else \
            [[r[k] for k in r if k.startswith("p_")] for r in cli]
        np.testing.assert_allclose(probs, app["prob" if skill == "paraphrase" else "probs"], atol=1e-5)
    gold = {"pairs.csv": [1, 0, 0], "reviews.csv": [4, 0, 2, 3], "sts.jsonl": [4.2, 0.0]}[name]
    assert app["gold"] == gold  # text labels ("no", "Neutral", "somewhat positive") read as the task's classes
