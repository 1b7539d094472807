"""minbert/data/files.py, the one reader: formats, delimiters, columns by name, label words, bounded chunks and
messages that name the file, line and column. Its agreement with the csv reader on every task file is in
tests/test_data.py; the app's and minbert.predict's use of it in tests/test_user_files.py and tests/test_predict.py."""
import json

import pytest

from minbert.data import DataError, files
from minbert.tasks import PARA, SST, STS


def _records(path, fmt=None):
    t = files.open_table(path, fmt)
    return t, list(t.records())


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_from_the_header_and_quoting_as_csv(tmp_path, sep):
    p = tmp_path / "in.csv"
    p.write_text(f'sentence{sep}label\n"a{sep} b, ""c"""{sep}1\n', encoding="utf-8")
    t, recs = _records(p)
    assert t.header == ["sentence", "label"] and recs[0].values == {"sentence": 'a' + sep + ' b, "c"', "label": "1"}


def test_delimiter_rules():
    assert files.delimiter("a;b,c;d") == ";" and files.delimiter("one") == ","
    assert files.delimiter('"x;y",z') == "," and files.delimiter("a,b", ".tsv") == "\t"


def test_jsonl_values_and_bad_lines(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "a", "label": 1, "ok": true, "x": null}\n\n[1]\n{oops\n{"text": "b", "n": 2.5}\n')
    t, recs = _records(p)
    assert t.header == ["text", "label", "ok", "x"]
    assert recs[0].values == {"text": "a", "label": "1", "ok": "true", "x": None}
    assert [r.line for r in recs] == [1, 2, 3, 4, 5] and recs[1].blank
    assert recs[2].error == "not a JSON object" and recs[3].error.startswith("invalid JSON")
    assert recs[4].values == {"text": "b", "n": "2.5"}


def test_parquet_rows_in_chunks(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    p = tmp_path / "in.parquet"
    pq.write_table(pa.table({"sentence": [f"s{i}" for i in range(10)], "label": list(range(10))}), p)
    monkeypatch.setattr(files, "CHUNK_ROWS", 3)
    t, recs = _records(p)
    assert t.header == ["sentence", "label"] and t.lines() == 10 and [r.line for r in recs] == list(range(1, 11))
    assert recs[9].values == {"sentence": "s9", "label": "9"} and t.where(4, "label") == f"{p}, row 4, column 'label'"


def test_chunks_keep_line_numbers_across_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CHUNK_ROWS", 2)
    p = tmp_path / "in.tsv"
    p.write_text('id\ttext\n1\t"two\nlines"\n2\tb\n3\tc\textra\n\n4\td\n', encoding="utf-8")
    t, recs = _records(p)
    assert [(r.line, r.fields) for r in recs] == [(3, 2), (4, 2), (5, 3), (6, 0), (7, 2)]
    assert files.shape_problem(recs[2], 2) == "3 fields, header has 2" and recs[2].values == {}


def test_columns_by_name_task_first_then_aliases():
    header = ["ID", "Review", "Sentiment", "question1", "Question2"]
    assert files.find_column(header, SST, "text") == "Review"  # no "sentence": the alias "review", any case
    assert files.find_column(header, SST, "label") == "Sentiment"  # SST's own label column
    assert files.find_column(header, PARA, "text1") == "question1"
    assert files.find_column(header, PARA, "text2") == "Question2"
    assert files.find_column(header, None, "id") == "ID" and files.find_column(header, STS, "label") == "Sentiment"
    assert files.find_column(["id", "sentence1", "sentence2"], STS, "label") is None
    assert files.find_column(["sentence", "text"], SST, "text", given="TEXT") == "text"
    with pytest.raises(DataError, match="no column 'nope'"):
        files.find_column(header, SST, "text", given="nope")
    assert files.candidates(SST, "text")[:3] == ["sentence", "text", "review"]


def test_text_labels_go_through_parse_label(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("sentence;label\na;Very-Positive\nb;SOMEWHAT_NEG\nc;2\nd;great\n", encoding="utf-8")
    t, recs = _records(p)
    assert [files.label_of(t, r, "label", SST) for r in recs[:3]] == [4, 1, 2]
    with pytest.raises(DataError, match=r"l\.csv:5, column 'label': label 'great' is not a number or one of negative"):
        files.label_of(t, recs[3], "label", SST)
    assert [PARA.class_of(w) for w in ("yes", "Not a duplicate", "TRUE", "f")] == [1, 0, 1, 0]


def test_bad_files_get_one_clear_message(tmp_path):
    for name, data, problem in [("e.csv", b"", "e.csv:1: empty file"), ("x.xlsx", b"a", "cannot tell the format"),
                                ("u.csv", b"a,b\n\xff\xfe,1\n", "u.csv: not UTF-8 text")]:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(DataError, match=problem):
            list(files.open_table(p).records())
    with pytest.raises(DataError, match="file not found"):
        files.open_table(tmp_path / "none.csv")
    p = tmp_path / "j.txt"
    p.write_text(json.dumps({"text": "a"}) + "\n")
    assert files.open_table(p, "jsonl").header == ["text"]  # --format overrides the ending


def test_result_messages_name_the_precision_in_a_few_words_not_its_report(tmp_path):
    """The many-pairs and own-file messages said 'served: int8 (int_mm) 0.50x labels 97.7% < 99% ... not cached';
    that report belongs to the header's 'why this precision'."""
    import pytest

    from analysis.studio.service import Studio
    from minbert.serve import precision as P
    from tests.app_server import CHECKPOINT
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    studio = Studio(CHECKPOINT, precision="fp32", offline=True)
    report = "int8 (int_mm) 0.50x labels 97.7% < 99%, logit thresholds +0.31 -0.12, not cached"
    studio.predictor.served = report
    short = P.headline(studio.predictor.fast)
    msg = studio.score_pairs("A man plays a guitar. ||| A man is playing guitar.", None)[0]
    f = tmp_path / "mine.csv"
    f.write_text("sentence,label\nA gorgeous film.,4\nA dull mess.,0\n")
    file_msg = studio.evaluate_file(str(f), "sentiment")[0]
    for m in (msg, file_msg):
        assert f"served in {short}" in m and "int_mm" not in m and "logit threshold" not in m, m
    assert short in studio.served_line() and "int_mm" in studio.served_line()  # the header keeps the report
