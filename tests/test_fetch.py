"""`python -m minbert.data fetch` against a loopback HTTP server serving a copy of the task data."""
import shutil
import subprocess
import sys

import pytest

from tests.data_server import serve_folder

from minbert.data.fetch import BLOB_SHA1, git_blob_sha1, main

PRESENT = [n for n in BLOB_SHA1 if n not in ("quora-train.csv", "quora-test-student.csv")]


@pytest.fixture
def served(tmp_path, data_dir):
    root = tmp_path / "served"
    root.mkdir()
    for name in PRESENT:
        if (data_dir / name).exists():
            shutil.copy(data_dir / name, root / name)
    with serve_folder(root) as url:
        yield root, url


def test_blob_sha1_matches_git(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"hello\n")
    assert git_blob_sha1(p.read_bytes()) == subprocess.check_output(["git", "hash-object", str(p)], text=True).strip()


def test_fetch_verifies_and_reports_missing_and_tampered(served, tmp_path, capsys):
    root, url = served
    (root / "sts-dev.csv").write_bytes((root / "sts-dev.csv").read_bytes() + b"tampered")
    dest = tmp_path / "dest"
    assert main(["--source", url, "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "sts-dev.csv: checksum mismatch" in err and "quora-train.csv: download failed" in err
    assert sorted(p.name for p in dest.iterdir()) == sorted(n for n in PRESENT if n != "sts-dev.csv")
    for p in dest.iterdir():  # nothing half-written or unverified is left behind
        assert git_blob_sha1(p.read_bytes()) == BLOB_SHA1[p.name]


def test_fetch_skips_verified_files(served, tmp_path, data_dir, capsys):
    root, url = served
    dest = tmp_path / "dest"
    dest.mkdir()
    shutil.copy(data_dir / "sts-dev.csv", dest / "sts-dev.csv")
    (root / "sts-dev.csv").unlink()  # the server no longer has it, but the local copy is verified
    main(["--source", url, "--dest", str(dest)])
    assert "sts-dev.csv (already present and verified)" in capsys.readouterr().out


def test_cli_exit_code_and_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minbert.data", "fetch", "--source", str(tmp_path / "none"),
                        "--dest", str(tmp_path / "d")], capture_output=True, text=True)
    assert r.returncode == 1 and "10 of 10 files failed" in r.stderr and "Traceback" not in r.stderr


def test_a_cut_file_keeps_only_the_leading_lines(tmp_path, monkeypatch):
    """The trees' upstream appends dev-split lines: fetch verifies the whole file, keeps the first N lines,
    verifies those; a source that already holds the cut file is accepted as it is."""
    import minbert.data.fetch as F
    whole = b"".join(b"(2 train%d)\n" % i for i in range(5)) + b"(2 dev)\n(2 dev)\n"
    cut = b"".join(whole.splitlines(keepends=True)[:5])
    monkeypatch.setitem(F.BLOB_SHA1, "trees.txt", git_blob_sha1(cut))
    monkeypatch.setitem(F.CUT, "trees.txt", ("http://unused/trees.txt", git_blob_sha1(whole), 5))
    for i, content in enumerate((whole, cut)):
        src, dest = tmp_path / f"src{i}", tmp_path / f"dest{i}"
        src.mkdir()
        (src / "trees.txt").write_bytes(content)
        assert F.fetch_one("trees.txt", F.FetchArgs(str(src), dest, 5.0)) is None
        assert (dest / "trees.txt").read_bytes() == cut and b"dev" not in (dest / "trees.txt").read_bytes()
    (tmp_path / "src0" / "trees.txt").write_bytes(whole + b"(2 tampered)\n")
    err = F.fetch_one("trees.txt", F.FetchArgs(str(tmp_path / "src0"), tmp_path / "dest2", 5.0))
    assert "checksum mismatch" in err and not (tmp_path / "dest2" / "trees.txt").exists()
