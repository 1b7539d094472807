"""A fourth task from a spec file written here, with no code change: train, evaluate, predict and the app."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from minbert.checkpoint import load_checkpoint
from minbert.tasks import TaskSpecError, read_spec, resolve
from tests.tiny_recipe import TINY_RECIPE

SPEC = """\
key: tone
name: Tone
skill: tone
kind: sentence_classes
classes: [gloomy, cheerful]
files: {train: tone-train.tsv, dev: tone-dev.tsv}
columns: [text]
label: mood
"""
GOOD = ["a bright and happy day", "what a lovely warm smile", "joyful music all night", "sunny fun with friends"]
BAD = ["a grey and dreary night", "cold rain and sorrow", "a sad and lonely road", "dark gloom everywhere"]


def write_task(folder: Path) -> Path:
    """The spec and its files (made-up sentences, text and number labels mixed) in one folder."""
    rows = [(f"{i:04x}", s, "cheerful" if i % 2 else "1") for i, s in enumerate(GOOD)] + \
           [(f"{i + 16:04x}", s, "0") for i, s in enumerate(BAD)]
    for split in ("train", "dev"):
        lines = ["id\ttext\tmood"] + ["\t".join(r) for r in rows]
        (folder / f"tone-{split}.tsv").write_text("\n".join(lines) + "\n")
    spec = folder / "tone.yaml"
    spec.write_text(SPEC)
    return spec


def run(*args, check=True):
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_spec_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("sentence_classes", "sentence_regression"))
    with pytest.raises(TaskSpecError, match="kind 'sentence_regression' is not one of"):
        read_spec(bad)
    bad.write_text(SPEC + "colour: red\n")
    with pytest.raises(TaskSpecError, match=r"unknown field\(s\) \['colour'\]"):
        read_spec(bad)
    with pytest.raises(TaskSpecError, match="unknown task 'nope'"):
        resolve("sst,nope")


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory, tiny_model_dir, data_dir):
    """A tiny run of the three built-in tasks and the spec's task, on a small random BERT."""
    folder = tmp_path_factory.mktemp("tone")
    spec = write_task(folder)
    out = folder / "run"
    run("-m", "minbert.train", *TINY_RECIPE, "--tasks", f"sst,para,sts,{spec}", "--base-model", str(tiny_model_dir),
        "--limit", "24", "--epochs", "1", "--sst-phrases", "0", "--para-val", "0", "--out-dir", str(out), "--quiet")
    return spec, out / "model"


@pytest.mark.slow
def test_added_task_trains_and_is_kept_in_the_checkpoint(tone_run):
    _, model = tone_run
    ckpt = load_checkpoint(model)
    assert list(ckpt.model.tasks) == ["sst", "para", "sts", "tone"]
    assert ckpt.model.tone.classifier.out_features == 2
    assert {"tone_acc", "tone_f1"} <= set(ckpt.meta["metrics"])
    assert ckpt.meta["history"][0]["dev"]["tone_acc"] == pytest.approx(ckpt.meta["metrics"]["tone_acc"], abs=0.13)


@pytest.mark.slow
def test_added_task_in_evaluate(tone_run, tmp_path):
    _, model = tone_run
    r = run("-m", "minbert.evaluate", "--checkpoint", str(model), "--out-json", str(tmp_path / "m.json"))
    assert "Tone" in r.stdout
    m = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= m["tone_acc"] <= 1 and "tone" in m["tasks"]


@pytest.mark.slow
def test_added_task_in_predict(tone_run, tmp_path):
    _, model = tone_run
    src = tmp_path / "in.csv"
    src.write_text("text\nsunny and happy\ncold and sad\n")
    out = tmp_path / "out.csv"
    run("-m", "minbert.predict", "--checkpoint", str(model), "--task", "tone", "--input", str(src),
        "--output", str(out))
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(("gloomy" in l) or ("cheerful" in l) for l in lines[1:])
