"""A fresh machine, as a new user or a Hugging Face Space meets the app: a clean `git clone`, no task data
anywhere, an empty user cache, the task files served by a loopback HTTP server (never the internet).

Times launch -> first page, and launch -> the Embeddings map showing sentence text (Playwright + Debian's
Chromium, when present), and prints the server's resident memory (RSS, psutil) at the first page, once `auto` has
chosen its precision in the background (on this empty cache: measured) and once the map shows text.
    python -m bench.fresh_start [--data-dir DATA]
"""
import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from tests.app_server import ROOT, AppServer
from tests.data_server import serve_folder

from bench import machine
from minbert.data import find_data_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help="folder the loopback server serves (default: the usual search)")
    args = ap.parse_args()
    print(machine.describe())
    tmp = Path(tempfile.mkdtemp(prefix="minbert-fresh-"))
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    with serve_folder(find_data_dir(args.data_dir)) as url:
        server = AppServer(checkpoint=clone / "checkpoints" / "minbert-multitask", cwd=clone, app=clone / "app.py",
                           drop_env=("MINBERT_DATA", "MINBERT_OFFLINE"),
                           extra_env={"MINBERT_DATA_SOURCE": url, "XDG_CACHE_HOME": str(tmp / "cache")})
        with server:
            launched = time.time() - server.startup_s
            print(f"first page {server.startup_s:.1f} s after launch; RSS {server.startup_rss_mb:.0f} MB")
            while "precision: auto:" not in server.log() and time.time() - launched < 900:
                time.sleep(1)
            chosen = next((x for x in server.log().splitlines() if x.startswith("precision: auto:")), "(none)")
            print(f"auto chose {time.time() - launched:.1f} s after launch; RSS {server.rss_mb():.0f} MB; {chosen}")
            if not Path("/usr/bin/chromium").exists():
                print("no /usr/bin/chromium: time to the map with text not measured")
                return
            from playwright.sync_api import sync_playwright
            from tests.screenshots import FLAGS
            from tests.test_browser import MAP_HAS_TEXT, open_page, open_tab
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                page = open_page(browser, server)
                open_tab(page, "Embeddings")
                page.wait_for_function(MAP_HAS_TEXT, timeout=180_000)
                print(f"Embeddings map shows sentence text {time.time() - launched:.1f} s after launch "
                      f"(page opened at {server.startup_s:.1f} s); RSS {server.rss_mb():.0f} MB")
                browser.close()


if __name__ == "__main__":
    main()
