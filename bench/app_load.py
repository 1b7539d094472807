"""Load test of the live app on loopback: N concurrent gradio_client users, each sending R requests.

Starts `python app.py` on a free port, then prints p50/p95 latency and the error count for each
endpoint, first with one user, then with N users. The reference is an echo endpoint of a bare Gradio
app run by this same invocation: its latency is the floor that Gradio's queue and gradio_client's
polling put under every call, whatever the model does.
    python -m bench.app_load [--users 16] [--requests 20] [--endpoint sentiment]
"""
import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from tests.app_server import AppServer, free_port
from bench import machine

SST = [("A gorgeous, witty and moving film.",), ("The plot is thin and the jokes fall flat.",)]
INPUTS = {"sentiment": SST, "sentiment_explain": SST,
          "paraphrase": [("How do I learn Python?", "What is the best way to learn Python?")],
          "similarity": [("A man plays guitar.", "A man is playing a guitar.")]}


def user(url: str, endpoint: str, n: int) -> tuple[list[float], int]:
    inputs = INPUTS.get(endpoint, SST)
    from gradio_client import Client
    client = Client(url, verbose=False)
    lat, errors = [], 0
    for i in range(n):
        args = inputs[i % len(inputs)]
        t = time.perf_counter()
        try:
            client.predict(*args, api_name=f"/{endpoint}")
            lat.append(time.perf_counter() - t)
        except Exception:  # noqa: BLE001 - every failure counts as an error
            errors += 1
    return lat, errors


def echo_app():
    """The reference: a bare Gradio app with one queued identity endpoint, in this process."""
    import gradio as gr
    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button().click(lambda x: x, [box], [box], api_name="echo")
    demo.queue(default_concurrency_limit=2).launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    return demo


def load(url: str, endpoint: str, users: int, requests: int) -> float:
    with ThreadPoolExecutor(users) as pool:
        results = list(pool.map(lambda _: user(url, endpoint, requests), range(users)))
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")  # noqa: E731
    print(f"{endpoint:17s} {users:3d} users x {requests:3d} requests: p50 {p(0.5) * 1000:7.1f} ms  "
          f"p95 {p(0.95) * 1000:7.1f} ms  max {lat[-1] * 1000 if lat else float('nan'):7.1f} ms  errors {errors}")
    return p(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=16, help="concurrent users")
    ap.add_argument("--requests", type=int, default=20, help="requests per user")
    ap.add_argument("--endpoint", default="all", choices=["all", *INPUTS], help="endpoint to load")
    args = ap.parse_args()
    print(machine.describe())
    echo = echo_app()
    floor = load(echo.local_url, "echo", 1, args.requests)
    print(f"reference: a bare Gradio echo endpoint answers gradio_client in {floor * 1000:.1f} ms (p50, 1 user)")
    echo.close()
    with AppServer() as server:
        print(f"app served its first page after {server.startup_s:.1f} s; resident memory {server.rss_mb():.0f} MB")
        for ep in (list(INPUTS) if args.endpoint == "all" else [args.endpoint]):
            p50 = load(server.url, ep, 1, args.requests)
            print(f"{'':17s} 1-user p50 / echo p50: {p50 / floor:.2f}x")
            load(server.url, ep, args.users, args.requests)
        print(f"resident memory after the load: {server.rss_mb():.0f} MB")
    print("targets: 0 errors; sentiment p95 <= 2000 ms with 16 users; p50 <= 100 ms with one user")


if __name__ == "__main__":
    main()
