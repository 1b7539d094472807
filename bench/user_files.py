"""The user's own material at full size: 10,000 pairs through /score_pairs (fp32 and int8 apps) against the
batch CLI on the same pairs, and the server's peak RSS while /evaluate_file takes 10,000 labelled rows.

Pairs and labels come from quora-dev.csv (the task data folder); nothing is written outside a temp folder.
    python -m bench.user_files [--pairs 10000]
"""
import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.app_server import ROOT, AppServer

from bench import machine
from bench.abuse import Sampler
from minbert.data import find_data_dir, read_task_file


def write_pairs(n: int, folder: Path) -> Path:
    rows = read_task_file(find_data_dir() / "quora-dev.csv").examples[:n]
    path = folder / f"pairs-{n}.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "sentence1", "sentence2", "is_duplicate"])
        w.writerows([e.id, e.text, e.text2, e.label] for e in rows)
    return path


def through_app(path: Path, precision: str) -> None:
    from gradio_client import Client, handle_file
    with AppServer(args=("--precision", precision)) as server:
        client = Client(server.url, verbose=False)
        rss = Sampler(server.rss_mb)
        rss.start()
        t = time.perf_counter()
        out = client.predict("", handle_file(str(path)), api_name="/score_pairs")
        dt = time.perf_counter() - t
        n = len(out["rows"])
        print(f"/score_pairs, app --precision {precision}: {n:,} pairs in {dt:.1f} s = {n / dt:.0f} pairs/s "
              f"(cosine, STS, P(paraphrase) from one encoder pass); peak server RSS {rss.peak:.0f} MB")
        if precision == "fp32":
            rss.peak = 0.0
            t = time.perf_counter()
            m = client.predict(handle_file(str(path)), "paraphrase", "", "", "", api_name="/evaluate_file")["metrics"]
            dt = time.perf_counter() - t
            print(f"/evaluate_file, paraphrase, {m['rows']:,} rows: {dt:.1f} s, accuracy {m['accuracy']:.4f}; "
                  f"peak server RSS {rss.peak:.0f} MB")
        rss.stop.set()


def through_cli(path: Path, precision: str, folder: Path) -> None:
    out = folder / "cli-out.csv"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minbert.predict", "--task", "paraphrase", "--input", str(path), "--output",
                    str(out), "--text-col", "sentence1", "--text2-col", "sentence2", "--max-length", "512",
                    "--precision", precision], check=True, capture_output=True, cwd=ROOT)
    dt = time.perf_counter() - t
    n = sum(1 for _ in out.open()) - 1
    print(f"python -m minbert.predict --task paraphrase --precision {precision}: {n:,} pairs in {dt:.1f} s "
          f"= {n / dt:.0f} pairs/s (whole process, model load included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=10_000, help="pairs (and labelled rows) to send")
    args = ap.parse_args()
    print(machine.describe())
    folder = Path(tempfile.mkdtemp(prefix="minbert-bench-"))
    path = write_pairs(args.pairs, folder)
    for precision in ("fp32", "auto", "int8"):
        through_app(path, precision)
        through_cli(path, precision, folder)


if __name__ == "__main__":
    main()
