"""Files the studio hands back for download: CSVs written atomically (a partial file is never served) into a
folder per session, so two users never receive each other's file. Bounded: each file is capped in bytes,
a session keeps one file per name (a new one replaces it), and folders idle for KEEP_S are removed."""
from __future__ import annotations

import csv
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable

from minbert.atomic import atomic_open
from minbert.serve.predictor import InputError

MAX_BYTES = 64 * 2**20  # one download at most (the largest input is 20 MB; predictions add a few columns)
KEEP_S = 3600.0  # a session's folder untouched this long is removed at the next write
CHECK_ROWS = 1000  # rows between size checks while writing

_root: Path | None = None
_root_lock = threading.Lock()


def root() -> Path:
    """This process's download folder under the system temp folder (which Gradio may serve from)."""
    global _root
    with _root_lock:
        if _root is None:
            _root = Path(tempfile.mkdtemp(prefix="minbert-downloads-"))
        return _root


def session_folder(session: str | None) -> Path:
    """The folder of one Gradio session (its session_hash); anything odd in the name is replaced."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(session or "anonymous"))[:64] or "anonymous"
    folder = root() / safe
    folder.mkdir(exist_ok=True)
    folder.touch()  # its mtime marks it as in use
    return folder


def prune(now: float | None = None) -> None:
    """Remove the session folders idle for KEEP_S."""
    now = time.time() if now is None else now
    for folder in root().iterdir():
        if folder.is_dir() and now - folder.stat().st_mtime > KEEP_S:
            shutil.rmtree(folder, ignore_errors=True)


def safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(str(name)).name).strip("._")[:100]
    return stem or "download.csv"


def write_csv(session: str | None, name: str, header: list[str], rows: Iterable[list]) -> str:
    """Write header and rows as a UTF-8 CSV named `name` in the session's folder; return its path."""
    prune()
    path = session_folder(session) / safe_name(name)
    with atomic_open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for n, row in enumerate(rows, 1):
            w.writerow(row)
            if n % CHECK_ROWS == 0 and f.tell() > MAX_BYTES:
                raise InputError(f"The download would be over {MAX_BYTES // 2**20} MB; use `python -m minbert.predict`.")
    return str(path)
