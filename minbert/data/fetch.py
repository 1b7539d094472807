"""Download the nine CS224N task files of a pinned upstream commit, and the SST train-split parse trees,
verified by git blob SHA-1.

Every file is written to a temporary name and renamed only once its hash matches, so a failed or
tampered download leaves nothing behind. Files already present and verified are skipped.

The trees come from another pinned repository whose file appends the 1,101 dev-split trees after the 8,544
train trees: the whole upstream file is verified, then cut to its first 8,544 lines (never the dev ones),
and the cut file verified again. A source folder may also hold the cut file itself.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from minbert.atomic import atomic_write_bytes

UPSTREAM_COMMIT = "7ac8260577fc12a86c7aaf38918056c30054ef39"
UPSTREAM = ("https://raw.githubusercontent.com/gpoesia/minbert-default-final-project/"
            f"{UPSTREAM_COMMIT}/data")
SOURCE_ENV = "MINBERT_DATA_SOURCE"  # a URL prefix or a folder to fetch from instead of UPSTREAM
BLOB_SHA1 = {
    "ids-sst-train.csv": "9cb7333cb1dae49c2bd2a4b56a24882a6e8704b5",
    "ids-sst-dev.csv": "3171aa629a340809d2db4a50df8f6e5ec9420ab0",
    "ids-sst-test-student.csv": "bbd2313758825f86e24416d6aad64cd93370cf7a",
    "quora-train.csv": "a3b5546f6a0e65b60a328a5d294d1038f5bed1da",
    "quora-dev.csv": "de7cfa32428fd470b93f778fccc45a619e01336f",
    "quora-test-student.csv": "f257ef00558555afb50819578a58205732b16354",
    "sts-train.csv": "12b17760e7795fee35aeeabc290d5651de02622a",
    "sts-dev.csv": "9392860e584717976b8d817cc40c9e6ceeec27e0",
    "sts-test-student.csv": "25f0cf8fafdd1f82b9e2bb460c708af34341ce60",
    "sst-train-trees.txt": "1c5317f7ccdc638e30091da2605654f0755e7ab5",  # after the cut below
}
CUT = {  # file -> (upstream URL, git blob SHA-1 of the whole upstream file, lines kept)
    "sst-train-trees.txt": ("https://raw.githubusercontent.com/munikarmanish/RNTN/"
                            "b83e5173e04237a172007cf1540d45e599490e39/trees/train.txt",
                            "5b2890a8e985ae7e611e632ef33d1942ab8c7bac", 8544),
}


@dataclass
class FetchArgs:
    source: str
    dest: Path
    timeout: float


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_verified(path: Path, name: str) -> bool:
    return path.is_file() and git_blob_sha1(path.read_bytes()) == BLOB_SHA1[name]


def read_source(source: str, name: str, timeout: float, bar: tqdm) -> bytes:
    """Bytes of one file from a URL prefix or a local folder."""
    if "://" not in source:
        p = Path(source) / name
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
        return p.read_bytes()
    url = f"{source.rstrip('/')}/{name}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        total = resp.headers.get("Content-Length")
        bar.reset(total=int(total) if total else None)
        chunks = []
        while chunk := resp.read(1 << 16):
            chunks.append(chunk)
            bar.update(len(chunk))
    return b"".join(chunks)


def fetch_one(name: str, args: FetchArgs) -> str | None:
    """Fetch and verify one file; return an error message, or None on success."""
    target = args.dest / name
    if is_verified(target, name):
        tqdm.write(f"ok       {name} (already present and verified)")
        return None
    with tqdm(desc=name, unit="B", unit_scale=True, leave=False) as bar:
        try:
            if name in CUT and args.source == UPSTREAM:
                url, _, _ = CUT[name]
                data = read_source(url.rsplit("/", 1)[0], url.rsplit("/", 1)[1], args.timeout, bar)
            else:
                data = read_source(args.source, name, args.timeout, bar)
        except (OSError, urllib.error.URLError, ValueError) as e:
            return f"{name}: download failed: {e}"
    if name in CUT and git_blob_sha1(data) == CUT[name][1]:  # the whole upstream file: keep the train lines only
        data = b"".join(data.splitlines(keepends=True)[:CUT[name][2]])
    got = git_blob_sha1(data)
    if got != BLOB_SHA1[name]:
        return f"{name}: checksum mismatch (git blob sha1 {got}, expected {BLOB_SHA1[name]}); not saved"
    atomic_write_bytes(target, data)
    tqdm.write(f"fetched  {name} ({len(data):,} bytes, verified)")
    return None


def default_source() -> str:
    return os.environ.get(SOURCE_ENV) or UPSTREAM


def fetch_files(names: Iterable[str], args: FetchArgs, on_file: Callable[[str, str | None], None] | None = None) -> list[str]:
    """Fetch and verify each file in turn; returns the error messages. on_file(name, error) after each."""
    args.dest.mkdir(parents=True, exist_ok=True)
    errors = []
    for name in names:
        err = fetch_one(name, args)
        if err:
            errors.append(err)
        if on_file:
            on_file(name, err)
    return errors


def parse_args(argv: list[str] | None) -> FetchArgs:
    ap = argparse.ArgumentParser(prog="python -m minbert.data fetch", description=__doc__)
    ap.add_argument("--source", default=default_source(),
                    help=f"URL prefix or local folder holding the files (default: ${SOURCE_ENV}, else the pinned upstream commit)")
    ap.add_argument("--dest", default="data", help="folder to write the files into (default: ./data)")
    ap.add_argument("--timeout", type=float, default=60.0, help="network timeout per request, in seconds")
    a = ap.parse_args(argv)
    return FetchArgs(a.source, Path(a.dest), a.timeout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        errors = fetch_files(BLOB_SHA1, args)
    except OSError as e:
        print(f"error: cannot write to {args.dest}: {e}", file=sys.stderr)
        return 1
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} of {len(BLOB_SHA1)} files failed; the others are in {args.dest}", file=sys.stderr)
        return 1
    print(f"all {len(BLOB_SHA1)} files verified in {args.dest.resolve()}")
    return 0
