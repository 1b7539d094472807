"""The Embeddings tab's "Your corpus" at scale: N sentences mapped, each stage timed, peak memory, the reopen.

    python -m bench.corpus_map [--rows 100000] [--precision auto] [--app | --url URL]

The corpus (tests/sst_corpus.py): the 8,544 SST training sentences, then distinct labelled phrases of 3+ words
from the SST training parse trees (minbert/data/sst_trees.py) in a seeded random order, then repeats marked
"(again N)" if N asks for more; columns sentence, label, source, words. Written as a CSV into a temporary folder.

In-process (default): analysis.corpus_map.map_corpus with an empty user cache, in this process: the wall and CPU
seconds of each stage (read, embed, PCA, UMAP, cluster, labels, cache write), the peak resident memory of this
process, then the same file again (the reopen, from the cache). The reference in the same run: Predictor.embed
(what the app's one-sentence map uses) on the first REFERENCE_ROWS rows, in batches of 64, against embed_many on
the same rows. --app starts `python app.py` on loopback with an empty user cache (--url: an app already running)
and maps the file through its /map_corpus endpoint while a light probe (/sentiment, one sentence, as
bench/queue_load.py) keeps asking: the probe's p50/p95 during the job, the app's own stage seconds, the app's
peak resident memory (--app only: sampled), and the reopen through the app.
Targets on 2 cores: <= 10 min end to end, <= 3 GB peak, reopen <= 5 s, probe p95 <= 2 s.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from bench import machine

REFERENCE_ROWS = 2_000
TARGETS = {"end to end": 600.0, "peak GB": 3.0, "reopen": 5.0, "probe p95": 2.0}


class PeakRss:
    """Samples the resident memory of a process and its children (the app's UMAP child) every `every` seconds in a
    thread (psutil), keeping the peak of their sum."""

    def __init__(self, pid: int, every: float = 0.2):
        import psutil
        self.proc, self.every, self.peak = psutil.Process(pid), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss
            except Exception:  # noqa: BLE001 - the process ended
                return
            for child in self.proc.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                except Exception:  # noqa: BLE001 - a child that just ended
                    pass
            self.peak = max(self.peak, rss)
            time.sleep(self.every)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Reporter:
    """A progress callback printing a line at most every `every` seconds (a long run shows how far it got)."""

    def __init__(self, start: float, every: float = 60.0):
        self.start, self.every, self.last = start, every, 0.0

    def __call__(self, fraction: float, what: str) -> None:
        now = time.perf_counter() - self.start
        if now - self.last >= self.every or not what.startswith("embedding"):
            self.last = now
            print(f"  [{now:7.1f} s] {what}", flush=True)


def write_corpus(rows: int, folder: Path) -> Path:
    from minbert.data import find_data_dir
    from tests.sst_corpus import sst_corpus
    df = sst_corpus(rows, find_data_dir())
    path = folder / f"sst-corpus-{rows}.csv"
    df.to_csv(path, index=False)
    n = df.source.value_counts()
    print(f"corpus: {len(df):,} rows ({n.get('sentence', 0):,} SST training sentences, {n.get('phrase', 0):,} phrases, "
          f"{n.get('repeat', 0):,} repeats marked '(again N)') · {path.stat().st_size / 1e6:.1f} MB")
    return path


def reference_rate(predictor, texts: list[str]) -> tuple[float, float]:
    """Sentences per second of Predictor.embed (batches of 64) and of embed_many, on the same rows."""
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        predictor.embed(texts[i:i + 64])
    ref = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter()
    predictor.embed_many(texts)
    return ref, len(texts) / (time.perf_counter() - t)


def stage_table(wall: dict[str, float], cpu: dict[str, float]) -> None:
    print(f"  {'stage':12s} {'wall s':>9s} {'CPU s':>9s}")
    for k, v in wall.items():
        print(f"  {k:12s} {v:9.1f} {cpu.get(k, float('nan')):9.1f}")
    print(f"  {'total':12s} {sum(wall.values()):9.1f} {sum(cpu.values()):9.1f}")


def in_process(path: Path, precision: str) -> dict:
    from analysis import corpus_map as cm
    from minbert.serve.predictor import Predictor
    predictor = Predictor(Path(__file__).resolve().parent.parent / "checkpoints" / "minbert-multitask", precision)
    print(f"served: {predictor.served}")
    t = time.perf_counter()
    first_map = None
    for corpus in cm.map_corpus(path, predictor, progress=Reporter(t)):
        first_map = first_map or time.perf_counter() - t
    total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
    print(f"\nmapped {len(corpus.rows):,} rows into {len(corpus.labels)} clusters in {total:.1f} s (the PCA map after "
          f"{first_map:.1f} s); peak resident memory of this process {peak / 1e9:.2f} GB")
    stage_table(corpus.timings, corpus.cpu)
    t = time.perf_counter()
    (again,) = list(cm.map_corpus(path, predictor))
    reopen = time.perf_counter() - t
    assert again.cached and np.array_equal(again.umap, corpus.umap)
    print(f"reopen (same file, from the cache): {reopen:.2f} s = {reopen / total:.4f} of the first map")
    ref, mine = reference_rate(predictor, corpus.texts[:REFERENCE_ROWS])
    print(f"embedding rate on the first {REFERENCE_ROWS:,} rows: embed_many {mine:.0f} sentences/s, Predictor.embed "
          f"(batches of 64) {ref:.0f} sentences/s: {mine / ref:.2f}x")
    return {"end to end": total, "peak GB": peak / 1e9, "reopen": reopen}


def through_app(path: Path, url: str, pid: int | None) -> dict:
    from gradio_client import Client, handle_file

    from bench.queue_load import probe, q
    client = Client(url, verbose=False)
    idle = []
    for _ in range(10):
        t = time.perf_counter()
        client.predict("A short, light request.", api_name="/sentiment")
        idle.append(time.perf_counter() - t)
    stop, lat, starts = threading.Event(), [], []
    prober = threading.Thread(target=probe, args=(url, stop, lat, starts), daemon=True)
    with (PeakRss(pid) if pid else nullcontext()) as rss:
        prober.start()
        t = time.perf_counter()
        out = client.predict(handle_file(str(path)), api_name="/map_corpus")
        total = time.perf_counter() - t
        stop.set()
        prober.join()
    if "error" in out:
        raise SystemExit(f"the app answered: {out['error']}")
    print(f"\nthe app mapped {out['rows']:,} rows into {len(out['clusters'])} clusters: {total:.1f} s from the request "
          f"to the answer" + (f"; its peak resident memory (with its children) {rss.peak / 1e9:.2f} GB" if pid else ""))
    stage_table(out["seconds"], out["cpu_seconds"])
    finite = [x for x in lat if x != float("inf")]
    p50, p95 = statistics.median(finite) if finite else float("nan"), q(lat, 0.95)
    print(f"light probe (/sentiment, one sentence) during the job: {len(lat)} requests, p50 {p50 * 1000:.0f} ms, p95 "
          f"{p95 * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms, failures {len(lat) - len(finite)}; on the idle app "
          f"before: p50 {statistics.median(idle) * 1000:.0f} ms -> p95 during / p50 idle {p95 / statistics.median(idle):.1f}x")
    slow = sorted(((x, s - t) for x, s in zip(lat, starts) if x > 2.0), reverse=True)[:5]
    if slow:  # when they were sent, to set beside the stages' seconds
        print("probes over 2 s: " + ", ".join(f"{x:.1f} s sent at +{at:.0f} s" for x, at in slow))
    t = time.perf_counter()
    again = client.predict(handle_file(str(path)), api_name="/map_corpus")
    reopen = time.perf_counter() - t
    print(f"reopen through the app (upload, hash, read back): {reopen:.2f} s (cached: {again.get('cached')}) = "
          f"{reopen / total:.4f} of the first map")
    return {"end to end": total, "reopen": reopen, "probe p95": p95, **({"peak GB": rss.peak / 1e9} if pid else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="sentences in the corpus")
    ap.add_argument("--precision", default="auto", help="in-process: the precision served (as the app's --precision)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--app", action="store_true", help="start `python app.py` (empty user cache) and map through it")
    where.add_argument("--url", default=None, help="an app already running on loopback: map through it, probe it")
    ap.add_argument("--startup-timeout", type=float, default=600, help="seconds the started app may take to serve")
    args = ap.parse_args()
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost"):
        ap.error("--url must be a loopback address (127.0.0.1 or localhost)")
    print(machine.describe())
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on {os.cpu_count()} cores")
    folder = Path(tempfile.mkdtemp(prefix="minbert-corpus-bench-"))
    path = write_corpus(args.rows, folder)
    os.environ["XDG_CACHE_HOME"] = str(folder / "cache")  # an empty user cache: the first map is computed
    if args.app or args.url:
        from tests.app_server import AppServer
        server = AppServer(timeout=args.startup_timeout, extra_env={"XDG_CACHE_HOME": str(folder / "cache")}) \
            if args.app else nullcontext()
        with server:
            got = through_app(path, args.url or server.url, server.proc.pid if args.app else None)
    else:
        got = in_process(path, args.precision)
    print("\ntargets on 2 cores: " + " · ".join(
        f"{k} {got[k]:.2f} / {v:g} {'ok' if got[k] <= v else 'MISSED'}" for k, v in TARGETS.items() if k in got))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
