"""Start `python app.py` on a free loopback port for the live tests and the load benchmark."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "checkpoints" / "minbert-multitask"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """Context manager: launches the app, waits for its first page, records start-up seconds. Its output goes
    to a log file (`log()`), so tests can look for tracebacks. `cwd` other than the repo root and `drop_env`
    give the app a machine without task data (no ./data, no ../shared/data, no $MINBERT_DATA)."""

    def __init__(self, checkpoint: Path = CHECKPOINT, extra_env: dict | None = None, timeout: float = 120,
                 cwd: Path = ROOT, drop_env: tuple[str, ...] = (), args: tuple[str, ...] = (), app: Path = ROOT / "app.py"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.checkpoint, self.timeout, self.cwd, self.args, self.app = checkpoint, timeout, cwd, args, app
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False",
               "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.env = {k: v for k, v in env.items() if k not in drop_env}
        self.log_file = tempfile.NamedTemporaryFile("w+", prefix="minbert-app-", suffix=".log", delete=False)

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def __enter__(self) -> "AppServer":
        t0 = time.time()
        self.proc = subprocess.Popen([sys.executable, str(self.app), "--checkpoint", str(self.checkpoint),
                                      *self.args], cwd=self.cwd, env=self.env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, text=True)
        while time.time() - t0 < self.timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        self.startup_s = time.time() - t0
                        self.startup_rss_mb = self.rss_mb()  # before any request: a shared server grows later
                        return self
            except OSError:
                time.sleep(0.25)
        self.proc.kill()
        raise RuntimeError(f"app did not serve {self.url} within {self.timeout} s")

    def rss_mb(self) -> float:
        import psutil
        return psutil.Process(self.proc.pid).memory_info().rss / 1e6

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()
        Path(self.log_file.name).unlink(missing_ok=True)
