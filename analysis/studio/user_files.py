"""The user's own material: pasted or typed sentence pairs and uploaded CSV/TSV/JSONL files, parsed with every
bad line reported by number, and bounded in bytes and rows so no upload can take unbounded time or memory.
CSV files may use commas, semicolons or tabs (detected); labels may be numbers or class names."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from minbert.data import DataError, Example, parse_label
from minbert.serve.predictor import InputError

from analysis.studio.label_names import as_number, known

MAX_ROWS = 10_000  # pairs or labelled rows per request; larger files belong to `python -m minbert.predict`
MAX_BYTES = 20 * 1024 * 1024  # per upload or pasted text (the app's upload limit too)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".jsonl": "jsonl"}  # .csv and .txt: delimiter detected
DELIMITERS = ",;\t"  # what a .csv or .txt may be separated by
SNIFF_BYTES = 64 * 1024  # the sample csv.Sniffer looks at
PAIR_SEPARATORS = ("\t", "|||")  # between the two sentences of a pasted or typed pair
ALIASES = {  # column role -> names tried in order (case-insensitive) when the user names none
    "text": ("sentence", "text", "sentence1", "question1", "review"),
    "text2": ("sentence2", "text2", "question2"),
    "label": ("label", "sentiment", "is_duplicate", "similarity", "score", "gold"),
}
ROLE_NAMES = {"text": "text (sentence 1)", "text2": "sentence 2", "label": "label"}
ROLE_BOXES = {"text": "Text column", "text2": "Sentence 2 column", "label": "Label column"}  # app.py's boxes


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
    """The field separator of a delimited file: TAB for .tsv; for .csv and .txt what csv.Sniffer finds among
    DELIMITERS, else the one the header line has most of (a one-column file: comma)."""
    if fmt == "tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _rows(path: str | Path):
    """(line number, row dict or None, error or None) for every record of a .csv/.tsv/.txt/.jsonl file."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"Cannot read {path.name}: upload a .csv, .tsv or .jsonl file.")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path.name} is over {MAX_BYTES // 2**20} MB.")
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # bounded by MAX_BYTES above
    if fmt == "jsonl":
        return _json_rows(text)
    return _delimited_rows(text, delimiter(text[:SNIFF_BYTES], fmt))


def _json_rows(text: str):
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, None, f"invalid JSON: {e.msg}"
            continue
        yield (n, row, None) if isinstance(row, dict) else (n, None, "not a JSON object")


def _delimited_rows(text: str, sep: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                yield reader.line_num, None, f"{len(row)} fields, header has {len(header)}"
            else:
                yield reader.line_num, dict(zip(header, row)), None
    except csv.Error as e:
        yield reader.line_num, None, f"cannot parse: {e}"


def _column(header: list[str], role: str, given: str | None, file_name: str, boxes: bool) -> str:
    if given and given.strip():
        if given.strip() in header:
            return given.strip()
        raise InputError(f"{file_name} has no column {given.strip()!r}; its columns are {header}.")
    lower = {h.lower(): h for h in header}
    for name in ALIASES[role]:
        if name in lower:
            return lower[name]
    fix = (f"Type its name in the '{ROLE_BOXES[role]}' box, or rename the column to one of those." if boxes else
           f"Rename the column to one of those ({ALIASES[role][0]}, ...).")
    raise InputError(f"{file_name} has no {ROLE_NAMES[role]} column (tried {', '.join(ALIASES[role])}); its columns are "
                     f"{header}. {fix}")


def read_file(path: str | Path, pair: bool, task=None, cols: dict[str, str | None] | None = None,
              boxes: bool = False) -> Parsed:
    """Examples from an uploaded file: one text (or a pair), and a label of `task` (a minbert.tasks.Task) if given. `boxes`:
    the form has boxes to name the columns in (messages then point to them). Every record is kept in
    `rows` (line order) for the download of the file with its predictions."""
    cols, name, out = cols or {}, Path(path).name, Parsed([])
    roles = ["text", *(["text2"] if pair else []), *(["label"] if task else [])]
    picked: dict[str, str] | None = None
    for n, row, err in _rows(path):
        out.rows.append((n, row))
        if err:
            out.bad.append((n, err))
            continue
        if picked is None:  # the first good row fixes the columns (CSV header or JSONL keys)
            out.header = [str(k) for k in row]
            picked = {r: _column(out.header, r, cols.get(r), name, boxes) for r in roles}
        try:
            out.examples.append(_example(row, n, picked, task, name))
        except (InputError, DataError) as e:
            out.bad.append((n, str(e).split(": ", 1)[-1] if isinstance(e, DataError) else str(e)))
        if len(out.examples) > MAX_ROWS:
            raise InputError(f"{name} {too_many()}.")
    if not out.examples:
        raise InputError(f"{name} has no usable rows. " + out.bad_summary())
    return out


def _example(row: dict, n: int, picked: dict[str, str], task, name: str) -> Example:
    """An Example whose id is its line number (unique, and how bad lines are reported too)."""
    values = {r: str(row.get(c) if row.get(c) is not None else "").strip() for r, c in picked.items()}
    empty = [picked[r] for r, v in values.items() if not v]
    if empty:
        raise InputError(f"empty {', '.join(map(repr, empty))}")
    label = None
    if task:
        try:
            label = parse_label(as_number(values["label"], task), task, f"{name}:{n}")
        except DataError as e:
            names = known(task)
            raise DataError(f"{e}" + (f" (numbers or class names: {names})" if names else "")) from None
    return Example(str(n), values["text"], values.get("text2"), label)

