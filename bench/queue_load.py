"""Long work under load (loopback only, bounded, stops by itself): N users send attributions, attention and
file jobs at once, and the app queues them (Gradio's queue, one long job at a time) instead of refusing.

Starts `python app.py` on a free loopback port. First the reference, in this same run: each kind of long
job alone, and the light probe (a one-sentence /sentiment) on an idle app. Then, for each --users count, every
user sends --requests long jobs one after another (kinds in turn: /sentiment_explain, /attention,
/evaluate_file with --rows labelled rows, /score_pairs with --rows pairs) while the probe keeps asking.
For each job the waiting time (from submission until the queue starts it: gradio_client's PROCESSING status)
and the service time (from then until the answer) are reported apart, p50 and p95, as is every refusal.
    python -m bench.queue_load [--users 8 16] [--requests 2] [--rows 200] [--time-limit 600] [--url URL]
"""
from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import threading
import time
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bench import machine
from tests.app_server import AppServer

SENTENCE = ("The first half drags badly, but the last forty minutes are gorgeous, witty and genuinely moving, "
            "and the lead gives the performance of her career.")
PROBE = "A short, light request."
POLL_S = 0.02  # how often a user looks at its job's status (catches the moment the queue starts it)


@dataclass
class Outcome:
    kind: str
    wait: float  # seconds in the queue
    service: float  # seconds from the queue starting the job to the answer
    answer: str  # "ok", "busy", "message: ..." or "refused: ..."


def job_inputs(folder: Path, rows: int) -> dict[str, tuple]:
    """The arguments of each kind of long job (files written once into `folder`)."""
    from gradio_client import handle_file

    from minbert.data import find_data_dir, read_task_file
    dev = read_task_file(find_data_dir() / "ids-sst-dev.csv").examples[:rows]
    labelled = folder / "labelled.csv"
    with labelled.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sentence", "label"])
        w.writerows([e.text, e.label] for e in dev)
    pairs = "\n".join(f"{a.text} ||| {b.text}" for a, b in zip(dev, dev[1:] + dev[:1]))
    return {"/sentiment_explain": (SENTENCE,), "/attention": (SENTENCE, "", None, None),
            "/evaluate_file": (handle_file(str(labelled)), "sentiment", "", "", ""),
            "/score_pairs": (pairs, None)}


def classify(out) -> str:
    first = out[0] if isinstance(out, (tuple, list)) else out
    text = first.get("error", "") if isinstance(first, dict) else str(first)
    if "busy" in text.lower():
        return "busy"
    return f"message: {text[:80]}" if text.startswith("⚠️") or (isinstance(first, dict) and "error" in first) else "ok"


def run_job(client, kind: str, args: tuple, deadline: float) -> Outcome:
    """Submit one job and watch its status: queue wait and service time from gradio_client's own updates."""
    from gradio_client.utils import Status
    t0 = time.perf_counter()
    try:
        job = client.submit(*args, api_name=kind)
        started = None
        while not job.done():
            if started is None and job.status().code in (Status.PROCESSING, Status.PROGRESS, Status.ITERATING):
                started = time.perf_counter()
            if time.perf_counter() > deadline:
                job.cancel()
                return Outcome(kind, started - t0 if started else time.perf_counter() - t0, float("nan"), "refused: time limit")
            time.sleep(POLL_S)
        out = job.result()
    except Exception as e:  # noqa: BLE001 - a refusal of any kind is counted and shown
        return Outcome(kind, float("nan"), float("nan"), f"refused: {type(e).__name__}: {str(e)[:100]}")
    done = time.perf_counter()
    started = started or done  # finished between two looks: its wait is known to within POLL_S
    return Outcome(kind, started - t0, done - started, classify(out))


def probe(url: str, stop: threading.Event, lat: list[float], starts: list[float] | None = None) -> None:
    """One light request after another until `stop`: each one's latency into `lat` (and its start, perf_counter
    seconds, into `starts` if given)."""
    from gradio_client import Client
    c = None
    while not stop.is_set():
        t = time.perf_counter()
        if starts is not None:
            starts.append(t)
        try:
            c = c or Client(url, verbose=False)  # connecting counts towards the first probe's time
            c.predict(PROBE, api_name="/sentiment")
            lat.append(time.perf_counter() - t)
        except Exception:  # noqa: BLE001 - a failed probe counts as infinitely slow
            lat.append(float("inf"))
        time.sleep(0.2)


def q(xs: list[float], p: float) -> float:
    xs = sorted(x for x in xs if x == x)  # NaN (unknown) left out
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


def phase(url: str, inputs: dict, users: int, requests: int, deadline: float) -> tuple[list[Outcome], list[float]]:
    """`users` clients at once, each sending `requests` long jobs in turn, with the probe running throughout."""
    from gradio_client import Client
    kinds = list(inputs)
    clients = [Client(url, verbose=False) for _ in range(users)]  # connected before the clock starts
    stop, lat = threading.Event(), []
    prober = threading.Thread(target=probe, args=(url, stop, lat), daemon=True)
    prober.start()

    def user(u: int) -> list[Outcome]:
        return [run_job(clients[u], kinds[(u + i) % len(kinds)], inputs[kinds[(u + i) % len(kinds)]], deadline)
                for i in range(requests)]

    with ThreadPoolExecutor(users) as pool:
        outcomes = [o for part in pool.map(user, range(users)) for o in part]
    stop.set()
    prober.join()
    return outcomes, lat


def report(title: str, outcomes: list[Outcome], lat: list[float], solo: dict[str, float]) -> None:
    print(f"\n{title}: {len(outcomes)} long jobs")
    print(f"  {'kind':18s} {'n':>3s} {'wait p50':>9s} {'wait p95':>9s} {'service p50':>12s} {'service p95':>12s} "
          f"{'svc p50 / alone':>16s}  answers")
    for kind in [*solo, "all"]:
        os_ = [o for o in outcomes if kind in ("all", o.kind)]
        if not os_:
            continue
        wait, svc = [o.wait for o in os_], [o.service for o in os_]
        answers = {a: sum(o.answer.split(":")[0] == a for o in os_) for a in ("ok", "busy", "message", "refused")}
        ratio = f"{q(svc, 0.5) / solo[kind]:.2f}x" if kind in solo else ""
        print(f"  {kind:18s} {len(os_):3d} {q(wait, .5):8.2f}s {q(wait, .95):8.2f}s {q(svc, .5):11.2f}s "
              f"{q(svc, .95):11.2f}s {ratio:>16s}  " + ", ".join(f"{k} {v}" for k, v in answers.items()))
    for o in outcomes:
        if o.answer.startswith(("refused", "message")):
            print(f"    {o.kind}: {o.answer}")
    finite = [x for x in lat if x != float("inf")]
    print(f"  light probe (/sentiment, one sentence) meanwhile: {len(lat)} requests, p50 "
          f"{statistics.median(finite) * 1000 if finite else float('nan'):.0f} ms, p95 {q(lat, .95) * 1000:.0f} ms, "
          f"max {max(lat) * 1000 if lat else float('nan'):.0f} ms, failures {len(lat) - len(finite)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, nargs="+", default=[8, 16], help="concurrent users, one phase each")
    ap.add_argument("--requests", type=int, default=2, help="long jobs per user in each phase, sent one after another")
    ap.add_argument("--rows", type=int, default=200, help="rows of the labelled file and pairs of the pairs job")
    ap.add_argument("--time-limit", type=float, default=600, help="seconds for the whole run; jobs still open are cancelled")
    ap.add_argument("--solo", type=int, default=3, help="runs of each kind alone for the reference (median)")
    ap.add_argument("--url", default=None, help="an app already running on loopback (default: start one)")
    ap.add_argument("--startup-timeout", type=float, default=300, help="seconds the started app may take to serve")
    args = ap.parse_args()
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost"):
        ap.error("--url must be a loopback address (127.0.0.1 or localhost)")
    print(machine.describe())
    deadline = time.perf_counter() + args.time_limit
    from gradio_client import Client
    server = AppServer(timeout=args.startup_timeout) if not args.url else nullcontext()
    with server:
        url = args.url or server.url
        print(f"app at {url}" + (f", served its first page after {server.startup_s:.1f} s" if not args.url else ""))
        inputs = job_inputs(Path(tempfile.mkdtemp(prefix="minbert-queue-")), args.rows)
        c = Client(url, verbose=False)
        for kind, a in inputs.items():
            run_job(c, kind, a, deadline)  # warm-up: first calls load the base model, caches
        solo = {kind: statistics.median(run_job(c, kind, a, deadline).service for _ in range(args.solo))
                for kind, a in inputs.items()}
        idle = []
        for _ in range(10):
            t = time.perf_counter()
            c.predict(PROBE, api_name="/sentiment")
            idle.append(time.perf_counter() - t)
        print(f"reference, alone on the app (median of {args.solo}): " + ", ".join(f"{k} {v:.2f} s" for k, v in solo.items())
              + f"; light probe on the idle app: p50 {statistics.median(idle) * 1000:.0f} ms")
        for users in args.users:
            outcomes, lat = phase(url, inputs, users, args.requests, deadline)
            report(f"{users} users x {args.requests} long jobs at once", outcomes, lat, solo)
        alive = "label" in c.predict(PROBE, api_name="/sentiment")
        tracebacks = "n/a (--url)" if args.url else server.log().count("Traceback (most recent call last)")
    print(f"\nserver alive at the end: {alive}; tracebacks in its log: {tracebacks}")
    print("targets: no job refused or told 'busy' (the queue has room: 64); service p95 <= 10 s; probe p95 <= 2 s")


if __name__ == "__main__":
    main()
