"""Parsing the user's pasted pairs and uploaded files: bad lines by number, columns by name, bounds."""
import json

import pytest

from analysis.studio import user_files as uf
from minbert.serve.predictor import InputError


def test_pasted_pairs_keep_order_and_name_bad_lines():
    p = uf.pasted_pairs("a\tb\n\nno tab\nc\td\te\n x \t y \n\tonly second\n")
    assert [(e.id, e.text, e.text2) for e in p.examples] == [("1", "a", "b"), ("5", "x", "y")]
    assert [n for n, _ in p.bad] == [3, 4, 6] and "line 3" in p.bad_summary()


def test_pasted_pairs_are_bounded(monkeypatch):
    monkeypatch.setattr(uf, "MAX_ROWS", 3)
    with pytest.raises(InputError, match="more than 3 rows"):
        uf.pasted_pairs("a\tb\n" * 4)
    monkeypatch.setattr(uf, "MAX_BYTES", 10)
    with pytest.raises(InputError, match="over"):
        uf.pasted_pairs("a\tb\n" * 4)


def test_labelled_csv_by_column_name(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text('Review,Stars\n"Great, really great",4\n,3\nBad,9\nMeh,2.5\nFine,2\n')
    p = uf.read_file(f, pair=False, label_kind="sst", cols={"text": "Review", "label": "Stars"})
    assert [(e.id, e.text, e.label) for e in p.examples] == [("2", "Great, really great", 4), ("6", "Fine", 2)]
    assert [n for n, _ in p.bad] == [3, 4, 5]
    assert "outside 0..4" in p.bad_summary() and "not a whole class" in p.bad_summary()


def test_missing_column_is_named(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("question1\tanswer\tlabel\nq\ta\t1\n")
    with pytest.raises(InputError, match="no sentence 2 column .* its columns are \\['question1', 'answer', 'label'\\]"):
        uf.read_file(f, pair=True, label_kind="quora")
    with pytest.raises(InputError, match="no column 'nope'"):
        uf.read_file(f, pair=True, label_kind="quora", cols={"text2": "nope"})


def test_jsonl_and_aliases(tmp_path):
    f = tmp_path / "sts.jsonl"
    rows = [{"sentence1": "a", "sentence2": "b", "similarity": 4.2}, "not an object", {"sentence1": "c", "sentence2": "d", "similarity": 6}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    p = uf.read_file(f, pair=True, label_kind="sts")
    assert [(e.text, e.text2, e.label) for e in p.examples] == [("a", "b", 4.2)]
    assert [n for n, _ in p.bad] == [2, 3, 4]


def test_files_are_bounded_and_typed(tmp_path, monkeypatch):
    f = tmp_path / "x.xlsx"
    f.write_text("x")
    with pytest.raises(InputError, match="upload a .csv"):
        uf.read_file(f, pair=False)
    g = tmp_path / "big.csv"
    g.write_text("sentence\n" + "word\n" * 50)
    monkeypatch.setattr(uf, "MAX_ROWS", 10)
    with pytest.raises(InputError, match="more than 10 rows"):
        uf.read_file(g, pair=False)
    monkeypatch.setattr(uf, "MAX_BYTES", 100)
    with pytest.raises(InputError, match="over"):
        uf.read_file(g, pair=False)
    e = tmp_path / "empty.csv"
    e.write_text("sentence\n\n")
    with pytest.raises(InputError, match="no usable rows"):
        uf.read_file(e, pair=False)
