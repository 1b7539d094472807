"""Batch prediction for your own files: any task of the checkpoint, or embeddings, streamed in input order.

    python -m minbert.predict --checkpoint checkpoints/minbert-multitask --task sentiment \\
        --input reviews.csv --output labels.csv [--text-col review] [--precision auto] [--threads 2]
    python -m minbert.predict --task embed --input corpus.jsonl --output corpus.npy    # + corpus.ids.txt

--task: a task of the checkpoint by key, skill or name (sentiment / sst / SST-5, paraphrase, similarity, or an
added task's, e.g. cfimdb / movie-sentiment), or embed: the shared encoder's sentence embedding (L2-normalised;
the one the app's map and the sentence-transformers export give; --embedding sentiment: sentiment's own encoder).
Output columns follow the task's kind: label, label_name, p_<class>, logit_<class> (one sentence -> classes);
label, label_name, probability, logit, cosine (a pair -> yes/no); score, cosine (a pair -> a score).

Input: .csv, .tsv, .txt (comma, semicolon or TAB, found from the header), .jsonl or .parquet, read by
minbert/data/files.py: columns by name (the task's own, then sentence/text/review, sentence1/question1/text1,
sentence2/question2/text2; --text-col and --text2-col to choose), in chunks, so memory stays bounded on any input
size. Rows are sorted by length inside a chunk for fast batching and written back in input order.
Output: .csv, .tsv or .jsonl; embeddings also .npy (+ X.ids.txt), .parquet or .safetensors, exact float32
(minbert/serve/embedding_files.py). The output is written to a temporary file and renamed when complete: an
interrupted run, or one where no row could be predicted (exit status 1), leaves no output.

Under torchrun (`torchrun --nproc_per_node=N [--nnodes=M --rdzv-endpoint=HOST:PORT] -m minbert.predict ...`)
the ranks share the chunks and rank 0 writes the same output, byte for byte, as one process with the ranks' thread
count (minbert/serve/sharded.py); text outputs only.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from minbert.atomic import atomic_open
from minbert.checkpoint import CheckpointError, load_checkpoint
from minbert.cli import add_threads, apply_threads
from minbert.data import DataError, Example
from minbert.data import files
from minbert.distributed import cleanup, is_main, launched, setup
from minbert.evaluate.inference import predict
from minbert.evaluate.temperature import apply as calibrated, temperatures
from minbert.serve import embedding, embedding_files, precision as P, sharded, task_output
from minbert.tasks import Task, TaskSpecError, by_name

EMBED = "embed"  # --task embed: sentence embeddings instead of a task head
TEXT_FORMATS = ("csv", "tsv", "jsonl")
INPUT_FORMATS = ("csv", "tsv", "txt", "jsonl", "parquet")
OUTPUT_FORMATS = TEXT_FORMATS + embedding_files.FORMATS


class BadRow(ValueError):
    pass


class NoRows(ValueError):
    """No row of the input could be predicted: the run fails and writes nothing."""


@dataclass
class PredictArgs:
    checkpoint: Path
    task: str  # as the user named it: a task's key, skill or name, or "embed"
    input: Path
    output: Path
    in_format: str | None  # None: from the input's extension
    out_format: str
    id_col: str | None
    text_col: str | None
    text2_col: str | None
    batch_size: int
    chunk_size: int
    max_length: int
    on_error: str
    precision: str
    embedding: str = embedding.SHARED
    threads: int = 0


@dataclass
class Job:
    """What to run, resolved against the checkpoint's tasks: a task head, or the embedding of `embed_task`."""
    task: Task | None  # None: --task embed
    embed_task: str | None = None  # the --embedding task key (None: the shared encoder)
    columns: dict | None = None  # role -> the input's column (text / text1, text2, id), set by find_columns

    @property
    def pair(self) -> bool:
        return self.task is not None and self.task.pair

    @property
    def name(self) -> str:
        return EMBED if self.task is None else self.task.skill


def resolve(model, args: PredictArgs) -> Job:
    tasks = list(model.tasks.values())
    if args.task.strip().lower() == EMBED:
        return Job(None, embedding.embedding_task(tasks, args.embedding))
    if args.embedding != embedding.SHARED:
        raise TaskSpecError(f"--embedding is for --task {EMBED}; --task {args.task} runs its task's head")
    return Job(by_name(tasks, args.task))


def find_columns(table: files.Table, job: Job, args: PredictArgs) -> dict:
    """role -> column of the input, from --text-col/--text2-col/--id-col or by name; the id column is optional."""
    text_roles = ["text1", "text2"] if job.pair else ["text"]
    given = {"text": args.text_col, "text1": args.text_col, "text2": args.text2_col, "id": args.id_col}
    flags = {"text": "--text-col", "text1": "--text-col", "text2": "--text2-col", "id": "--id-col"}
    cols = {}
    for role in [*text_roles, "id"]:
        try:
            cols[role] = files.find_column(table.header, job.task, role, given[role])
        except DataError as e:
            raise DataError(f"{table.path}: {e} ({flags[role]})") from None
        if cols[role] is None and role != "id":
            raise DataError(f"{table.path}: no {files.ROLE_NAMES[role]} column (tried "
                            f"{', '.join(files.candidates(job.task, role))}); the columns are {table.header}: "
                            f"use {flags[role]}")
    return cols


def to_example(table: files.Table, rec: files.Record, cols: dict) -> Example:
    problem = files.shape_problem(rec, len(table.header))
    if problem:
        raise BadRow(problem)
    texts = []
    for role in ("text", "text1", "text2"):
        if role in cols:
            value = files.cell(rec, cols[role])
            if not value:
                raise BadRow(f"empty {cols[role]!r}")
            texts.append(value)
    ex_id = files.cell(rec, cols["id"]) if cols.get("id") else ""
    return Example(ex_id or str(rec.line), texts[0], texts[1] if len(texts) > 1 else None)


def run_chunk(model, tok, job: Job, examples: list[Example], args: PredictArgs, temps: dict[str, float]):
    """The chunk's embeddings (n, H) float32, or its task predictions as plain lists (task_output.plain)."""
    if job.task is None:
        return embedding.embed_texts(model, tok, [e.text for e in examples], args.batch_size, args.max_length,
                                     job.embed_task)
    out = predict(model, job.task, examples, tok, args.batch_size, args.max_length)
    return task_output.plain(job.task, calibrated(job.task.key, out, temps))


class Writer:
    """Text output (.csv, .tsv, .jsonl): one record per row, the id first."""

    def __init__(self, f, fmt: str, header: bool = True):
        self.f, self.fmt, self.csv, self.header = f, fmt, None, header

    def write_chunk(self, ids: list[str], result, task: Task | None) -> None:
        """A chunk's run_chunk result: embeddings (task None), or the task's predictions."""
        for i, ex_id in enumerate(ids):
            if task is None:
                self.write({"id": ex_id, "embedding": [round(float(x), 6) for x in result[i]]})
            else:
                self.write({"id": ex_id, **task_output.row(task, result, i)})

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


class EmbeddingWriter:
    """Embeddings into an EmbeddingFile (.npy, .parquet, .safetensors)."""

    def __init__(self, out: embedding_files.EmbeddingFile):
        self.out = out

    def write_chunk(self, ids: list[str], result: np.ndarray, task: None) -> None:
        self.out.write(ids, result)


def stream(args: PredictArgs, table: files.Table, job: Job, model, tok, writer, bar, temps: dict[str, float],
           owns=lambda k: True) -> int:
    """Predict chunk by chunk; returns the number of bad rows skipped, or raises NoRows when no row is usable.
    Chunk k is predicted only if owns(k) (under torchrun every rank reads and checks every row, and predicts its
    share of the chunks)."""
    bad, good, chunk, k = 0, 0, [], 0

    def flush() -> None:
        if owns(k):
            writer.write_chunk([e.id for e in chunk], run_chunk(model, tok, job, chunk, args, temps), job.task)

    for rec in table.records():
        bar.update(1)
        if rec.blank:
            continue
        try:
            chunk.append(to_example(table, rec, job.columns))
            good += 1
        except BadRow as e:
            if args.on_error == "fail":
                raise BadRow(f"{table.where(rec.line)}: {e}") from None
            bad += 1
            if is_main():  # every rank sees every bad row; one reports it
                tqdm.write(f"skipped {table.where(rec.line)}: {e}", file=sys.stderr)
        if len(chunk) >= args.chunk_size:
            flush()
            chunk, k = [], k + 1
    if chunk:
        flush()
    if not good:
        raise NoRows(f"{args.input}: no row could be predicted" + (f" ({bad} bad, reported above)" if bad else
                                                                   " (no rows)") + "; no output written")
    return bad


def run(args: PredictArgs, part: sharded.PartWriter | None = None, agreed: tuple[str, str] | None = None) -> int:
    """Predict args.input into args.output (or, under torchrun, this rank's chunks into `part`, served in the
    precision the ranks agreed on); returns the number of bad rows skipped."""
    ckpt = load_checkpoint(args.checkpoint)
    job = resolve(ckpt.model, args)
    table = files.open_table(args.input, args.in_format)
    job.columns = find_columns(table, job, args)
    model = P.serve_as(ckpt.model, *agreed, tokenizer=ckpt.tokenizer, inplace=True) if agreed else \
        P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"), inplace=True)
    print(f"precision: {P.describe(model)}", file=sys.stderr)
    temps, total = temperatures(ckpt.meta), table.lines()
    if part is not None:  # under torchrun: this rank's chunks into its part file (minbert/serve/sharded.py)
        if is_main() and total <= args.chunk_size * (part.world - 1):
            tqdm.write(f"note: {total} lines fill fewer --chunk-size {args.chunk_size} chunks than there are "
                       f"{part.world} ranks: some ranks idle (a smaller --chunk-size shares the work)", file=sys.stderr)
        with tqdm(total=total, unit="row", desc=job.name, disable=not is_main()) as bar:
            return stream(args, table, job, model, ckpt.tokenizer, part, bar, temps, part.owns)
    with tqdm(total=total, unit="row", desc=job.name) as bar:
        if args.out_format in embedding_files.FORMATS:
            out = embedding_files.EmbeddingFile(args.output, args.out_format)
            try:
                bad = stream(args, table, job, model, ckpt.tokenizer, EmbeddingWriter(out), bar, temps)
            except BaseException:
                out.discard()
                raise
            out.commit()
            return bad
        with atomic_open(args.output, "w", newline="", encoding="utf-8") as f:
            return stream(args, table, job, model, ckpt.tokenizer, Writer(f, args.out_format), bar, temps)


def guess_format(path: Path, given: str | None, allowed: tuple[str, ...]) -> str:
    fmt = given or path.suffix.lstrip(".").lower()
    if fmt not in allowed:
        raise SystemExit(f"error: cannot tell the format of {path}: use {', '.join('.' + f for f in allowed)}, "
                         "or --format / --output-format")
    return fmt


def parse_args(argv) -> PredictArgs:
    ap = argparse.ArgumentParser(prog="python -m minbert.predict", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/minbert-multitask", help="checkpoint path (stem)")
    ap.add_argument("--task", required=True,
                    help="a task of the checkpoint by key, skill or name (sentiment, paraphrase, similarity, or an "
                         f"added task's, e.g. cfimdb), or {EMBED}: sentence embeddings")
    ap.add_argument("--embedding", default=embedding.SHARED,
                    help=f"with --task {EMBED}: {embedding.SHARED} (the shared encoder, as the app's map and the "
                         "sentence-transformers export) or a task with layers of its own (sentiment, when "
                         f"trained with --sst-layers) (default: {embedding.SHARED})")
    ap.add_argument("--input", required=True, help="input file (.csv, .tsv, .txt, .jsonl or .parquet)")
    ap.add_argument("--output", required=True, help="output file (.csv, .tsv or .jsonl; embeddings also .npy, "
                                                    ".parquet or .safetensors)")
    ap.add_argument("--format", default=None, choices=INPUT_FORMATS, help="input format (default: from the extension)")
    ap.add_argument("--output-format", default=None, choices=OUTPUT_FORMATS,
                    help="output format (default: from the extension)")
    ap.add_argument("--id-col", default=None, help="id column (default: 'id' if present; else the line number)")
    ap.add_argument("--text-col", default=None,
                    help="text column, sentence 1 of a pair (default: the task's own, then sentence, text, review; "
                         "sentence1, question1, text1 for a pair)")
    ap.add_argument("--text2-col", default=None,
                    help="second sentence column of a pair (default: the task's own, then sentence2, question2, text2)")
    ap.add_argument("--batch-size", type=int, default=64, help="sentences per inference batch")
    ap.add_argument("--chunk-size", type=int, default=4096, help="rows held in memory at once")
    ap.add_argument("--max-length", type=int, default=128, help="truncate inputs to this many tokens (<= 512)")
    ap.add_argument("--on-error", choices=("skip", "fail"), default="skip",
                    help="bad rows: report and skip them, or stop with an error (no output written)")
    P.add_arguments(ap, default="fp32")
    add_threads(ap)
    a = ap.parse_args(argv)
    inp, out = Path(a.input), Path(a.output)
    if not inp.is_file():
        raise SystemExit(f"error: input file not found: {inp}")
    if not 2 < a.max_length <= 512:
        raise SystemExit("error: --max-length must be in 3..512")
    in_fmt = guess_format(inp, a.format, INPUT_FORMATS)
    out_fmt = guess_format(out, a.output_format, OUTPUT_FORMATS)
    if out_fmt in embedding_files.FORMATS and a.task.strip().lower() != EMBED:
        raise SystemExit(f"error: .{out_fmt} holds embeddings (--task {EMBED}); write predictions as .csv, .tsv "
                         "or .jsonl")
    if out_fmt in embedding_files.FORMATS and launched():
        raise SystemExit(f"error: under torchrun write .csv, .tsv or .jsonl; .{out_fmt} is written by one process")
    return PredictArgs(Path(a.checkpoint), a.task, inp, out, in_fmt if a.format else None, out_fmt, a.id_col,
                       a.text_col, a.text2_col, a.batch_size, a.chunk_size, a.max_length, a.on_error, a.precision,
                       a.embedding, a.threads)


def main(argv=None) -> int:
    args = parse_args(argv)
    apply_threads(args.threads)
    reports = not launched() or os.environ.get("RANK") == "0"  # one "wrote" line under torchrun
    try:
        bad = run_sharded(args) if launched() else run(args)
    except (CheckpointError, DataError, TaskSpecError, BadRow, NoRows, embedding_files.OutputError, OSError,
            sharded.ShardError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    if reports:
        print(f"wrote {args.output}" + (f" and {embedding_files.ids_path(args.output)}" if args.out_format == "npy"
                                        else "") + (f" ({bad} bad rows skipped)" if bad else ""))
    return 0


def run_sharded(args: PredictArgs) -> int:
    """torchrun: every rank predicts its chunks, rank 0 merges them into args.output in input order."""
    setup("cpu", sharded.TIMEOUT_S)
    expected = (CheckpointError, DataError, TaskSpecError, BadRow, NoRows, OSError)
    try:
        return sharded.run(args.output, lambda f, header: Writer(f, args.out_format, header),
                           lambda part, agreed: run(args, part, agreed), expected,
                           choose=None if args.precision in ("fp32", "bf16") else lambda: chosen_precision(args))
    finally:
        cleanup()


def chosen_precision(args: PredictArgs) -> tuple[str, str]:
    """(candidate, its one-line note): what --precision auto or int8 picks here (measured, or from the cache)."""
    ckpt = load_checkpoint(args.checkpoint)
    served = P.apply_precision(ckpt.model, args.precision, ckpt.tokenizer, ckpt.meta.get("weights_sha256"),
                               inplace=True)
    return served.precision, P.describe(served)


if __name__ == "__main__":
    sys.exit(main())
