"""SST treebank phrases: the tree reader, its errors, agreement with the sentence file, and phrase training."""
import json

import pytest

from minbert.data import DataError, read_task_file
from minbert.data.sst_trees import TREES_FILE, parse_tree, read_phrases
from tests.tiny_recipe import TINY_RECIPE


def test_parse_tree_gives_every_node_root_first():
    nodes = parse_tree("(3 (2 (2 The) (2 -LRB-Rock-RRB-)) (4 (3 is) (4 great\\/fine)))")
    assert nodes == [("The -LRB-Rock-RRB- is great\\/fine", 3), ("The -LRB-Rock-RRB-", 2), ("The", 2),
                     ("-LRB-Rock-RRB-", 2), ("is great\\/fine", 4), ("is", 3), ("great\\/fine", 4)]


@pytest.mark.parametrize("bad", ["(3 (2 The)", "(7 word)", "3 word)", "(2 a) (2 b)", "(x word)"])
def test_malformed_trees_are_data_errors(bad):
    with pytest.raises(DataError):
        parse_tree(bad, "f:1")


def test_phrases_match_the_sentence_file_and_skip_roots(data_dir, tmp_path):
    trees = data_dir / TREES_FILE
    if not trees.is_file():
        pytest.skip(f"no {TREES_FILE}")
    sentences = read_task_file(data_dir / "ids-sst-train.csv").examples
    with trees.open(encoding="utf-8") as f:
        roots = [parse_tree(line)[0] for line in f]
    same = sum((e.text, e.label) == r for e, r in zip(sentences, roots))
    assert len(roots) == len(sentences) == 8544 and same >= 8541  # same order, text and label as the CSV
    small = tmp_path / TREES_FILE
    small.write_text("".join(trees.open(encoding="utf-8").readline() for _ in range(1)))
    phrases = read_phrases(small)
    assert phrases and all(len(p.text.split()) >= 2 and p.text != sentences[0].text for p in phrases)
    assert len({p.text for p in phrases}) == len(phrases)


@pytest.mark.slow
def test_training_samples_phrases_per_epoch(tiny_model_dir, data_dir, tmp_path):
    from minbert.train.loop import main as train_main
    if not (data_dir / TREES_FILE).is_file():
        pytest.skip(f"no {TREES_FILE}")
    out = tmp_path / "run"
    args = ["--base-model", str(tiny_model_dir), "--data-dir", str(data_dir), "--out-dir", str(out), "--limit", "24",
            "--batch-size", "8", *TINY_RECIPE, "--quiet", "--epochs", "1",
            "--tasks", "sst", "--sst-phrases", "16"]
    assert train_main(args) == 0
    log = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert log["step"] == 5  # (24 sentences + 16 of the first 24 phrases: --limit caps the pool) / batch 8
    assert json.loads((out / "config.json").read_text())["config"]["sst_phrases"] == 16
