"""The studio's downloads: per-session folders, atomic writes, bounded size, idle folders removed."""
import csv
import os
import time

import pytest

from analysis.studio import downloads
from minbert.serve.predictor import InputError


def test_per_session_files_and_odd_names(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_root", tmp_path)
    a = downloads.write_csv("abc", "x.csv", ["h"], [[1], [2]])
    b = downloads.write_csv("../../etc", "../passwd", ["h"], [[3]])
    assert os.path.dirname(a) != os.path.dirname(b) and all(p.startswith(str(tmp_path)) for p in (a, b))
    with open(a, newline="") as f:
        assert list(csv.reader(f)) == [["h"], ["1"], ["2"]]
    assert not [p for p in tmp_path.rglob("*.part")]  # no temporary file left behind


def test_size_is_bounded_and_nothing_partial_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_root", tmp_path)
    monkeypatch.setattr(downloads, "MAX_BYTES", 1000)
    monkeypatch.setattr(downloads, "CHECK_ROWS", 10)
    with pytest.raises(InputError, match="over"):
        downloads.write_csv("s", "big.csv", ["text"], ([("word " * 20)] for _ in range(1000)))
    assert list((tmp_path / "s").iterdir()) == []


def test_idle_session_folders_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_root", tmp_path)
    old = downloads.write_csv("old", "a.csv", ["h"], [])
    downloads.write_csv("new", "a.csv", ["h"], [])
    downloads.prune(time.time() + downloads.KEEP_S / 2)
    assert os.path.exists(old)
    os.utime(tmp_path / "old", (0, 0))
    downloads.prune()
    assert not os.path.exists(old) and (tmp_path / "new").is_dir()
