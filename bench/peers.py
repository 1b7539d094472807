"""Peers: our checkpoint's sentence embeddings through other engines and through our own paths, on this CPU.

The checkpoint is exported with minbert/export.py (sentence-transformers format, into a temporary folder);
every path embeds the same N sentences of ids-sst-train.csv through the sentiment encoder (the one
`minbert.predict --task embed --embedding sentiment` serves, and whose embeddings the SST head reads), batch 64,
max 128 tokens:
  sentence-transformers fp32 and bf16 (the reference is fp32);
  ONNX Runtime dynamic int8; OpenVINO bf16; OpenVINO NNCF static int8 (bench/onnx_engines.py);
  minbert in-process, each `--precision` candidate this CPU has and `auto` (minbert/serve/precision.py);
  minbert PT2E static int8, plain and with SmoothQuant (bench/pt2e_int8.py, a prototype);
  the CLI, whole process and net of its start-up (its time on a one-sentence file, same round).
Static int8 paths calibrate on CALIBRATION sentences from the end of the same file, disjoint from the N.
A warm-up pass per path (its embeddings give the fidelity), then R rounds, each timing every path once in
a rotating order; sentences/s is the median over rounds, the ratio the median of per-round ratios to
sentence-transformers fp32. Fidelity against sentence-transformers fp32: cosine mean and min, and the share
of SST labels (the checkpoint's head on each path's embeddings) that agree. The gate is `--precision auto`'s:
min cosine >= MIN_COSINE and labels >= MIN_AGREEMENT. Rows whose packages are missing are skipped with a
note (pip install -r requirements-bench.txt).
    python -m bench.peers [--n 2000] [--rounds 3] [--rows st-fp32,minbert-auto,...] [--threads N]
"""
from __future__ import annotations

from functools import partial
import argparse
import copy
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from minbert.checkpoint import load_checkpoint
from minbert.cli import add_threads, apply_threads
from minbert.data import Example, find_data_dir, read_task_file
from minbert.evaluate.inference import predict
from minbert.export import OWN_ENCODER_DIR, export, load_heads
from minbert.serve import precision as P

from bench import machine

SST_FILE = "ids-sst-train.csv"
CALIBRATION = 300  # sentences for the static int8 paths, from the end of SST_FILE
MAX_LENGTH = 128
SMOOTH_ALPHA = 0.7  # the SmoothQuant strength of the smoothed PT2E row (quantize.py's default)
ROWS = {"st-fp32": "sentence-transformers fp32", "st-bf16": "sentence-transformers bf16",
        "ort-int8": "ONNX Runtime, dynamic int8", "ov-bf16": "OpenVINO bf16",
        "ov-int8": "OpenVINO, NNCF static int8",
        **{f"minbert-{c}": f"minbert in-process, {P.LABELS[c]}" for c in P.LABELS},
        "minbert-auto": "minbert in-process, auto",
        "pt2e-int8": "minbert PT2E static int8 (x86 inductor)",
        "pt2e-int8-smooth": f"minbert PT2E static int8, SmoothQuant {SMOOTH_ALPHA}, FFN out fp32",
        "cli": "`minbert.predict --task embed --embedding sentiment --precision auto --output X.npy`, whole process",
        "cli-net": "`minbert.predict --task embed --embedding sentiment --precision auto --output X.npy`, net of "
                   "start-up"}


@dataclass
class Row:
    key: str
    embed: Callable[[], np.ndarray]  # (N, H) float32 embeddings in input order
    labels: bool = True  # un-normalised sentiment embeddings: the SST head applies
    overhead: Callable[[], object] | None = None  # timed after embed; embed's time less this one is key + "-net"


@dataclass
class Setup:
    examples: list[Example]  # the N sentences embedded
    calibration: list[str]
    folder: Path  # the sentence-transformers export; sentiment's encoder is folder / OWN_ENCODER_DIR
    tmp: Path
    checkpoint: str
    batch: int
    threads: int
    notes: list[str]  # rows skipped, and why


def optional(s: Setup, what: str, build: Callable):
    """build(), or None with a note in s.notes when a package is missing or the build fails."""
    try:
        return build()
    except ImportError as e:
        s.notes.append(f"{what}: skipped, {e.name or e} is not installed (pip install -r requirements-bench.txt)")
    except Exception as e:  # a peer that cannot be built here (an exporter or engine error) is skipped, not fatal
        s.notes.append(f"{what}: skipped, {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}")
    return None


def texts(s: Setup) -> list[str]:
    return [e.text for e in s.examples]


def sst_sentences(n: int) -> tuple[list[Example], list[str]] | str:
    """(the first n examples, the last CALIBRATION sentences) of SST_FILE, or why not."""
    root = find_data_dir(required=False)
    if root is None or not (root / SST_FILE).is_file():
        return f"skipped: no {SST_FILE} (set $MINBERT_DATA to the task data folder, or python -m minbert.data fetch)"
    examples = read_task_file(root / SST_FILE).examples
    if n + CALIBRATION > len(examples):
        return f"--n {n} too large: {SST_FILE} has {len(examples)} sentences, {CALIBRATION} kept for calibration"
    return examples[:n], [e.text for e in examples[-CALIBRATION:]]


def batched(run: Callable[[dict], np.ndarray], tokenize: Callable[[list[str]], dict], items: list[str],
            batch: int) -> np.ndarray:
    """run() over batches of similar length (longest first, as sentence-transformers sorts); (N, H) in order."""
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    parts = [np.asarray(run(tokenize([items[i] for i in order[j:j + batch]])), dtype=np.float32)
             for j in range(0, len(order), batch)]
    out = np.empty((len(items), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return out


def hf_tokenize(folder: Path) -> Callable[[list[str]], dict]:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(folder))
    return lambda items: {k: v.astype(np.int64) for k, v in tok(items, padding=True, truncation=True,
                                                                max_length=MAX_LENGTH, return_tensors="np").items()}


def st_rows(s: Setup, keys: set[str]) -> list[Row]:
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(str(s.folder / OWN_ENCODER_DIR), device="cpu")
    models = {"st-fp32": st, "st-bf16": copy.deepcopy(st).to(torch.bfloat16)}

    def encode(m) -> np.ndarray:
        return m.encode(texts(s), batch_size=s.batch, convert_to_tensor=True).float().numpy()
    return [Row(k, lambda m=m: encode(m)) for k, m in models.items() if k in keys]


def engine_rows(s: Setup, keys: set[str]) -> list[Row]:
    """ONNX Runtime and OpenVINO on one ONNX export of sentiment's encoder; each skipped alone if missing."""
    from bench import onnx_engines as E
    folder = s.folder / OWN_ENCODER_DIR
    tokenize = hf_tokenize(folder)
    onnx = E.export_onnx(folder, s.tmp / "sentiment.onnx")
    build = {"ort-int8": lambda: E.ort_int8(onnx, s.threads),
             "ov-bf16": lambda: E.openvino(onnx, s.threads, "bf16"),
             "ov-int8": lambda: E.openvino(onnx, s.threads, "int8", [tokenize([t]) for t in s.calibration])}
    runs = {k: optional(s, k, build[k]) for k in build if k in keys}
    return [Row(k, lambda r=r: batched(r, tokenize, texts(s), s.batch)) for k, r in runs.items() if r is not None]


def minbert_rows(s: Setup, keys: set[str]) -> list[Row]:
    """Each --precision candidate this CPU has, and auto, through batching.predict (the CLI's own loop)."""
    ck = load_checkpoint(s.checkpoint)
    has_bf16, why = P.fast_bf16()
    if not has_bf16 and {"minbert-bf16", "minbert-bf16-autocast"} & keys:
        print(f"note: minbert bf16 rows skipped: no fast bf16 on this CPU ({why})")
    models = {f"minbert-{c}": P.build(ck.model, c, ck.tokenizer) for c in P.candidates(has_bf16)
              if f"minbert-{c}" in keys}
    if "minbert-auto" in keys:
        models["minbert-auto"] = P.apply_precision(ck.model, "auto", ck.tokenizer, ck.meta.get("weights_sha256"))
        print(f"note: {P.describe(models['minbert-auto'])}")

    def embed(m) -> np.ndarray:
        return predict(m, "sst", s.examples, ck.tokenizer, s.batch, MAX_LENGTH, with_embeddings=True)["emb"]
    return [Row(k, lambda m=m: embed(m)) for k, m in models.items()]


def pt2e_rows(s: Setup, keys: set[str]) -> list[Row]:
    from bench.pt2e_int8 import ffn_out, static_int8
    ck = load_checkpoint(s.checkpoint)
    tok = ck.tokenizer

    def tokenize(items: list[str]) -> dict:
        enc = tok(items, max_length=MAX_LENGTH)
        return {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask}
    variants = {"pt2e-int8": {}, "pt2e-int8-smooth": {"smooth_alpha": SMOOTH_ALPHA, "keep_fp32": ffn_out}}
    rows = []
    for key in (k for k in variants if k in keys):
        fn = static_int8(ck.model, tok, s.calibration, max_length=MAX_LENGTH, **variants[key])
        rows.append(Row(key, lambda fn=fn: batched(lambda b: fn(**b).numpy(), tokenize, texts(s), s.batch)))
    return rows


def cli_rows(s: Setup, keys: set[str]) -> list[Row]:
    """The CLI on an N-row file, then on a 1-row file (its start-up: imports, checkpoint, precision choice)."""
    def write(path: Path, examples: list[Example]) -> Path:
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "sentence"])
            w.writerows([i, e.text] for i, e in enumerate(examples))
        return path
    full, one = write(s.tmp / "cli-in.csv", s.examples), write(s.tmp / "cli-one.csv", s.examples[:1])
    env = {**os.environ, "OMP_NUM_THREADS": str(s.threads)}

    def run(inp: Path) -> Path:
        out = inp.with_suffix(".npy")  # exact float32, no text: the format a user embedding a corpus would take
        cmd = [sys.executable, "-m", "minbert.predict", "--checkpoint", s.checkpoint, "--task", "embed",
               "--embedding", "sentiment", "--precision", "auto", "--batch-size", str(s.batch), "--max-length", str(MAX_LENGTH),
               "--input", str(inp), "--output", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
        if done.returncode:
            raise RuntimeError(f"the CLI failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return out

    def embed() -> np.ndarray:
        return np.load(run(full))
    return [Row("cli", embed, labels=False, overhead=lambda: run(one))] if "cli" in keys else []


BUILDERS = {st_rows: ("st-",), engine_rows: ("ort-", "ov-"), minbert_rows: ("minbert-",), pt2e_rows: ("pt2e-",),
            cli_rows: ("cli",)}


def build_rows(s: Setup, keys: list[str]) -> list[Row]:
    rows = []
    for builder, prefixes in BUILDERS.items():
        mine = {k for k in keys if k.startswith(prefixes)}
        if mine:
            rows += optional(s, ", ".join(sorted(mine)), lambda b=builder, m=mine: b(s, m)) or []
    return rows


def timed(fn: Callable) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def rotate(rows: list[Row], rounds: int) -> dict[str, list[float]]:
    """Seconds per round for every row (and key-net for rows with an overhead), each round in a rotated order."""
    times: dict[str, list[float]] = {}
    for r in range(rounds):
        for row in rows[r % len(rows):] + rows[:r % len(rows)]:
            t = timed(row.embed)
            times.setdefault(row.key, []).append(t)
            if row.overhead is not None:
                times.setdefault(f"{row.key}-net", []).append(t - timed(row.overhead))
    return times


@dataclass
class Fidelity:
    cos_mean: float
    cos_min: float
    agreement: float | None  # share of SST labels equal to the reference's; None where the head does not apply

    def gate(self) -> str:
        why = [f"min cosine {self.cos_min:.4f} < {P.MIN_COSINE}"] if self.cos_min < P.MIN_COSINE else []
        if self.agreement is not None and self.agreement < P.MIN_AGREEMENT:
            why.append(f"labels {self.agreement:.1%} < {P.MIN_AGREEMENT:.0%}")
        return "fail: " + ", ".join(why) if why else ("pass" if self.agreement is not None else "pass (cosine only)")


def fidelity(emb: dict[str, np.ndarray], labelled: set[str], ref: str, sst_logits: Callable) -> dict[str, Fidelity]:
    """Each row's embeddings against the reference row's: cosine per sentence, SST labels through the head."""
    r = torch.from_numpy(emb[ref])
    ref_labels = sst_logits(r).argmax(-1)
    out = {}
    for k, e in emb.items():
        e = torch.from_numpy(e)
        cos = F.cosine_similarity(e, r, dim=-1)  # (N,)
        agree = float((sst_logits(e).argmax(-1) == ref_labels).float().mean()) if k in labelled else None
        out[k] = Fidelity(float(cos.mean()), float(cos.min()), agree)
    return out


def table(times: dict[str, list[float]], fid: dict[str, Fidelity], ref: str, n: int) -> list[str]:
    """Markdown rows, fastest first: sentences/s (median), x the reference (median of per-round ratios), fidelity."""
    lines = ["| path | sentences/s | x " + ROWS[ref] + " | cosine mean / min | SST labels agree | gate |",
             "|---|---|---|---|---|---|"]
    for k in sorted(times, key=lambda k: statistics.median(times[k])):
        f = fid[k.removesuffix("-net")]
        ratio = statistics.median(a / b for a, b in zip(times[ref], times[k]))
        agree = "–" if f.agreement is None else f"{f.agreement:.2%}"
        cos = "reference" if k == ref else f"{f.cos_mean:.5f} / {f.cos_min:.5f}"
        lines.append(f"| {ROWS[k]} | {n / statistics.median(times[k]):.1f} | {ratio:.2f}x | {cos} | {agree} | "
                     f"{'reference' if k == ref else f.gate()} |")
    return lines


def verdict(times: dict[str, list[float]], fid: dict[str, Fidelity]) -> str:
    """Our fastest path that passes the gate against the fastest peer that does (issue 36's acceptance)."""
    def best(prefixes) -> str | None:
        ok = [k for k in times if k.startswith(prefixes) and fid[k.removesuffix("-net")].gate().startswith("pass")]
        return min(ok, key=lambda k: statistics.median(times[k]), default=None)
    ours, peer = best(("minbert-", "pt2e-", "cli")), best(("st-", "ort-", "ov-"))
    if ours is None or peer is None:
        return f"no comparison: passing the gate, ours {ROWS.get(ours, 'none')}, peers {ROWS.get(peer, 'none')}"
    ratio = statistics.median(p / o for o, p in zip(times[ours], times[peer]))
    return (f"fastest that pass the gate: ours {ROWS[ours]}, peers {ROWS[peer]}; ours / peer = {ratio:.2f}x "
            f"(median of per-round ratios; target >= 1.0)")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="SST train sentences embedded by every path")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds, rotating the order (median counts)")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per batch, every path")
    ap.add_argument("--rows", default=",".join(k for k in ROWS if k != "cli-net"),
                    help=f"comma-separated rows (cli brings cli-net): {', '.join(k for k in ROWS if k != 'cli-net')}")
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint (stem) to export")
    add_threads(ap)
    a = ap.parse_args(argv)
    a.rows = [k.strip() for k in a.rows.split(",") if k.strip()]
    unknown = [k for k in a.rows if k not in ROWS or k == "cli-net"]
    if unknown or a.n < 1 or a.rounds < 1 or a.batch_size < 1:
        ap.error(f"unknown rows {unknown}" if unknown else "--n, --rounds and --batch-size must be >= 1")
    return a


def measure(s: Setup, keys: list[str], rounds: int):
    """(times, fidelity, reference key) of the rows that build and run here, or None."""
    rows = build_rows(s, keys)
    emb = {row.key: optional(s, row.key, row.embed) for row in rows}  # warm-up: compiles, gives the fidelity
    rows = [row for row in rows if emb[row.key] is not None]
    if not rows:
        return None
    emb = {row.key: emb[row.key] for row in rows}
    ref = "st-fp32" if "st-fp32" in emb else rows[0].key
    fid = fidelity(emb, {r.key for r in rows if r.labels}, ref, partial(load_heads(s.folder).logits, "sst"))
    return rotate(rows, rounds), fid, ref


def main(argv=None) -> int:
    a = parse_args(argv)
    apply_threads(a.threads)
    print(machine.describe())
    data = sst_sentences(a.n)
    if isinstance(data, str):
        print(data)
        return 0
    with tempfile.TemporaryDirectory(prefix="minbert-peers-") as tmp:
        s = Setup(*data, export(a.checkpoint, "sentence-transformers", Path(tmp) / "export"), Path(tmp),
                  a.checkpoint, a.batch_size, torch.get_num_threads(), [])
        result = measure(s, a.rows, a.rounds)
    if result is None:
        print("no row could be built and run here:", *s.notes, sep="\n  ")
        return 1
    times, fid, ref = result
    print(f"{a.n} sentences of {SST_FILE}, batch {a.batch_size}, max {MAX_LENGTH} tokens, {s.threads} threads, "
          f"median of {a.rounds} rotating rounds; static int8 calibrated on {CALIBRATION} other sentences of it")
    print(*table(times, fid, ref, a.n), sep="\n")
    print(f"gate: min cosine >= {P.MIN_COSINE} and SST labels >= {P.MIN_AGREEMENT:.0%} against {ROWS[ref]}; labels "
          "are the checkpoint's SST head on each path's embeddings, not computed for the CLI (it writes normalised "
          "embeddings; it serves the model of the 'auto' row)")
    print(verdict(times, fid))
    for note in s.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
