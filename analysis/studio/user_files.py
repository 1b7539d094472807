"""The user's own material: pasted sentence pairs and uploaded CSV/TSV/JSONL files, parsed with every bad
line reported by number, and bounded in bytes and rows so no upload can take unbounded time or memory."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minbert.data import DataError, Example, parse_label
from minbert.serve.batch_predict import read_rows
from minbert.serve.predictor import InputError

MAX_ROWS = 10_000  # pairs or labelled rows per request; larger files belong to `python -m minbert.predict`
MAX_BYTES = 20 * 1024 * 1024  # per upload or pasted text (the app's upload limit too)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl"}
KIND = {"sentiment": "sst", "paraphrase": "quora", "similarity": "sts"}  # task -> label kind of minbert.data
ALIASES = {  # column role -> names tried in order (case-insensitive) when the user names none
    "text": ("sentence", "text", "sentence1", "question1", "review"),
    "text2": ("sentence2", "text2", "question2"),
    "label": ("label", "sentiment", "is_duplicate", "similarity", "score", "gold"),
}
ROLE_NAMES = {"text": "text (sentence 1)", "text2": "sentence 2", "label": "label"}


def too_many() -> str:
    return f"has more than {MAX_ROWS:,} rows: split it, or use `python -m minbert.predict` for files of any size"


@dataclass
class Parsed:
    examples: list[Example]
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def bad_summary(self, limit: int = 20) -> str:
        if not self.bad:
            return ""
        shown = "; ".join(f"line {n}: {why}" for n, why in self.bad[:limit])
        more = f" (and {len(self.bad) - limit} more)" if len(self.bad) > limit else ""
        return f"{len(self.bad)} bad line(s) skipped: {shown}{more}"


def pasted_pairs(text: str | None) -> Parsed:
    """Lines of `sentence 1<TAB>sentence 2`; blank lines are ignored."""
    text = text or ""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise InputError(f"The pasted text is over {MAX_BYTES // 2**20} MB.")
    out = Parsed([])
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 2 or not all(parts):
            out.bad.append((n, "expected 'sentence 1<TAB>sentence 2'"))
            continue
        out.examples.append(Example(str(n), parts[0], parts[1]))
        if len(out.examples) > MAX_ROWS:
            raise InputError(f"The pasted text {too_many()}.")
    return out


def _rows(path: str | Path):
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"Cannot read {path.name}: upload a .csv, .tsv or .jsonl file.")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"{path.name} is over {MAX_BYTES // 2**20} MB.")
    return read_rows(path, fmt)


def _column(header: list[str], role: str, given: str | None, file_name: str) -> str:
    if given and given.strip():
        if given.strip() in header:
            return given.strip()
        raise InputError(f"{file_name} has no column {given.strip()!r}; its columns are {header}.")
    lower = {h.lower(): h for h in header}
    for name in ALIASES[role]:
        if name in lower:
            return lower[name]
    raise InputError(f"{file_name} has no {ROLE_NAMES[role]} column (tried {', '.join(ALIASES[role])}); its columns are "
                     f"{header}. Name the column in the form.")


def read_file(path: str | Path, pair: bool, label_kind: str | None = None,
              cols: dict[str, str | None] | None = None) -> Parsed:
    """Examples from an uploaded file: one text (or a pair), and a label of `label_kind` if given."""
    cols, name, out = cols or {}, Path(path).name, Parsed([])
    roles = ["text", *(["text2"] if pair else []), *(["label"] if label_kind else [])]
    picked: dict[str, str] | None = None
    for n, row, err in _rows(path):
        if err:
            out.bad.append((n, err))
            continue
        if picked is None:  # the first good row fixes the columns (CSV header or JSONL keys)
            header = [str(k) for k in row]
            picked = {r: _column(header, r, cols.get(r), name) for r in roles}
        try:
            out.examples.append(_example(row, n, picked, label_kind, name))
        except (InputError, DataError) as e:
            out.bad.append((n, str(e).split(": ", 1)[-1] if isinstance(e, DataError) else str(e)))
        if len(out.examples) > MAX_ROWS:
            raise InputError(f"{name} {too_many()}.")
    if not out.examples:
        raise InputError(f"{name} has no usable rows. " + out.bad_summary())
    return out


def _example(row: dict, n: int, picked: dict[str, str], label_kind: str | None, name: str) -> Example:
    """An Example whose id is its line number (unique, and how bad lines are reported too)."""
    values = {r: str(row.get(c) if row.get(c) is not None else "").strip() for r, c in picked.items()}
    empty = [picked[r] for r, v in values.items() if not v]
    if empty:
        raise InputError(f"empty {', '.join(map(repr, empty))}")
    label = parse_label(values["label"], label_kind, f"{name}:{n}") if label_kind else None
    return Example(str(n), values["text"], values.get("text2"), label)

