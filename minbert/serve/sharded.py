"""Batch prediction under torchrun: the ranks share the chunks, rank 0 writes the one output in input order.

    torchrun --nproc_per_node=2 -m minbert.predict --task embed --input corpus.csv --output emb.jsonl

Every rank reads the whole input and validates, counts and chunks its rows exactly as one process does, so
bad rows, ids and the inference batches (hence the output's bytes) are the same; but it runs the model only
on chunks k with k % world == rank. Memory stays one chunk per rank, as in one process. A rank writes its
records, chunk after chunk, to `.OUTPUT.rankR.part` beside the output. When all are done the ranks exchange
their status: if any failed, all exit 1 and remove their parts, and no output is written. Otherwise rank 0
streams chunk k from rank k % world (over the process group, so nodes need not share a filesystem) into a
temporary file renamed over the output when complete. Every wait for a peer is bounded by
MINBERT_DIST_TIMEOUT seconds (default 1800): a rank whose peers died or stalled fails instead of hanging.
With --precision auto or int8, rank 0 alone measures, and every rank serves its choice (agree()).
Threads: each rank keeps OMP_NUM_THREADS, which torchrun sets to 1 when it starts several processes per node
(set it yourself to give each rank more cores).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as tdist

from minbert import distributed
from minbert.atomic import atomic_open

# Longest wait for a peer, in seconds: ranks reach the exchange within about one chunk's time of each other.
TIMEOUT_S = float(os.environ.get("MINBERT_DIST_TIMEOUT", "1800"))


class ShardError(Exception):
    """This rank or another failed: the run fails whole and writes no output."""


class PartWriter:
    """This rank's records, chunk after chunk, in a part file beside the output; remembers each chunk's bytes."""

    def __init__(self, output: Path, make_writer: Callable[[io.StringIO, bool], object]):
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.path = output.parent / f".{output.name}.rank{self.rank}.part"
        output.parent.mkdir(parents=True, exist_ok=True)
        self.f = self.path.open("wb")
        self.buf = io.StringIO()  # one chunk's text; newline="\n" default: written as is, like newline=""
        self.writer = make_writer(self.buf, self.rank == 0)  # the CSV header comes once, in chunk 0 (rank 0's)
        self.lengths: list[int] = []  # bytes of each of this rank's chunks, in order

    def owns(self, k: int) -> bool:
        return k % self.world == self.rank

    def write_chunk(self, ids: list[str], result, task) -> None:
        """One chunk's records (the batch CLI's Writer formats them), kept as one block of bytes."""
        self.writer.write_chunk(ids, result, task)
        data = self.buf.getvalue().encode("utf-8")
        self.f.write(data)
        self.lengths.append(len(data))
        self.buf.seek(0)
        self.buf.truncate()

    def chunks(self) -> Iterator[bytes]:
        self.f.close()
        with self.path.open("rb") as f:
            for n in self.lengths:
                yield f.read(n)

    def remove(self) -> None:
        self.f.close()
        self.path.unlink(missing_ok=True)


def run(output: Path, make_writer, predict_share: Callable[[PartWriter, object], int], expected: tuple,
        choose: Callable[[], object] | None = None) -> int:
    """Agree on choose()'s answer, predict this rank's share with it, exchange status, merge on rank 0; returns the
    bad-row count (every rank's)."""
    rank, part, err, bad = distributed.rank(), None, None, 0
    agreed = agree(choose, expected) if choose is not None else None
    try:
        try:
            part = PartWriter(output, make_writer)
            bad = predict_share(part, agreed)
        except expected as e:
            err = str(e)
        statuses = _comm(lambda: _gather((err, part.lengths if part else [])))
        failed = [(r, e) for r, (e, _) in enumerate(statuses) if e is not None]
        if failed:
            raise ShardError(_describe(failed, len(statuses)) if rank == 0 else
                             f"rank {rank}: stopped, {len(failed)} rank(s) failed (rank 0 says why)")
        lengths = [n for _, n in statuses]
        err = _merge(output, part, lengths, expected) if rank == 0 else _comm(lambda: _send(part))
        err = _comm(lambda: _broadcast(err))
        if err:
            raise ShardError(err if rank == 0 else f"rank {rank}: rank 0 could not write the output")
    finally:
        if part is not None:
            part.remove()
    return bad


def agree(choose: Callable[[], object], expected: tuple):
    """Rank 0's choose() for every rank (the precision `auto` measured, int8's kernel): all rows then come from
    one model, and the ranks do not measure at once, each slowed by the others. The first collective of a run,
    so every rank reaches it; an error on rank 0 fails them all."""
    err, answer = None, None
    if distributed.rank() == 0:
        try:
            answer = choose()
        except expected as e:
            err = str(e)
    err, answer = _comm(lambda: _broadcast((err, answer)))
    if err:
        rank = distributed.rank()
        raise ShardError(err if rank == 0 else f"rank {rank}: stopped, rank 0 failed (it says why)")
    return answer


def _describe(failed: list[tuple[int, str]], world: int) -> str:
    messages = {e for _, e in failed}
    if len(failed) == world and len(messages) == 1:  # the same error everywhere (a bad row, a missing file)
        return messages.pop()
    return "; ".join(f"rank {r}: {e}" for r, e in failed)


def _merge(output: Path, part: PartWriter, lengths: list[list[int]], expected: tuple) -> str | None:
    """Rank 0: the chunks in input order into the output. On a write error it keeps receiving (and
    dropping) the chunks, so the senders finish and hear of the failure; returns the error or None."""
    source = _chunks_in_order(part, lengths)
    try:
        with atomic_open(output, "wb") as out:
            for data in source:
                out.write(data)
        return None
    except expected as e:
        for _ in source:
            pass
        return str(e)


def _chunks_in_order(part: PartWriter, lengths: list[list[int]]) -> Iterator[bytes]:
    world, own = len(lengths), part.chunks()
    for k in range(sum(map(len, lengths))):
        src = k % world  # chunk k is rank src's (k // world)-th
        if src == 0:
            yield next(own)
            continue
        buf = torch.empty(lengths[src][k // world], dtype=torch.uint8)  # (bytes,)
        _comm(lambda: tdist.recv(buf, src=src))
        yield buf.numpy().tobytes()


def _send(part: PartWriter) -> None:
    for data in part.chunks():
        tdist.send(torch.frombuffer(bytearray(data), dtype=torch.uint8), dst=0)


def _gather(obj) -> list:
    out = [None] * distributed.world_size()
    tdist.all_gather_object(out, obj)
    return out


def _broadcast(obj):
    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def _comm(fn):
    """A collective or send/recv; a dead or stalled peer becomes a ShardError (gloo raises RuntimeError)."""
    try:
        return fn()
    except RuntimeError as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ShardError(f"rank {distributed.rank()}: lost contact with the other ranks ({first})") from None
