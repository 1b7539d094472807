"""The app's task data: found on disk, or fetched in the background into the user cache.

The dev sentences are not shipped (dataset text is never committed), so on a fresh machine or a Space the
app fetches the three dev files with the checksum-verified, atomic `minbert.data.fetch` into
`$XDG_CACHE_HOME/minbert/data` (else `~/.cache/minbert/data`), which is part of the data search order.
The page never waits for it: the tabs show the progress and fill in when it is done.
MINBERT_OFFLINE=1 (or `app.py --offline`) turns the fetch off; MINBERT_DATA_SOURCE points it elsewhere.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from minbert.data import APP_FILES, cache_data_dir
from minbert.data.fetch import SOURCE_ENV, FetchArgs, default_source, fetch_files

OFFLINE_ENV = "MINBERT_OFFLINE"
FETCH_TIMEOUT_S = 30.0  # per request


def offline_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


class DataFetch:
    """One background fetch of APP_FILES; its state is read by the UI from any thread."""

    def __init__(self, source: str | None = None, dest: Path | None = None):
        self.source, self.dest = source or default_source(), dest or cache_data_dir()
        self.total, self.done, self.errors = len(APP_FILES), 0, []
        self.state = "idle"  # idle -> running -> done | failed
        self._thread: threading.Thread | None = None

    def start(self) -> "DataFetch":
        self.state = "running"
        self._thread = threading.Thread(target=self._run, name="minbert-data-fetch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        def on_file(_name, err):
            self.done += err is None

        try:
            self.errors = fetch_files(APP_FILES, FetchArgs(self.source, self.dest, FETCH_TIMEOUT_S), on_file)
        except Exception as e:  # noqa: BLE001 - any failure (disk full, permissions) must reach the UI, not kill the app
            self.errors = [f"{type(e).__name__}: {e}"]
        self.state = "failed" if self.errors else "done"

    def wait(self, timeout: float | None = None) -> None:
        if self._thread:
            self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def describe(self) -> str:
        if self.state == "running":
            return (f"⏳ Fetching the task data into `{self.dest}`: {self.done} / {self.total} files verified. "
                    "Sentence text appears here when it is done; the maps and tables already work.")
        if self.state == "failed":
            first = self.errors[0] if len(self.errors[0]) <= 140 else self.errors[0][:140] + "…"
            more = f" and {len(self.errors) - 1} more" if len(self.errors) > 1 else ""
            return (f"Sentence text needs the task data; fetching it failed ({first}{more}). Maps and tables show "
                    f"ids and labels. For the text, set MINBERT_DATA to a folder with the files (or {SOURCE_ENV} to "
                    "a source you can reach) and restart.")
        return ""
