"""Readers, data location, the paraphrase protocol and batching."""
import ast
from pathlib import Path

import pytest

from minbert import data
from minbert.data import DataError, find_data_dir, load_tasks, read_task_file
from minbert.data.batching import bucket_batches

HEADER = "\tid\tsentence1\tsentence2\tsimilarity\n"


def _write(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def test_real_files_load_with_documented_counts(data_dir):
    t = load_tasks(data_dir)
    tr, dev = t.train, t.dev
    assert (len(tr["sst"]), len(dev["sst"]), len(tr["sts"]), len(dev["sts"])) == (8544, 1101, 6040, 863)
    if not (data_dir / "quora-train.csv").exists():
        assert (len(tr["para"]), len(dev["para"])) == (14174, 6038)
        assert t.dropped["quora-dev.csv"] == 2 and "held-out" in t.protocols["para"]
        assert {e.id for e in tr["para"]}.isdisjoint(e.id for e in dev["para"])
        assert sum(e.label for e in tr["para"] + dev["para"]) == 7585
    assert [sum(e.label == c for e in tr["sst"]) for c in range(5)] == [1092, 2218, 1624, 2322, 1288]
    assert all(0 <= e.label <= 5 for e in tr["sts"])
    assert not tr["sst"][0].text.startswith(" ")


def _csv_reference(path: Path, task, labelled):
    """The tab-separated reader read_task_file replaced (csv.reader), kept as the reference it must equal."""
    import csv
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        has_label = task.label in header if labelled is None else labelled
        need = ["id", *task.columns] + ([task.label] if has_label else [])
        col = {c: header.index(c) for c in need}
        examples, dropped = [], []
        for row in reader:
            assert len(row) <= len(header)
            values = {c: (row[i].strip() if i < len(row) else "") for c, i in col.items()}
            if not all(values.values()):
                dropped.append(reader.line_num)
                continue
            label = data.parse_label(values[task.label], task, "ref") if has_label else None
            texts = [values[c] for c in task.columns]
            examples.append(data.Example(values["id"], texts[0], texts[1] if len(texts) > 1 else None, label))
    return examples, dropped


def test_every_task_file_reads_as_the_csv_reader_did(data_dir):
    """Every task file in the data folder (the three built-ins and CFIMDB): the same examples (ids, stripped
    texts, labels, in order) and the same dropped rows, by line number, as the csv reader gave."""
    from minbert.tasks import TASKS, read_spec
    tasks = [*TASKS.values(), read_spec(Path(__file__).resolve().parents[1] / "tasks" / "cfimdb.yaml")]
    seen = 0
    for task in tasks:
        for split, name in task.files.items():
            path = data_dir / name
            if not path.is_file():
                continue
            for labelled in (None, *([True] if split != "test" else [])):
                f = read_task_file(path, task, labelled)
                examples, dropped = _csv_reference(path, task, labelled)
                assert f.examples == examples, name
                assert f.dropped_lines == dropped and f.dropped == len(dropped), name
            seen += 1
    assert seen >= 9  # sst and sts train/dev/test, quora dev, cfimdb's three


def test_quoted_fields_with_embedded_quotes(tmp_path):
    p = _write(tmp_path, "quora-dev.csv", '\tid\tsentence1\tsentence2\tis_duplicate\n'
               '0\tab\t"She said ""hi"" twice"\t plain \t1.0\n')
    (e,) = read_task_file(p).examples
    assert (e.text, e.text2, e.label) == ('She said "hi" twice', "plain", 1)


def test_awkward_rows_read_as_the_csv_reader_did(tmp_path):
    """Quoted line breaks (\\n and \\r\\n), doubled quotes, a stray quote, a blank line, a short row and padding:
    the same examples and dropped line numbers as csv.reader."""
    from minbert.tasks import STS
    body = (HEADER + '0\ta1\t"two\nlines"\t  y \t2.5\n1\ta2\t"say ""hi"""\tb"c\t1\n\n2\ta3\tonly\n'
            '3\ta4\t"crlf\r\ninside"\tz\t0\r\n4\ta5\tx\t\t3\n5\ta6\tlast\tone\t5\n')
    p = _write(tmp_path, "sts-train.csv", body)
    f = read_task_file(p)
    examples, dropped = _csv_reference(p, STS, None)
    assert f.examples == examples and f.dropped_lines == dropped == [5, 6, 9]
    assert [e.id for e in f.examples] == ["a1", "a2", "a4", "a6"] and f.examples[0].text == "two\nlines"


def test_rows_with_missing_fields_are_dropped_and_counted(tmp_path):
    p = _write(tmp_path, "sts-train.csv", HEADER + "0\ta1\tx\ty\t2.5\n1\ta2\t\ty\t1.0\n2\ta3\tonly\n")
    f = read_task_file(p)
    assert len(f.examples) == 1 and f.dropped == 2 and f.dropped_lines == [3, 4]


@pytest.mark.parametrize("name,body,problem", [
    ("sts-train.csv", HEADER + "0\ta1\tx\ty\t5.5\n",
     "sts-train.csv:2, column 'similarity': label 5.5 outside 0.0..5.0"),
    ("sts-train.csv", HEADER + "0\ta1\tx\ty\tfive\n",
     "sts-train.csv:2, column 'similarity': label 'five' is not a number"),
    ("ids-sst-dev.csv", "\tid\tsentence\tsentiment\n0\ta\tok\t2\n1\tb\tbad\t7\n",
     "ids-sst-dev.csv:3, column 'sentiment': label 7"),
    ("quora-dev.csv", "\tid\tsentence1\tsentence2\tis_duplicate\n0\ta\tx\ty\t0.5\n", "not a whole class"),
    ("sts-dev.csv", "\tid\ttext\tsimilarity\n", "sts-dev.csv:1: header"),
    ("sts-dev.csv", HEADER + "0\ta\tx\ty\t1\textra\n", "sts-dev.csv:2: 6 fields"),
    ("sts-dev.csv", "", "empty file"),
])
def test_malformed_files_name_file_line_and_problem(tmp_path, name, body, problem):
    with pytest.raises(DataError, match=problem.replace(".", r"\.")):
        read_task_file(_write(tmp_path, name, body))


def test_test_files_have_no_labels(data_dir):
    f = read_task_file(data_dir / "sts-test-student.csv")
    assert len(f.examples) == 1725 and all(e.label is None for e in f.examples)


def test_location_order(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c / "data"):
        d.mkdir(parents=True)
        (d / "sts-dev.csv").write_text(HEADER)
    monkeypatch.chdir(c)
    monkeypatch.setenv("MINBERT_DATA", str(b))
    assert find_data_dir(a) == a.resolve()
    assert find_data_dir(None) == b.resolve()
    monkeypatch.delenv("MINBERT_DATA")
    assert find_data_dir(None) == (c / "data").resolve()
    monkeypatch.setenv("MINBERT_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="MINBERT_DATA"):
        find_data_dir(None)


def test_user_cache_is_last_in_the_search_order(tmp_path, monkeypatch):
    from minbert.data import cache_data_dir
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no ./data, no ../shared/data
    monkeypatch.delenv("MINBERT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_data_dir() == tmp_path / "xdg" / "minbert" / "data"
    assert find_data_dir(None, required=False) is None
    cache_data_dir().mkdir(parents=True)
    (cache_data_dir() / "sts-dev.csv").write_text(HEADER)
    assert find_data_dir(None) == cache_data_dir().resolve()
    (empty / "data").mkdir()
    (empty / "data" / "sts-dev.csv").write_text(HEADER)
    assert find_data_dir(None) == (empty / "data").resolve()  # anything the user placed wins over the cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_data_dir() == Path.home() / ".cache" / "minbert" / "data"


def test_bucketing_covers_every_index_once_and_pads_little():
    import random
    lengths = [random.Random(i).randint(5, 60) for i in range(1000)]
    batches = bucket_batches(lengths, 32, shuffle=True, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10
    assert bucket_batches(lengths, 32, shuffle=True, seed=1) == batches
    ordered = [i for b in bucket_batches(lengths, 32, shuffle=False) for i in b]
    assert [lengths[i] for i in ordered] == sorted(lengths)


def test_minbert_never_imports_reference_libraries():
    banned = {"transformers", "sentence_transformers"}
    for path in Path(data.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & banned, path
