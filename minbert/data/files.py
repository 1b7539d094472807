"""One reader for every file of sentences: the task files, `minbert.predict`'s input and the app's uploads.

Formats, told by the file name's ending:
    .csv .tsv .txt   delimited text; the delimiter (comma, semicolon or TAB) is read off the header line (.tsv: TAB).
                     Parsed by pandas' Python engine: the csv module's quoting ("" inside a quoted field), and short
                     rows told apart from empty fields.
    .jsonl           one JSON object per line, parsed line by line so that a bad line is named, not its chunk.
    .parquet         with pyarrow, in row batches.
Every format is read in chunks of CHUNK_ROWS records: memory stays bounded on any file size.

Each record carries its line number as csv.reader counts it (the line a record ends on; the row number in a
Parquet file). Columns are found by name the same way for every caller (find_column: the task's own column, then
ALIASES, ignoring case), and labels go through minbert.data.parse_label (numbers, class names, the task's
label_words). Bad input raises DataError with the file and line (and column) in its message.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from minbert.data import DataError, parse_label
from minbert.tasks import Task

FORMATS = {".csv": "delimited", ".tsv": "delimited", ".txt": "delimited", ".jsonl": "jsonl", ".parquet": "parquet"}
DELIMITERS = ",;\t"  # what a delimited file may be separated by
CHUNK_ROWS = 4096  # records parsed at a time
ALIASES = {  # role -> column names tried, after the task's own column, ignoring case
    "text": ("sentence", "text", "review", "sentence1", "question1", "text1"),  # a single sentence
    "text1": ("sentence1", "question1", "text1", "sentence", "text"),  # sentence 1 of a pair
    "text2": ("sentence2", "question2", "text2"),  # sentence 2 of a pair
    "label": ("label", "is_duplicate", "similarity", "score", "sentiment"),  # the gold label
    "id": ("id",),
}
ROLE_NAMES = {"text": "text", "text1": "sentence 1", "text2": "sentence 2", "label": "label", "id": "id"}
_BAD = "\x00minbert: malformed row"  # marks, in place, a row with more fields than the header
_BLANK = object()  # a blank line of a JSONL file
_NEWLINE = re.compile(r"\r\n|\r|\n")
READ_ERRORS = (UnicodeDecodeError, csv.Error, OSError, ValueError)  # pandas' ParserError and pyarrow's are ValueErrors


@dataclass
class Record:
    line: int  # the line the record ends on (the row number in a Parquet file)
    values: dict[str, str | None]  # column -> the text as written; None where the record lacks that field
    fields: int | None = None  # a delimited row's field count; 0: a blank line (JSONL too); else None
    error: str | None = None  # why the record could not be read (invalid JSON); values is then empty

    @property
    def blank(self) -> bool:
        return self.fields == 0


def file_format(path: str | Path, given: str | None = None) -> str:
    """delimited, jsonl or parquet: from `given` (csv, tsv, txt, jsonl, parquet) or else the file name's ending."""
    fmt = FORMATS.get(f".{given}" if given else Path(path).suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: cannot tell the format: name it .csv, .tsv, .txt, .jsonl or .parquet")
    return fmt


def delimiter(header_line: str, suffix: str = ".csv") -> str:
    """TAB for .tsv; otherwise the one of DELIMITERS the header line has most of outside quotes (none: comma)."""
    if suffix.lower() == ".tsv":
        return "\t"
    bare = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def as_text(value) -> str | None:
    """A JSON or Parquet value as the text a delimited file would hold; None stays None (a missing field)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


class Table:
    """One input file: its header (column names, in file order) and its records, streamed in chunks."""

    def __init__(self, path: str | Path, fmt: str | None = None):
        """fmt: csv, tsv, txt, jsonl or parquet; None: from the file name's ending."""
        self.path = Path(path)
        self.format = file_format(self.path, fmt)
        self.suffix = f".{fmt}" if fmt else self.path.suffix
        if not self.path.is_file():
            raise DataError(f"{self.path}: file not found")
        self.unit = "row" if self.format == "parquet" else "line"
        try:
            self.header = self._header()
        except READ_ERRORS as e:
            raise self._error(e) from None

    def where(self, line: int, column: str | None = None) -> str:
        """`file:line` (`file, row N` for Parquet), and the column when one is named: for messages."""
        at = f"{self.path}:{line}" if self.unit == "line" else f"{self.path}, row {line}"
        return at + (f", column {column!r}" if column else "")

    def records(self) -> Iterator[Record]:
        """Every record after the header, in file order."""
        parse = {"delimited": self._delimited, "jsonl": self._jsonl, "parquet": self._parquet}[self.format]
        try:
            yield from parse()
        except READ_ERRORS as e:
            raise self._error(e) from None

    def lines(self) -> int:
        """Records to expect, for a progress bar: the lines of a text file, the rows of a Parquet file."""
        if self.format == "parquet":
            return self._parquet_file().metadata.num_rows
        with self.path.open("rb") as f:
            return sum(1 for _ in f)

    def _error(self, e: Exception) -> DataError:
        if isinstance(e, DataError):
            return e
        if isinstance(e, UnicodeDecodeError):
            return DataError(f"{self.path}: not UTF-8 text ({e.reason} at byte {e.start} of a block): save it as UTF-8")
        return DataError(f"{self.path}: cannot parse: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}")

    # --- delimited text ---------------------------------------------------------------------------
    def _open_text(self):
        return self.path.open(newline="", encoding="utf-8-sig")  # newline="": lines as csv.reader sees them

    def _first_line(self) -> str:
        with self._open_text() as f:
            return f.readline()

    def _header(self) -> list[str]:
        if self.format == "jsonl":
            return self._jsonl_header()
        if self.format == "parquet":
            return list(self._parquet_file().schema_arrow.names)
        first = self._first_line()
        if not first.strip("\r\n"):
            raise DataError(f"{self.path}:1: empty file, expected a header row" if not first else
                            f"{self.path}:1: the first line is blank; expected a header row")
        self.sep = delimiter(first, self.suffix)
        return next(csv.reader([first], delimiter=self.sep))

    def _delimited(self) -> Iterator[Record]:
        import pandas as pd
        width, bad = len(self.header), []

        def too_long(fields: list[str]) -> list:  # kept in place (as a marker row), so line numbers stay right
            bad.append(len(fields))
            return [_BAD] + [""] * (width - 1)

        with self._open_text() as f:
            reader = pd.read_csv(f, sep=self.sep, header=None, names=list(range(width)), dtype=object,
                                 na_filter=False, skip_blank_lines=False, engine="python", on_bad_lines=too_long,
                                 chunksize=CHUNK_ROWS)
            line, first = 0, True
            for chunk in reader:
                for cells in chunk.values.tolist():
                    if first:  # the header row, read again
                        first = False
                        line = 1 + sum(len(_NEWLINE.findall(c)) for c in cells if isinstance(c, str))
                        continue
                    if cells[0] == _BAD:
                        line += 1
                        yield Record(line, {}, bad.pop(0))
                        continue
                    present = [c for c in cells if isinstance(c, str)]  # missing fields (short rows) are NaN
                    line += 1 + sum(len(_NEWLINE.findall(c)) for c in present)
                    values: dict[str, str | None] = {}
                    for name, c in zip(self.header, cells):
                        values.setdefault(name, c if isinstance(c, str) else None)  # a repeated name: the first
                    yield Record(line, values, len(present))

    # --- JSON Lines -------------------------------------------------------------------------------
    def _jsonl_lines(self) -> Iterator[tuple[int, object, str | None]]:
        with self.path.open(encoding="utf-8-sig") as f:
            for n, text in enumerate(f, 1):
                if not text.strip():
                    yield n, _BLANK, None
                    continue
                try:
                    yield n, json.loads(text), None
                except json.JSONDecodeError as e:
                    yield n, None, f"invalid JSON: {e.msg} (column {e.colno})"

    def _jsonl_header(self) -> list[str]:
        """The keys of the first JSON object in the file."""
        for _, obj, _ in self._jsonl_lines():
            if isinstance(obj, dict):
                return [str(k) for k in obj]
        return []

    def _jsonl(self) -> Iterator[Record]:
        for n, obj, err in self._jsonl_lines():
            if obj is _BLANK:
                yield Record(n, {}, fields=0)
                continue
            if err is None and not isinstance(obj, dict):
                err = "not a JSON object"
            yield Record(n, {str(k): as_text(v) for k, v in obj.items()} if isinstance(obj, dict) else {},
                         error=err)

    # --- Parquet ----------------------------------------------------------------------------------
    def _parquet_file(self):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(f"{self.path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
        return pq.ParquetFile(self.path)

    def _parquet(self) -> Iterator[Record]:
        n = 0
        for batch in self._parquet_file().iter_batches(batch_size=CHUNK_ROWS):
            for row in batch.to_pylist():
                n += 1
                yield Record(n, {str(k): as_text(v) for k, v in row.items()})


def open_table(path: str | Path, fmt: str | None = None) -> Table:
    return Table(path, fmt)


# --- columns and values ----------------------------------------------------------------------------
def roles(task: Task, labelled: bool = False) -> list[str]:
    """The text roles of a task's files ("text", or "text1" and "text2"), then "label" if labelled."""
    return (["text1", "text2"] if task.pair else ["text"]) + (["label"] if labelled else [])


def own_column(task: Task, role: str) -> str | None:
    """The column the task's spec names for a role."""
    return {"text": task.columns[0], "text1": task.columns[0], "text2": task.columns[-1], "label": task.label,
            "id": "id"}[role]


def candidates(task: Task | None, role: str) -> list[str]:
    """Column names tried for a role, in order: the task's own, then ALIASES[role]."""
    own = own_column(task, role) if task is not None else None
    return list(dict.fromkeys([*([own] if own else []), *ALIASES[role]]))


def find_column(header: list[str], task: Task | None, role: str, given: str | None = None) -> str | None:
    """The header's column for a role: `given` if named (it must exist, exactly or ignoring case), else the first
    of candidates() the header has, ignoring case; None if none is there."""
    lower = {}
    for h in header:
        lower.setdefault(h.lower(), h)
    if given and given.strip():
        name = given.strip()
        if name in header or name.lower() in lower:
            return name if name in header else lower[name.lower()]
        raise DataError(f"no column {name!r}; the columns are {header}")
    return next((lower[c.lower()] for c in candidates(task, role) if c.lower() in lower), None)


def cell(record: Record, column: str) -> str:
    """A record's value in a column, stripped; "" where it is missing."""
    value = record.values.get(column)
    return value.strip() if value else ""


def shape_problem(record: Record, width: int) -> str | None:
    """Why a user's record cannot be used at all: unreadable, or a delimited row with another field count
    than the header's. (Task files pad short rows instead: minbert.data.read_task_file.)"""
    if record.error:
        return record.error
    if record.fields is not None and record.fields != width:
        return f"{record.fields} fields, header has {width}"
    return None


def label_of(table: Table, record: Record, column: str, task: Task):
    """The record's label in `column` as the task reads it (parse_label), or DataError naming file, line, column."""
    return parse_label(cell(record, column), task, table.where(record.line, column))
