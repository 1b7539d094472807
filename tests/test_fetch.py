"""`python -m minbert.data fetch` against a loopback HTTP server serving a copy of the task data."""
import shutil
import subprocess
import sys

import pytest

from data_server import serve_folder

from minbert.fetch import BLOB_SHA1, git_blob_sha1, main

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
    assert r.returncode == 1 and "9 of 9 files failed" in r.stderr and "Traceback" not in r.stderr
