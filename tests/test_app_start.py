"""`python app.py` opens its port at once, whatever the CPU and its load: on a cold cache, with both cores busy, it
serves fp32 within START_S seconds while auto measures in the background, then caches that choice and serves it."""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from minbert.serve import precision as P
from tests.app_server import CHECKPOINT, AppServer

pytestmark = [pytest.mark.app, pytest.mark.slow,
              pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")]

START_S = 15  # launch -> first page, on a cold cache with the cores busy
LOAD_S = 60  # each busy loop stops itself after this long
BUSY = f"import time\nend = time.time() + {LOAD_S}\nwhile time.time() < end:\n    pass\n"


def busy_loops(n: int) -> list[subprocess.Popen]:
    """n processes that keep a core busy each, at this process's priority, and stop after LOAD_S seconds."""
    return [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]


def test_opens_its_port_at_once_under_load_and_chooses_the_precision_later():
    cache = Path(tempfile.mkdtemp(prefix="minbert-cold-cache-"))
    before = os.getloadavg()[0]  # other work on the machine: a load of its own makes any start-up slower
    loops = busy_loops(os.cpu_count() or 2)
    try:
        # the port comes from the flag; the variable the tests' server sets is overridden by it
        server = AppServer(timeout=120, extra_env={"XDG_CACHE_HOME": str(cache), "GRADIO_SERVER_PORT": "1"})
        server.args = ("--port", str(server.port))
        with server:
            cpu = psutil.Process(server.proc.pid).cpu_times()
            assert server.startup_s <= START_S, (
                f"first page after {server.startup_s:.1f} s with {len(loops)} busy loops (the app's CPU time: "
                f"{cpu.user + cpu.system:.1f} s; load average {before:.1f} before the loops started)")
            assert "precision: fp32 for now" in server.log()
            deadline = time.time() + 600
            while "precision: auto:" not in server.log() and time.time() < deadline:
                time.sleep(1)
            chosen = [line for line in server.log().splitlines() if line.startswith("precision: auto:")]
            assert chosen, f"auto never chose:\n{server.log()[-2000:]}"
            entries = json.loads((cache / "minbert" / "precision.json").read_text())
            assert len(entries) == 1  # cached, even though the cores were busy while it measured
            entry = next(iter(entries.values()))
            assert P.LABELS[entry["choice"]] in chosen[0]  # the cached key ("bf16-autocast") is the printed choice
            print(f"first page after {server.startup_s:.1f} s with {len(loops)} busy loops; RSS "
                  f"{server.startup_rss_mb:.0f} MB at the first page, {server.rss_mb():.0f} MB once auto chose "
                  f"({chosen[0]})")
    finally:
        for p in loops:
            p.kill()
            p.wait()
