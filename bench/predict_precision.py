"""`python -m minbert.predict --precision auto` against `--precision fp32` on a whole file, start-up included.

Runs the CLI as fresh processes, alternating fp32 and auto (fp32, auto, fp32, auto, ...), each the whole
process (imports, checkpoint load, auto's measurement or cached choice, prediction, output written); prints
every run's wall time, the medians, the ratio auto/fp32 (target <= 0.55 on an AMX CPU, <= 1 anywhere), the
share of labels on which the two outputs agree (target >= 99%), the load average and what auto chose. The
user cache starts empty (a temporary XDG_CACHE_HOME), so the first auto run measures and later ones read the
cached choice (one measured under load is cached too, marked as such).
    python -m bench.predict_precision [--input ../shared/data/ids-sst-train.csv --format tsv] [--rounds 2]
"""
import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minbert.data import find_data_dir

from bench import machine


def run_cli(args, precision: str, out: Path, env: dict) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, the `precision:` line) of one whole predict process."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "minbert.predict", "--checkpoint", args.checkpoint, "--task", "sentiment",
                        "--input", str(args.input), "--format", args.format, "--output", str(out),
                        "--precision", precision], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"predict --precision {precision} failed:\n{r.stderr[-2000:]}")
    line = next((x for x in r.stderr.splitlines() if x.startswith("precision:")), "precision: ?")
    return wall, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), line


def labels(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return [row["label"] for row in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=None, help="sentences to label (default: the SST train file of the task data)")
    ap.add_argument("--format", default="tsv", choices=("csv", "tsv", "jsonl"), help="input format")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint (stem)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating fp32/auto pairs")
    args = ap.parse_args()
    args.input = Path(args.input) if args.input else find_data_dir() / "ids-sst-train.csv"
    print(machine.describe())
    with tempfile.TemporaryDirectory(prefix="minbert-precision-") as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        times, cpus, outs = {"fp32": [], "auto": []}, {"fp32": [], "auto": []}, {}
        load0 = os.getloadavg()[0]
        for r in range(args.rounds):
            for p in ("fp32", "auto"):
                outs[p] = Path(tmp) / f"{p}.csv"
                wall, cpu, line = run_cli(args, p, outs[p], env)
                times[p].append(wall)
                cpus[p].append(cpu)
                print(f"  round {r + 1} {p:4s}: {wall:7.1f} s wall, {cpu:7.1f} s CPU · {line}", flush=True)
        a, b = labels(outs["fp32"]), labels(outs["auto"])
    med = {p: statistics.median(t) for p, t in times.items()}
    ratios = [x / y for x, y in zip(times["auto"], times["fp32"])]
    print(f"{len(a):,} sentences from {args.input.name}; load average {load0:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    print(f"median wall time: fp32 {med['fp32']:.1f} s, auto {med['auto']:.1f} s; auto/fp32 median "
          f"{statistics.median(ratios):.3f} (per round {', '.join(f'{x:.3f}' for x in ratios)}); target <= 0.55 on AMX")
    print(f"labels identical in fp32 and auto: {sum(x == y for x, y in zip(a, b)) / len(a):.2%} (target >= 99%)")


if __name__ == "__main__":
    main()
