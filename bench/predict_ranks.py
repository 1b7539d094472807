"""`minbert.predict` in 1 process × 2 threads against torchrun's 2 processes × 1 thread, on the same file.

Wall time of the whole command (interpreter start, model load, prediction, and for torchrun the launcher,
the process group and the merge), arms alternated A B B A ..., medians and the ratio. The input is SST train
sentences (a bounded repeat of them for --lines above 8,544) in a temporary folder, never committed; both
arms use the same --chunk-size, so they form the same batches, and their outputs are compared byte for byte.
    python -m bench.predict_ranks [--lines 8544] [--repeats 3] [--task sentiment] [--chunk-size 512]
"""
import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minbert.data import find_data_dir, read_task_file

from bench import machine


def sst_train_rows(n: int) -> list[tuple[str, str]]:
    examples = read_task_file(find_data_dir() / "ids-sst-train.csv").examples
    return [(f"{i}", examples[i % len(examples)].text) for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], threads: int) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=8544, help="input rows (SST train sentences, repeated past 8,544)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each arm, alternated")
    ap.add_argument("--task", default="sentiment", choices=("sentiment", "embed"), help="what to predict")
    ap.add_argument("--chunk-size", type=int, default=512, help="rows per chunk (torchrun deals chunks to ranks)")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint path (stem)")
    args = ap.parse_args()
    print(machine.describe())
    print(f"load average at start (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.csv"
        with inp.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("id", "sentence"), *sst_train_rows(args.lines)])
        common = ["-m", "minbert.predict", "--checkpoint", args.checkpoint, "--task", args.task, "--input", str(inp),
                  "--chunk-size", str(args.chunk_size)]
        arms = {"1 process x 2 threads": lambda out: timed([sys.executable, *common, "--output", out], 2),
                "torchrun 2 processes x 1 thread": lambda out: timed(
                    [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                     f"--master_port={free_port()}", *common, "--output", out], 1)}
        times: dict[str, list[float]] = {name: [] for name in arms}
        for rep in range(args.repeats):
            order = list(arms) if rep % 2 == 0 else list(arms)[::-1]  # A B, B A, ...: drift hits both arms
            for i, name in enumerate(order):
                times[name].append(arms[name](str(Path(tmp) / f"out{i}.csv")))
                print(f"  run {rep + 1} {name}: {times[name][-1]:.1f} s", flush=True)
            same = (Path(tmp) / "out0.csv").read_bytes() == (Path(tmp) / "out1.csv").read_bytes()
            print(f"  run {rep + 1}: outputs byte-identical: {same}")
    report(times, args.lines)


def report(times: dict[str, list[float]], lines: int) -> None:
    print(f"load average at end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    (one, t1), (two, t2) = times.items()
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name}: median {m:.1f} s ({lines / m:.0f} rows/s, start-up included), runs "
              + ", ".join(f"{t:.1f}" for t in ts))
    ratios = [b / a for a, b in zip(t1, t2)]
    print(f"wall-time ratio torchrun / one process: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}) over {len(ratios)} pairs; ratio of medians "
          f"{statistics.median(t2) / statistics.median(t1):.3f}")


if __name__ == "__main__":
    main()
