"""Embeddings to files people load, exact float32 values with their ids, streamed with bounded memory:

    X.npy           the (N, H) float32 matrix: np.load("X.npy"); the ids, one per line, in X.ids.txt:
                    open("X.ids.txt", encoding="utf-8").read().split("\\n")[:-1]
    X.parquet       columns id (string) and embedding (H float32 each): pandas.read_parquet("X.parquet")
    X.safetensors   tensor "embeddings" (N, H) float32, the ids as a JSON list in the metadata:
                    safe_open("X.safetensors", "np").get_tensor("embeddings"), json.loads(f.metadata()["ids"])

Rows go to temporary files beside the output as they come; the output is written from them when the run ends and
renamed into place, so an interrupted or failed run leaves none (X.ids.txt is renamed just before X.npy).
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import numpy as np

FORMATS = ("npy", "parquet", "safetensors")
COPY_ROWS = 16384  # rows copied at a time from the temporary file into the output
LINE_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")  # str.splitlines' own


class OutputError(ValueError):
    """An embedding that a format cannot hold as asked (an id with a line break in X.ids.txt)."""


def ids_path(path: Path) -> Path:
    """Where the ids of X.npy go: X.ids.txt."""
    return path.with_suffix(".ids.txt")


class EmbeddingFile:
    """Append (ids, (n, H) float32) chunks; commit() writes the output, discard() removes every trace."""

    def __init__(self, path: str | Path, fmt: str):
        if fmt not in FORMATS:
            raise ValueError(f"embedding files are {', '.join(FORMATS)}, not {fmt!r}")
        self.path, self.fmt, self.rows, self.width = Path(path), fmt, 0, None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tag = secrets.token_hex(6)
        self.tmp = self.path.parent / f".{self.path.name}.{tag}.part"
        self.raw_path = self.path.parent / f".{self.path.name}.{tag}.raw"
        self.ids_tmp = self.path.parent / f".{self.path.name}.{tag}.ids"
        self.raw, self.ids = self.raw_path.open("wb"), self.ids_tmp.open("w", encoding="utf-8", newline="")

    def write(self, ids: list[str], emb: np.ndarray) -> None:
        emb = np.ascontiguousarray(emb, dtype=np.float32)  # (n, H)
        self.width = emb.shape[1] if self.width is None else self.width
        bad = next((i for i in ids if any(b in i for b in LINE_BREAKS)), None)
        if bad is not None:
            raise OutputError(f"id {bad!r} has a line break, which {ids_path(self.path).name} (one id per line) "
                              "cannot hold: use --id-col with other ids, or write .parquet or .safetensors")
        self.raw.write(emb.tobytes())
        self.ids.write("".join(f"{i}\n" for i in ids))
        self.rows += len(ids)

    def commit(self) -> Path:
        self.raw.close()
        self.ids.close()
        try:
            getattr(self, f"_write_{self.fmt}")()
            if self.fmt == "npy":
                os.replace(self.ids_tmp, ids_path(self.path))
            os.replace(self.tmp, self.path)
        finally:
            self.discard()
        return self.path

    def discard(self) -> None:
        for f in (self.raw, self.ids):
            f.close()
        for p in (self.tmp, self.raw_path, self.ids_tmp):
            p.unlink(missing_ok=True)

    def _blocks(self):
        """(n, H) float32 blocks of the rows written, from the temporary file."""
        if not self.rows:
            return
        m = np.memmap(self.raw_path, dtype=np.float32, mode="r", shape=(self.rows, self.width))
        for start in range(0, self.rows, COPY_ROWS):
            yield np.asarray(m[start:start + COPY_ROWS])

    def _id_list(self) -> list[str]:
        return self.ids_tmp.read_text(encoding="utf-8").split("\n")[:-1]

    def _write_npy(self) -> None:
        with self.tmp.open("wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(np.float32).str, "fortran_order": False,
                                                     "shape": (self.rows, self.width or 0)})
            for block in self._blocks():
                f.write(block.tobytes())

    def _write_safetensors(self) -> None:
        """The safetensors layout (8-byte little-endian header length, JSON header, data), written in blocks: the
        library's save_file would hold all N x H values in memory at once."""
        n, h = self.rows, self.width or 0
        header = {"embeddings": {"dtype": "F32", "shape": [n, h], "data_offsets": [0, n * h * 4]},
                  "__metadata__": {"ids": json.dumps(self._id_list(), ensure_ascii=False), "format": "np"}}
        text = json.dumps(header, ensure_ascii=False).encode("utf-8")
        text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the library writes it
        with self.tmp.open("wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for block in self._blocks():
                f.write(block.tobytes())

    def _write_parquet(self) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise OutputError("writing .parquet needs pyarrow (pip install pyarrow)") from None
        schema = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32(), self.width or 0))])
        ids = self._id_list()
        with pq.ParquetWriter(self.tmp, schema) as w:
            start = 0
            for block in self._blocks():
                flat = pa.array(block.reshape(-1), type=pa.float32())
                emb = pa.FixedSizeListArray.from_arrays(flat, self.width)
                w.write_table(pa.table({"id": ids[start:start + len(block)], "embedding": emb}, schema=schema))
                start += len(block)
