"""Parsing the user's pasted pairs and uploaded files: bad lines by number, columns by name, bounds."""
import json

import pytest

from analysis.studio import user_files as uf
from minbert.serve.predictor import InputError
from minbert.tasks import PARA, SST, STS


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
    p = uf.read_file(f, pair=False, task=SST, cols={"text": "Review", "label": "Stars"})
    assert [(e.id, e.text, e.label) for e in p.examples] == [("2", "Great, really great", 4), ("6", "Fine", 2)]
    assert [n for n, _ in p.bad] == [3, 4, 5]
    assert "outside 0..4" in p.bad_summary() and "not a whole class" in p.bad_summary()


def test_missing_column_is_named(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("question1\tanswer\tlabel\nq\ta\t1\n")
    with pytest.raises(InputError, match="no sentence 2 column .* its columns are \\['question1', 'answer', 'label'\\]"):
        uf.read_file(f, pair=True, task=PARA)
    with pytest.raises(InputError, match="no column 'nope'"):
        uf.read_file(f, pair=True, task=PARA, cols={"text2": "nope"})


def test_jsonl_and_aliases(tmp_path):
    f = tmp_path / "sts.jsonl"
    rows = [{"sentence1": "a", "sentence2": "b", "similarity": 4.2}, "not an object", {"sentence1": "c", "sentence2": "d", "similarity": 6}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    p = uf.read_file(f, pair=True, task=STS)
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


def test_pairs_typed_with_triple_bar_or_tab():
    p = uf.pasted_pairs("a cat ||| a kitten\nx\ty\nno separator\nleft |||  \n")
    assert [(e.id, e.text, e.text2) for e in p.examples] == [("1", "a cat", "a kitten"), ("2", "x", "y")]
    assert [n for n, _ in p.bad] == [3, 4] and "|||" in p.bad_summary()
    t = uf.typed_pairs({"headers": ["sentence 1", "sentence 2"], "data": [["a", "b"], ["", ""], ["c", ""], [" d ", "e"]]})
    assert [(e.id, e.text, e.text2) for e in t.examples] == [("1", "a", "b"), ("4", "d", "e")] and t.bad[0][0] == 3
    assert uf.typed_pairs(None).examples == [] and uf.typed_pairs([["only one"]]).bad[0][0] == 1


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_csv_dialects_are_detected(tmp_path, sep):
    f = tmp_path / "mine.csv"
    rows = [["sentence", "label"], ["Great; really great, truly", "4"], ["Bad", "0"], ["Meh", "2"]]
    import csv
    with f.open("w", newline="") as fh:
        csv.writer(fh, delimiter=sep).writerows(rows)
    p = uf.read_file(f, pair=False, task=SST)
    assert [(e.text, e.label) for e in p.examples] == [("Great; really great, truly", 4), ("Bad", 0), ("Meh", 2)]
    assert p.header == ["sentence", "label"] and [n for n, _ in p.rows] == [2, 3, 4] and not p.bad


def test_delimiter_fallback_and_one_column():
    assert uf.delimiter("sentence\nfoo\n", "csv") == ","  # nothing to sniff: a one-column file
    assert uf.delimiter("a;b;c\n1;2", "csv") == ";" and uf.delimiter("a,b\n1,2", "tsv") == "\t"


def test_text_labels_are_mapped_case_insensitively(tmp_path):
    f = tmp_path / "words.csv"
    f.write_text("sentence;label\nA;Somewhat Negative\nB;NEG\nC;positive\nD;very_positive\nE;neutral\nF;great\nG;3\n")
    p = uf.read_file(f, pair=False, task=SST)
    assert [e.label for e in p.examples] == [1, 0, 4, 4, 2, 3]
    assert [n for n, _ in p.bad] == [7] and "somewhat negative" in p.bad_summary()  # the message names the classes
    g = tmp_path / "dups.tsv"
    g.write_text("q1\tq2\tis_duplicate\na\tb\tDuplicate\nc\td\tnot duplicate\ne\tf\tyes\ng\th\tFALSE\ni\tj\t1\n")
    p = uf.read_file(g, pair=True, task=PARA, cols={"text": "q1", "text2": "q2"})
    assert [e.label for e in p.examples] == [1, 0, 1, 0, 1]


def test_messages_name_the_controls_that_exist(tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("words,stars\nfine,3\n")
    with pytest.raises(InputError, match="'Text column' box") as boxed:
        uf.read_file(f, pair=False, task=SST, boxes=True)
    assert "form" not in str(boxed.value)
    with pytest.raises(InputError, match="Rename the column") as plain:  # the many-pairs block has no boxes
        uf.read_file(f, pair=True)
    assert "box" not in str(plain.value)


def test_parquet_upload_for_an_added_task(tmp_path):
    """A Parquet file, read for CFIMDB (tasks/cfimdb.yaml) as the Task itself: its columns by alias, its class names."""
    from pathlib import Path

    from minbert.tasks import read_spec
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    cfimdb = read_spec(Path(__file__).resolve().parents[1] / "tasks" / "cfimdb.yaml")
    f = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"review": ["Great fun", "Awful", "", "Fine"],
                             "sentiment": ["Positive", "0", "1", "meh"]}), f)
    p = uf.read_file(f, False, cfimdb)
    assert [(e.id, e.text, e.label) for e in p.examples] == [("1", "Great fun", 1), ("2", "Awful", 0)]
    assert [n for n, _ in p.bad] == [3, 4] and "column 'sentiment': label 'meh'" in p.bad_summary()
