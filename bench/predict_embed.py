"""`minbert.predict --task embed --output X.npy` against the in-process encoder on the same sentences, precision and
threads: the CLI's throughput net of its start-up, as a ratio to the in-process one (issue 36: target >= 0.9x).

In-process: minbert.serve.embedding.embed_texts (tokenize, bucket, encode, pool, normalise) on a loaded model.
CLI: the whole command on N sentences, minus the whole command on 1 sentence (start-up: imports, checkpoint load,
precision); the difference is reading N rows, embedding them and writing the .npy. Rounds alternate in-process,
CLI(N), CLI(1), so load from other processes falls on all three alike. Quoted: the median of the rounds' ratios,
and the ratio of each side's fastest round (the least disturbed), with the load average, so a busy machine's
figures say so ("under load").

    python -m bench.predict_embed [--sentences 2000] [--rounds 3] [--precision fp32] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench import machine
from minbert.checkpoint import load_checkpoint
from minbert.data import find_data_dir, read_task_file
from minbert.serve import precision as P
from minbert.serve.embedding import embed_texts

ROOT = Path(__file__).resolve().parent.parent


def write_input(texts: list[str], path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": str(i), "sentence": t}) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return path


def cli_seconds(checkpoint: str, inp: Path, out: Path, precision: str, threads: int) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", checkpoint, "--task", "embed",
                    "--input", str(inp), "--output", str(out), "--precision", precision, "--threads", str(threads)],
                   check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "minbert-multitask"))
    ap.add_argument("--sentences", type=int, default=2000, help="SST train sentences embedded per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "int8"),
                    help="the same fixed precision for both (auto could choose differently in each process)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(machine.describe())
    texts = [e.text for e in read_task_file(find_data_dir() / "ids-sst-train.csv").examples[:args.sentences]]
    ck = load_checkpoint(args.checkpoint)
    model = P.apply_precision(ck.model, args.precision, ck.tokenizer, ck.meta.get("weights_sha256"), inplace=True)
    folder = Path(tempfile.mkdtemp(prefix="minbert-bench-"))
    full, one = write_input(texts, folder / "full.jsonl"), write_input(texts[:1], folder / "one.jsonl")
    embed_texts(model, ck.tokenizer, texts[:64])  # warm-up: oneDNN builds its kernels on first use
    inproc, net, startup = [], [], []
    for r in range(args.rounds):
        t = time.perf_counter()
        embed_texts(model, ck.tokenizer, texts, 64, 128)
        inproc.append(time.perf_counter() - t)
        t_full = cli_seconds(args.checkpoint, full, folder / "full.npy", args.precision, args.threads)
        t_one = cli_seconds(args.checkpoint, one, folder / "one.npy", args.precision, args.threads)
        net.append(t_full - t_one)
        startup.append(t_one)
        print(f"round {r + 1}: in-process {len(texts) / inproc[-1]:.0f} sentences/s; CLI {t_full:.1f} s whole, "
              f"{t_one:.1f} s for 1 sentence, net {(len(texts) - 1) / net[-1]:.0f} sentences/s; ratio "
              f"{ratio(inproc[-1], net[-1], len(texts)):.2f}; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores", flush=True)
    ips, cps = len(texts) / statistics.median(inproc), (len(texts) - 1) / statistics.median(net)
    per_round = statistics.median(ratio(i, c, len(texts)) for i, c in zip(inproc, net))
    loaded = os.getloadavg()[0] > (os.cpu_count() or 1)
    print(f"\n{len(texts):,} SST train sentences, {args.precision}, {args.threads} threads, batch 64, max 128 tokens, "
          f"medians of {args.rounds} alternating rounds:")
    print(f"  in-process encoder (embed_texts):           {ips:8.0f} sentences/s")
    print(f"  minbert.predict --task embed --output .npy: {cps:8.0f} sentences/s net of start-up "
          f"({statistics.median(startup):.1f} s)")
    print(f"  CLI / in-process: median of the rounds' ratios {per_round:.2f}x, fastest rounds "
          f"{ratio(min(inproc), min(net), len(texts)):.2f}x" + (" (under load: the load average exceeds the cores)"
                                                                 if loaded else ""))


def ratio(inproc_s: float, cli_net_s: float, n: int) -> float:
    """The CLI's throughput net of start-up (n - 1 sentences more than the 1-sentence run) over the in-process one."""
    return ((n - 1) / cli_net_s) / (n / inproc_s)


if __name__ == "__main__":
    main()
