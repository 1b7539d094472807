"""The CS224N task files: where they are, how to read them, the paraphrase protocol, batching.

`python -m minbert.data fetch` downloads and verifies them (see minbert/data/fetch.py).
"""
from __future__ import annotations

import csv
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

DATA_ENV = "MINBERT_DATA"
APP_FILES = ("ids-sst-dev.csv", "sts-dev.csv", "quora-dev.csv")  # the dev texts the app shows
FILES = {  # name -> (label column or None, label kind)
    "ids-sst-train.csv": ("sentiment", "sst"), "ids-sst-dev.csv": ("sentiment", "sst"),
    "ids-sst-test-student.csv": (None, "sst"),
    "quora-train.csv": ("is_duplicate", "quora"), "quora-dev.csv": ("is_duplicate", "quora"),
    "quora-test-student.csv": (None, "quora"),
    "sts-train.csv": ("similarity", "sts"), "sts-dev.csv": ("similarity", "sts"),
    "sts-test-student.csv": (None, "sts"),
}
LABEL_RANGE = {"sst": (0, 4), "quora": (0, 1), "sts": (0.0, 5.0)}
HELD_OUT_MOD = 3  # quora-dev rows with int(id, 16) % 10 < 3 are the held-out part


class DataError(ValueError):
    """A task file that is missing or malformed; the message names the file, line and problem."""


@dataclass
class Example:
    id: str
    text: str  # sentence, or sentence 1 of a pair
    text2: str | None = None  # sentence 2 of a pair
    label: float | int | None = None  # SST 0..4, Quora 0/1, STS 0..5; None in test files


@dataclass
class TaskFile:
    path: Path
    examples: list[Example]
    dropped: int = 0  # rows with a missing field
    dropped_lines: list[int] = field(default_factory=list)


def cache_data_dir() -> Path:
    """Where the app fetches the task files: $XDG_CACHE_HOME/minbert/data, else ~/.cache/minbert/data."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "minbert" / "data"


def find_data_dir(data_dir: str | Path | None = None, required: bool = True) -> Path | None:
    """--data-dir, then $MINBERT_DATA, then ./data, then the user cache; first existing wins."""
    candidates = [(data_dir, "--data-dir"), (os.environ.get(DATA_ENV), f"${DATA_ENV}"), ("data", "./data"),
                  (cache_data_dir(), "the user cache")]
    for path, origin in candidates:
        if not path:
            continue
        p = Path(path).expanduser()
        if p.is_dir() and any((p / name).is_file() for name in FILES):
            return p.resolve()
        if origin in ("--data-dir", f"${DATA_ENV}") and required:
            raise DataError(f"{origin} points at {p}, which holds no task files "
                            f"(run: python -m minbert.data fetch --dest {p})")
    if required:
        raise DataError(f"no task data found: pass --data-dir, set {DATA_ENV}, "
                        "or run: python -m minbert.data fetch")
    return None


def parse_label(raw: str, kind: str, where: str) -> float | int:
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{where}: label {raw!r} is not a number") from None
    lo, hi = LABEL_RANGE[kind]
    if not lo <= value <= hi:
        raise DataError(f"{where}: label {value:g} outside {lo}..{hi}")
    if kind == "sts":
        return value
    if value != int(value):
        raise DataError(f"{where}: label {value:g} is not a whole class")
    return int(value)


def read_task_file(path: str | Path) -> TaskFile:
    """Read one tab-separated task file, validating header and labels; drop and count incomplete rows."""
    path = Path(path)
    if path.name not in FILES:
        raise DataError(f"{path}: unknown task file (expected one of {', '.join(FILES)})")
    label_col, kind = FILES[path.name]
    text_cols = ["sentence"] if kind == "sst" else ["sentence1", "sentence2"]
    need = ["id", *text_cols] + ([label_col] if label_col else [])
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return _read_rows(path, csv.reader(f, delimiter="\t"), need, label_col, kind)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot parse: {e}") from None


def _read_rows(path, reader, need, label_col, kind) -> TaskFile:
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}:1: empty file, expected a header row")
    missing = [c for c in need if c not in header]
    if missing:
        raise DataError(f"{path}:1: header {header} lacks column(s) {missing}")
    col = {c: header.index(c) for c in need}
    out = TaskFile(path, [])
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if len(row) > len(header):
            raise DataError(f"{where}: {len(row)} fields, header has {len(header)}")
        values = {c: (row[i].strip() if i < len(row) else "") for c, i in col.items()}
        if not all(values.values()):
            out.dropped += 1
            out.dropped_lines.append(reader.line_num)
            continue
        label = parse_label(values[label_col], kind, where) if label_col else None
        texts = [values[c] for c in need[1:len(need) - bool(label_col)]]
        out.examples.append(Example(values["id"], texts[0], texts[1] if len(texts) > 1 else None, label))
    if not out.examples:
        raise DataError(f"{path}: no complete rows")
    return out


@dataclass
class TaskData:
    """Train and evaluation splits of the three tasks, plus the paraphrase protocol used."""
    sst_train: list[Example]
    sst_dev: list[Example]
    para_train: list[Example]
    para_dev: list[Example]
    sts_train: list[Example]
    sts_dev: list[Example]
    para_protocol: str
    dropped: dict[str, int]


def is_held_out(example_id: str) -> bool:
    return int(example_id, 16) % 10 < HELD_OUT_MOD


def split_quora_dev(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """The fixed split used when quora-train.csv is absent: (training part, held-out part)."""
    held = [e for e in examples if is_held_out(e.id)]
    return [e for e in examples if not is_held_out(e.id)], held


PROTOCOL_SPLIT = ("quora-dev split: train on rows with int(id,16)%10>=3 (14,174 pairs), "
                  "evaluate on held-out rows with int(id,16)%10<3 (6,038 pairs)")
PROTOCOL_STANDARD = "standard: train on quora-train.csv, evaluate on all of quora-dev.csv"


def load_tasks(data_dir: str | Path | None = None) -> TaskData:
    root = find_data_dir(data_dir)
    files = {name: read_task_file(root / name) for name in
             ("ids-sst-train.csv", "ids-sst-dev.csv", "sts-train.csv", "sts-dev.csv", "quora-dev.csv")}
    quora_dev = files["quora-dev.csv"].examples
    if (root / "quora-train.csv").is_file():
        files["quora-train.csv"] = read_task_file(root / "quora-train.csv")
        para_train, para_dev, protocol = files["quora-train.csv"].examples, quora_dev, PROTOCOL_STANDARD
    else:
        (para_train, para_dev), protocol = split_quora_dev(quora_dev), PROTOCOL_SPLIT
    return TaskData(files["ids-sst-train.csv"].examples, files["ids-sst-dev.csv"].examples,
                    para_train, para_dev, files["sts-train.csv"].examples, files["sts-dev.csv"].examples,
                    protocol, {k: v.dropped for k, v in files.items()})


def bucket_batches(lengths: list[int], batch_size: int, shuffle: bool, seed: int = 0,
                   bucket_factor: int = 50) -> list[list[int]]:
    """Group indices of similar length so each batch pads little.

    shuffle=False: sorted by length (for evaluation; callers restore the order).
    shuffle=True: shuffle, sort within windows of batch_size*bucket_factor, then shuffle the batches.
    """
    idx = list(range(len(lengths)))
    if not shuffle:
        idx.sort(key=lambda i: lengths[i])
        return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(idx)
    window = batch_size * bucket_factor
    batches = []
    for w in range(0, len(idx), window):
        chunk = sorted(idx[w:w + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def main(argv: list[str] | None = None) -> int:
    from minbert.data.fetch import main as fetch_main
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "fetch":
        print("usage: python -m minbert.data fetch [--source URL-or-folder] [--dest data/]", file=sys.stderr)
        return 2
    return fetch_main(argv[1:])

