"""Batch prediction for your own files: labels, scores or embeddings, streamed in input order.

    python -m minbert.predict --checkpoint checkpoints/minbert-multitask --task sentiment \\
        --input reviews.csv --output labels.csv [--text-col text] [--precision auto]

Input: .csv, .tsv or .jsonl (or --format). Rows are read in chunks, sorted by length inside a chunk for
fast batching, and written back in input order, so memory stays bounded on any input size. The output
is written to a temporary file and renamed when complete: an interrupted run leaves no partial output.

Under torchrun (`torchrun --nproc_per_node=N [--nnodes=M --rdzv-endpoint=HOST:PORT] -m minbert.predict ...`)
the ranks share the chunks and rank 0 writes the same output, byte for byte (minbert/serve/sharded.py).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from tqdm import tqdm

from minbert.atomic import atomic_open
from minbert.evaluate.temperature import apply as calibrated, temperatures
from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.data import Example
from minbert.distributed import cleanup, is_main, launched, setup
from minbert.serve import precision as P
from minbert.tasks import BY_SKILL, SST_CLASSES
from minbert.evaluate.inference import predict
from minbert.serve import sharded

TASKS = {**{skill: t.key for skill, t in BY_SKILL.items()}, "embed": "embed"}  # --task: what users ask for
FORMATS = ("csv", "tsv", "jsonl")


class BadRow(ValueError):
    pass


@dataclass
class PredictArgs:
    checkpoint: Path
    task: str
    input: Path
    output: Path
    in_format: str
    out_format: str
    id_col: str
    text_col: str
    text2_col: str
    batch_size: int
    chunk_size: int
    max_length: int
    on_error: str
    precision: str


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row dict or None, error or None) for every record."""
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        if fmt == "jsonl":
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    yield (n, row, None) if isinstance(row, dict) else (n, None, "not a JSON object")
                except json.JSONDecodeError as e:
                    yield n, None, f"invalid JSON: {e.msg}"
            return
        reader = csv.reader(f, delimiter="\t" if fmt == "tsv" else ",")
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if len(row) != len(header):
                yield reader.line_num, None, f"{len(row)} fields, header has {len(header)}"
            else:
                yield reader.line_num, dict(zip(header, row)), None


def to_example(row: dict, n: int, args: PredictArgs, pair: bool) -> Example:
    text = row.get(args.text_col)
    if text is None:
        raise BadRow(f"no column {args.text_col!r} (use --text-col)")
    if not str(text).strip():
        raise BadRow(f"empty {args.text_col!r}")
    text2 = None
    if pair:
        text2 = row.get(args.text2_col)
        if text2 is None or not str(text2).strip():
            raise BadRow(f"missing or empty {args.text2_col!r} (use --text2-col)")
    ex_id = row.get(args.id_col)
    return Example(str(ex_id) if ex_id not in (None, "") else str(n), str(text).strip(),
                   str(text2).strip() if text2 else None)


def result_fields(task: str, out: dict, i: int) -> dict:
    """Calibrated probabilities (the checkpoint's temperature scaling) and the raw logits they come from."""
    if task == "sst":
        names = [c.replace(" ", "_") for c in SST_CLASSES]
        return {"label": int(out["pred"][i]), "label_name": SST_CLASSES[int(out["pred"][i])],
                **{f"p_{c}": round(float(p), 5) for c, p in zip(names, out["probs"][i])},
                **{f"logit_{c}": round(float(z), 5) for c, z in zip(names, out["logits"][i])}}
    if task == "para":
        return {"is_paraphrase": int(out["pred"][i]), "probability": round(float(out["prob"][i]), 5),
                "logit": round(float(out["logit"][i]), 5), "cosine": round(float(out["cosine"][i]), 5)}
    if task == "sts":
        return {"similarity": round(float(out["score"][i]), 4), "cosine": round(float(out["cosine"][i]), 5)}
    return {"embedding": [round(float(x), 6) for x in out["emb"][i]]}


def run_chunk(model, tok, task: str, examples: list[Example], args: PredictArgs, temps: dict[str, float]) -> list[dict]:
    if task == "embed":
        out = predict(model, "sst", examples, tok, args.batch_size, args.max_length, with_embeddings=True)
        out["emb"] = torch.nn.functional.normalize(torch.from_numpy(out["emb"]), dim=-1).numpy()
    else:
        out = calibrated(task, predict(model, task, examples, tok, args.batch_size, args.max_length), temps)
    return [{"id": e.id, **result_fields(task, out, i)} for i, e in enumerate(examples)]


class Writer:
    def __init__(self, f, fmt: str, header: bool = True):
        self.f, self.fmt, self.csv, self.header = f, fmt, None, header

    def write(self, rec: dict) -> None:
        if self.fmt == "jsonl":
            self.f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            return
        if "embedding" in rec:
            rec = {"id": rec["id"], "embedding": " ".join(map(str, rec["embedding"]))}
        if self.csv is None:
            self.csv = csv.DictWriter(self.f, list(rec), delimiter="\t" if self.fmt == "tsv" else ",",
                                      lineterminator="\n")
            if self.header:
                self.csv.writeheader()
        self.csv.writerow(rec)

    def end_chunk(self) -> None:
        pass  # sharded.PartWriter marks chunk boundaries here; one file needs none


def stream(args: PredictArgs, model, tok, writer: Writer, bar, temps: dict[str, float], owns=lambda k: True) -> int:
    """Predict chunk by chunk; returns the number of bad rows skipped. Chunk k is predicted only if owns(k)
    (under torchrun every rank reads and checks every row, and predicts its share of the chunks)."""
    task, bad, chunk, k = TASKS[args.task], 0, [], 0

    def flush() -> None:
        if owns(k):
            for rec in run_chunk(model, tok, task, chunk, args, temps):
                writer.write(rec)
            writer.end_chunk()

    for n, row, err in read_rows(args.input, args.in_format):
        bar.update(1)
        try:
            if err:
                raise BadRow(err)
            chunk.append(to_example(row, n, args, pair=task in ("para", "sts")))
        except BadRow as e:
            if args.on_error == "fail":
                raise BadRow(f"{args.input}:{n}: {e}") from None
            bad += 1
            if is_main():  # every rank sees every bad row; one reports it
                tqdm.write(f"skipped {args.input}:{n}: {e}", file=sys.stderr)
        if len(chunk) >= args.chunk_size:
            flush()
            chunk, k = [], k + 1
    if chunk:
        flush()
    return bad


def run(args: PredictArgs, part: sharded.PartWriter | None = None, agreed: tuple[str, str] | None = None) -> int:
    """Predict args.input into args.output (or, under torchrun, this rank's chunks into `part`, served in the
    precision the ranks agreed on)."""
    ckpt = load_checkpoint(args.checkpoint)
    model = P.serve_as(ckpt.model, *agreed, tokenizer=ckpt.tokenizer, inplace=True) if agreed else \
        P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"), inplace=True)
    print(f"precision: {P.describe(model)}", file=sys.stderr)
    total = sum(1 for _ in args.input.open(encoding="utf-8", errors="replace"))
    if part is not None:  # under torchrun: this rank's chunks into its part file (minbert/serve/sharded.py)
        if is_main() and total <= args.chunk_size * (part.world - 1):
            tqdm.write(f"note: {total} lines fill fewer --chunk-size {args.chunk_size} chunks than there are "
                       f"{part.world} ranks: some ranks idle (a smaller --chunk-size shares the work)", file=sys.stderr)
        with tqdm(total=total, unit="row", desc=args.task, disable=not is_main()) as bar:
            return stream(args, model, ckpt.tokenizer, part, bar, temperatures(ckpt.meta), part.owns)
    with atomic_open(args.output, "w", newline="", encoding="utf-8") as f, \
            tqdm(total=total, unit="row", desc=args.task) as bar:
        return stream(args, model, ckpt.tokenizer, Writer(f, args.out_format), bar, temperatures(ckpt.meta))


def guess_format(path: Path, given: str | None) -> str:
    fmt = given or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise SystemExit(f"error: cannot tell the format of {path}: use .csv, .tsv or .jsonl, or --format")
    return fmt


def parse_args(argv) -> PredictArgs:
    ap = argparse.ArgumentParser(prog="python -m minbert.predict", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint path (stem)")
    ap.add_argument("--task", required=True, choices=list(TASKS), help="what to predict")
    ap.add_argument("--input", required=True, help="input file (.csv, .tsv or .jsonl)")
    ap.add_argument("--output", required=True, help="output file (.csv, .tsv or .jsonl)")
    ap.add_argument("--format", default=None, choices=FORMATS, help="input format (default: from the extension)")
    ap.add_argument("--output-format", default=None, choices=FORMATS, help="output format (default: from the extension)")
    ap.add_argument("--id-col", default="id", help="id column (missing ids become the line number)")
    ap.add_argument("--text-col", default="sentence", help="text column (sentence 1 of a pair)")
    ap.add_argument("--text2-col", default="sentence2", help="second sentence column, for paraphrase/similarity")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    ap.add_argument("--chunk-size", type=int, default=4096, help="rows held in memory at once")
    ap.add_argument("--max-length", type=int, default=128, help="truncate inputs to this many tokens (<= 512)")
    ap.add_argument("--on-error", choices=("skip", "fail"), default="skip",
                    help="bad rows: report and skip them, or stop with an error (no output written)")
    P.add_arguments(ap, default="fp32")
    a = ap.parse_args(argv)
    inp, out = Path(a.input), Path(a.output)
    if not inp.is_file():
        raise SystemExit(f"error: input file not found: {inp}")
    if not 2 < a.max_length <= 512:
        raise SystemExit("error: --max-length must be in 3..512")
    return PredictArgs(Path(a.checkpoint), a.task, inp, out, guess_format(inp, a.format),
                       guess_format(out, a.output_format), a.id_col, a.text_col, a.text2_col, a.batch_size,
                       a.chunk_size, a.max_length, a.on_error, a.precision)


def main(argv=None) -> int:
    args = parse_args(argv)
    reports = not launched() or os.environ.get("RANK") == "0"  # one "wrote" line under torchrun
    try:
        bad = run_sharded(args) if launched() else run(args)
    except (CheckpointError, BadRow, OSError, sharded.ShardError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    if reports:
        print(f"wrote {args.output}" + (f" ({bad} bad rows skipped)" if bad else ""))
    return 0


def run_sharded(args: PredictArgs) -> int:
    """torchrun: every rank predicts its chunks, rank 0 merges them into args.output in input order."""
    setup("cpu", sharded.TIMEOUT_S)
    try:
        return sharded.run(args.output, lambda f, header: Writer(f, args.out_format, header),
                           lambda part, agreed: run(args, part, agreed), (CheckpointError, BadRow, OSError),
                           choose=None if args.precision in ("fp32", "bf16") else lambda: chosen_precision(args))
    finally:
        cleanup()


def chosen_precision(args: PredictArgs) -> tuple[str, str]:
    """(candidate, its one-line note): what --precision auto or int8 picks here (measured, or from the cache)."""
    ckpt = load_checkpoint(args.checkpoint)
    served = P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"), inplace=True)
    return served.precision, P.describe(served)


if __name__ == "__main__":
    sys.exit(main())
