"""The user's own material: pasted or typed sentence pairs and uploaded CSV/TSV/JSONL/Parquet files, parsed with
every bad line reported by number, and bounded in bytes and rows so no upload can take unbounded time or memory.
Files are read by minbert/data/files.py, as `minbert.predict` and the task files are: delimited files may use
commas, semicolons or tabs (found from the header), columns are found by name, and labels may be numbers, class
names or the task's other words for them (label_words)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minbert.data import DataError, Example
from minbert.data import files
from minbert.serve.predictor import InputError
from minbert.tasks import TASKS, Task, TaskSpecError, by_name

MAX_ROWS = 10_000  # pairs or labelled rows per request; larger files belong to `python -m minbert.predict`
MAX_BYTES = 20 * 1024 * 1024  # per upload or pasted text (the app's upload limit too)
SNIFF_BYTES = 64 * 1024  # the sample delimiter() looks at (its first line)
PAIR_SEPARATORS = ("\t", "|||")  # between the two sentences of a pasted or typed pair
KIND = {t.skill: t for t in TASKS.values()}  # the app's task names (sentiment, ...) -> the task, read_file's task
ROLE_BOXES = {"text": "Text column", "text1": "Text column", "text2": "Sentence 2 column",
              "label": "Label column"}  # app.py's boxes
COLS = {"text1": "text"}  # read_file's `cols` name sentence 1 of a pair "text", as the app's boxes do


def too_many() -> str:
    return f"has more than {MAX_ROWS:,} rows: split it, or use `python -m minbert.predict` for files of any size"


@dataclass
class Parsed:
    examples: list[Example]
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    header: list[str] = field(default_factory=list)  # a file's columns, in its order
    rows: list[tuple[int, dict | None]] = field(default_factory=list)  # every record of a file: (line, row or None)

    def bad_summary(self, limit: int = 20) -> str:
        if not self.bad:
            return ""
        shown = "; ".join(f"line {n}: {why}" for n, why in self.bad[:limit])
        more = f" (and {len(self.bad) - limit} more)" if len(self.bad) > limit else ""
        return f"{len(self.bad)} bad line(s) skipped: {shown}{more}"


def split_pair(line: str) -> list[str]:
    """A pasted line's sentences: split at the TAB if it has one, else at `|||` (which a keyboard can type)."""
    sep = next((s for s in PAIR_SEPARATORS if s in line), PAIR_SEPARATORS[0])
    return [p.strip() for p in line.split(sep)]


def pasted_pairs(text: str | None) -> Parsed:
    """Lines of `sentence 1<TAB>sentence 2` or `sentence 1 ||| sentence 2`; blank lines are ignored."""
    text = text or ""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise InputError(f"The pasted text is over {MAX_BYTES // 2**20} MB.")
    out = Parsed([])
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = split_pair(line)
        if len(parts) != 2 or not all(parts):
            out.bad.append((n, "expected 'sentence 1 ||| sentence 2' (or a TAB between them)"))
            continue
        out.examples.append(Example(str(n), parts[0], parts[1]))
        if len(out.examples) > MAX_ROWS:
            raise InputError(f"The pasted text {too_many()}.")
    return out


def typed_pairs(rows) -> Parsed:
    """Pairs typed into a two-column table (a list of rows, or Gradio's {"data": rows}); rows with both cells
    empty are ignored, a row with one empty cell is reported by its number."""
    if isinstance(rows, dict):
        rows = rows.get("data")
    elif hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.values.tolist()
    out = Parsed([])
    for n, row in enumerate(rows or [], 1):
        cells = [str(c).strip() if c is not None else "" for c in (list(row) + ["", ""])[:2]]
        if not any(cells):
            continue
        if not all(cells):
            out.bad.append((n, "row needs both sentences"))
            continue
        out.examples.append(Example(str(n), cells[0][:MAX_BYTES], cells[1][:MAX_BYTES]))
        if len(out.examples) > MAX_ROWS:
            raise InputError(f"The table {too_many()}.")
    return out


def delimiter(sample: str, fmt: str) -> str:
    """The field separator of a delimited file from a sample of its start (minbert.data.files.delimiter)."""
    return files.delimiter(sample.splitlines()[0] if sample else "", f".{fmt}")


def _task(given) -> Task | None:
    if given is None or isinstance(given, Task):
        return given
    try:
        return by_name(TASKS.values(), given)
    except TaskSpecError as e:
        raise InputError(str(e)) from None


def _open(path: str | Path) -> files.Table:
    path = Path(path)
    try:
        files.file_format(path)
    except DataError:
        raise InputError(f"Cannot read {path.name}: upload a .csv, .tsv, .jsonl or .parquet file.") from None
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path.name} is over {MAX_BYTES // 2**20} MB.")
    try:
        return files.open_table(path)
    except DataError as e:
        raise InputError(str(e).replace(str(path), path.name)) from None


def _column(table: files.Table, task: Task | None, role: str, given: str | None, boxes: bool) -> str:
    name = table.path.name
    try:
        found = files.find_column(table.header, task, role, given)
    except DataError:
        raise InputError(f"{name} has no column {given.strip()!r}; its columns are {table.header}.") from None
    if found is not None:
        return found
    tried = files.candidates(task, role)
    fix = (f"Type its name in the '{ROLE_BOXES[role]}' box, or rename the column to one of those." if boxes else
           f"Rename the column to one of those ({tried[0]}, ...).")
    raise InputError(f"{name} has no {files.ROLE_NAMES[role]} column (tried {', '.join(tried)}); its columns are "
                     f"{table.header}. {fix}")


def read_file(path: str | Path, pair: bool, task: Task | str | None = None,
              cols: dict[str, str | None] | None = None, boxes: bool = False) -> Parsed:
    """Examples from an uploaded file: one text (or a pair), and the label of the task `task` if given (a
    Task, or a task's key, skill or name: "sst", "sentiment", "quora"; its kind then decides `pair`). `cols`
    names columns by role (text, text2, label); the rest are found by name (minbert.data.files). `boxes`: the
    form has boxes to name the columns in (messages then point to them). Every record is kept in `rows` (line
    order) for the download of the file with its predictions."""
    task = _task(task)
    pair = task.pair if task is not None else pair
    cols, table = cols or {}, _open(path)
    roles = (["text1", "text2"] if pair else ["text"]) + (["label"] if task is not None else [])
    out = Parsed([], header=list(table.header))
    picked = {r: _column(table, task, r, cols.get(COLS.get(r, r)), boxes) for r in roles}
    try:
        for rec in table.records():
            if rec.blank:
                continue
            out.rows.append((rec.line, rec.values or None))
            try:
                out.examples.append(_example(table, rec, picked, task))
            except (InputError, DataError) as e:
                out.bad.append((rec.line, str(e).removeprefix(table.where(rec.line)).lstrip(",: ")))
            if len(out.examples) > MAX_ROWS:
                raise InputError(f"{table.path.name} {too_many()}.")
    except DataError as e:
        raise InputError(str(e).replace(str(table.path), table.path.name)) from None
    if not out.examples:
        raise InputError(f"{table.path.name} has no usable rows. " + out.bad_summary())
    return out


def _example(table: files.Table, rec: files.Record, picked: dict[str, str], task: Task | None) -> Example:
    """An Example whose id is its line number (unique, and how bad lines are reported too)."""
    problem = files.shape_problem(rec, len(table.header))
    if problem:
        raise InputError(problem)
    values = {r: files.cell(rec, c) for r, c in picked.items()}
    empty = [picked[r] for r, v in values.items() if not v]
    if empty:
        raise InputError(f"empty {', '.join(map(repr, empty))}")
    label = files.label_of(table, rec, picked["label"], task) if "label" in picked else None
    return Example(str(rec.line), values.get("text") or values["text1"], values.get("text2"), label)
