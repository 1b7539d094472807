"""Hostile load against the live app (loopback only, bounded, stops by itself).

Starts `python app.py` on a free loopback port and sends --requests hostile inputs (tests/hostile.py: empty,
100,000 characters, 3,000 words, HTML, control characters, RTL override, combining-mark and emoji floods,
non-Latin scripts, literal [CLS]/[SEP]/[MASK], None and wrong types, pairs with a side missing, malformed
uploads and one of --big-mb MB) to every endpoint, first sequentially, then from --users concurrent clients.
Meanwhile a light probe (a short sentence to /sentiment, one request at a time) measures its own latency.
Then the ordinary latency check: 1-user sentiment p50 against a bare Gradio echo endpoint, and 16 users.

Prints per endpoint: calls, tracebacks in the server log, p95 and max latency; the server's peak RSS; the
probe's p95; and the targets.
    python -m bench.abuse [--requests 550] [--users 16] [--big-mb 100]
"""
import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minbert.serve.precision import PRECISIONS
from tests.app_server import AppServer
from tests.hostile import call, cases, files, tracebacks

from bench import machine
from bench.app_load import echo_app, load


def q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


class Sampler(threading.Thread):
    """Polls a callable every 0.2 s until stopped, keeping the maximum (the server's RSS)."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.peak, self.stop = fn, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.fn())
            time.sleep(0.2)


def probe(url: str, stop: threading.Event, lat: list[float]) -> None:
    from gradio_client import Client
    c = Client(url, verbose=False)
    while not stop.is_set():
        s, outcome = call(c, "/sentiment", ("A short, light request.",))
        lat.append(s if outcome == "ok" else float("inf"))
        time.sleep(0.1)


def hammer(url: str, work: list, users: int, log=None) -> list[tuple[str, float, str, int | None]]:
    """(endpoint, seconds, outcome, tracebacks) per request; with one user and `log` (the server log's text),
    the tracebacks each request added to the log, else None."""
    from gradio_client import Client

    def one_user(chunk):
        c = Client(url, verbose=False)
        out = []
        for ep, args in chunk:
            before = tracebacks(log()) if log and users == 1 else None
            s, outcome = call(c, ep, args)
            out.append((ep, s, outcome, None if before is None else tracebacks(log()) - before))
        return out

    chunks = [work[i::users] for i in range(users)]
    with ThreadPoolExecutor(users) as pool:
        return [r for part in pool.map(one_user, chunks) for r in part]


def raw_upload(url: str, path: Path) -> str:
    """POST a file straight to Gradio's upload route, as a browser or script would, bypassing gradio_client's
    own size check: the server must refuse it without reading it all into memory."""
    import httpx
    t = time.perf_counter()
    try:
        with path.open("rb") as f:
            r = httpx.post(f"{url}gradio_api/upload", files={"files": (path.name, f, "text/csv")}, timeout=120)
        answer = f"HTTP {r.status_code}: {r.text[:120]}"
    except httpx.HTTPError as e:
        answer = f"{type(e).__name__}: {e}"
    return f"{answer} after {time.perf_counter() - t:.1f} s"


def report(title: str, results: list[tuple[str, float, str, int | None]]) -> None:
    print(f"\n{title}: {len(results)} requests")
    by_ep: dict[str, list] = {}
    for ep, s, outcome, tb in results:
        by_ep.setdefault(ep, []).append((s, outcome, tb))
    for ep, rs in sorted(by_ep.items()):
        lat = [s for s, _, _ in rs]
        kinds = {k: sum(o.split(":")[0] == k for _, o, _ in rs) for k in ("ok", "message", "rejected")}
        tbs = "n/a (see the total)" if rs[0][2] is None else sum(tb for *_, tb in rs)
        print(f"  {ep:19s} {len(rs):4d} calls  tracebacks {tbs}  p95 {q(lat, 0.95):6.2f} s  max {max(lat):6.2f} s  "
              f"answers ok {kinds['ok']}, message {kinds['message']}, rejected by Gradio {kinds['rejected']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=550, help="hostile requests per phase (sequential, concurrent)")
    ap.add_argument("--users", type=int, default=16, help="concurrent clients in the second phase")
    ap.add_argument("--big-mb", type=int, default=100, help="size of the oversized upload, in MB")
    ap.add_argument("--precision", default="auto", choices=PRECISIONS, help="serve the app with this --precision")
    args = ap.parse_args()
    print(machine.describe())
    echo = echo_app()
    floor = load(echo.local_url, "echo", 1, 20)
    echo.close()
    uploads = files(Path(tempfile.mkdtemp(prefix="minbert-abuse-")), args.big_mb)
    work = cases(args.requests, uploads)
    with AppServer(args=("--precision", args.precision)) as server:
        print(f"app served its first page after {server.startup_s:.1f} s; RSS {server.rss_mb():.0f} MB")
        rss = Sampler(server.rss_mb)
        rss.start()
        stop, probe_lat = threading.Event(), []
        prober = threading.Thread(target=probe, args=(server.url, stop, probe_lat), daemon=True)
        prober.start()
        t0 = time.time()
        big = max(uploads, key=lambda p: p.stat().st_size)
        print(f"raw upload of {big.name} ({big.stat().st_size / 2**20:.0f} MiB): {raw_upload(server.url, big)}")
        seq = hammer(server.url, work, 1, server.log)
        conc = hammer(server.url, work, args.users)
        stop.set()
        prober.join()
        wall = time.time() - t0
        p50 = load(server.url, "sentiment", 1, 20)
        load(server.url, "sentiment", 16, 20)
        alive = call(__import__("gradio_client").Client(server.url, verbose=False), "/sentiment", ("alive?",))[1]
        rss.stop.set()
        log = server.log()
    report("sequential hostile requests", seq)
    report(f"{args.users} concurrent users, hostile requests", conc)
    every = [s for _, s, *_ in seq + conc]
    print(f"\nabuse phases took {wall:.0f} s; tracebacks in the server log: {tracebacks(log)}; server alive at the end: "
          f"{alive == 'ok'}; peak server RSS {rss.peak:.0f} MB; slowest answer {max(every):.2f} s")
    finite = [x for x in probe_lat if x != float("inf")]
    print(f"light probe during the abuse: {len(probe_lat)} requests, p50 {statistics.median(finite) * 1000:.0f} ms, "
          f"p95 {q(probe_lat, 0.95) * 1000:.0f} ms, failures {len(probe_lat) - len(finite)}")
    print(f"1-user sentiment p50 {p50 * 1000:.1f} ms = {p50 / floor:.2f}x the echo p50 {floor * 1000:.1f} ms")
    print("targets: 0 tracebacks, alive; peak RSS <= 1500 MB; every answer <= 10 s; probe p95 <= 2 s; "
          "1-user sentiment p50 <= 1.2x echo; 16-user sentiment p95 <= 2 s (line above)")


if __name__ == "__main__":
    main()
