"""Peak memory of `python -m minbert.predict` as the input grows: streaming keeps it flat.

Builds CSV inputs of N lines from real task sentences (in a temporary folder, never committed), runs the
CLI on each in a fresh process, and prints rows/s and the child's peak resident memory.
    python -m bench.predict_memory [--lines 10000,50000] [--task sentiment] [--precision int8]
"""
import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minbert.serve.precision import PRECISIONS

from bench.encoder import real_sentences
from bench import machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", default="10000,50000", help="comma-separated input sizes")
    ap.add_argument("--task", default="sentiment", choices=("sentiment", "embed"), help="what to predict")
    ap.add_argument("--precision", default="int8", choices=PRECISIONS, help="model precision")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint path (stem)")
    args = ap.parse_args()
    print(machine.describe())
    pool = real_sentences(20000)
    with tempfile.TemporaryDirectory() as tmp:
        for n in map(int, args.lines.split(",")):
            inp, out = Path(tmp) / f"in{n}.csv", Path(tmp) / f"out{n}.jsonl"
            with inp.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "sentence"])
                w.writerows([i, pool[i % len(pool)]] for i in range(n))
            t = time.time()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", args.checkpoint, "--task",
                            args.task, "--input", str(inp), "--output", str(out), "--precision", args.precision],
                           check=True, stderr=subprocess.DEVNULL)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over children so far
            note = "" if peak > before else " (no higher than the smaller input)"
            print(f"{n:>9,} lines: {n / (time.time() - t):6.0f} rows/s, peak RSS of all runs so far "
                  f"{peak / 1024:.0f} MiB{note}")


if __name__ == "__main__":
    main()
