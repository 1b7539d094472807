"""Task files: where they are, how to read them, and how a task without a train file is split.

Files are read by minbert/data/files.py, the reader `minbert.predict` and the app's uploads use too.
`python -m minbert.data fetch` downloads and verifies them (see minbert/data/fetch.py).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from minbert.tasks import TASKS, Task, model_tasks

DATA_ENV = "MINBERT_DATA"
APP_FILES = tuple(t.files["dev"] for t in TASKS.values())  # the dev texts the app shows


class DataError(ValueError):
    """A task file that is missing or malformed; the message names the file, line and problem."""


@dataclass
class Example:
    id: str
    text: str  # sentence, or sentence 1 of a pair
    text2: str | None = None  # sentence 2 of a pair
    label: float | int | None = None  # a class id, or a score; None in test files


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


def _holds_task_files(p: Path) -> bool:
    return p.is_dir() and any((p / name).is_file() for t in TASKS.values() for name in t.files.values())


def find_data_dir(data_dir: str | Path | None = None, required: bool = True) -> Path | None:
    """--data-dir, then $MINBERT_DATA, then ./data, then the user cache; first existing wins."""
    candidates = [(data_dir, "--data-dir"), (os.environ.get(DATA_ENV), f"${DATA_ENV}"), ("data", "./data"),
                  (cache_data_dir(), "the user cache")]
    for path, origin in candidates:
        if not path:
            continue
        p = Path(path).expanduser()
        if _holds_task_files(p):
            return p.resolve()
        if origin in ("--data-dir", f"${DATA_ENV}") and required:
            raise DataError(f"{origin} points at {p}, which holds no task files "
                            f"(run: python -m minbert.data fetch --dest {p})")
    if required:
        raise DataError(f"no task data found: pass --data-dir, set {DATA_ENV}, "
                        "or run: python -m minbert.data fetch")
    return None


def task_file(root: Path | None, task: Task, split: str) -> Path | None:
    """Where a task's split is: an absolute path as given, else in the data folder, else beside the task's spec;
    None where the spec names no such split or no such file exists."""
    name = task.files.get(split)
    if not name:
        return None
    places = [Path(name)] if Path(name).is_absolute() else \
        [p / name for p in (root, task.spec and Path(task.spec).parent) if p]
    return next((p for p in places if p.is_file()), None)


def parse_label(raw: str, task: Task, where: str) -> float | int:
    """A gold label: a number in the task's range, or (classes kinds) a class name or one of the task's
    label_words ("positive", "neg", "yes")."""
    named = task.class_of(raw) if task.classes else None
    if named is not None:
        return named
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{where}: label {raw!r} is not a number" +
                        (f" or one of {', '.join(task.classes)}" if task.classes else "")) from None
    lo, hi = task.score_range if task.is_score else (0, task.num_classes - 1)
    if not lo <= value <= hi:
        raise DataError(f"{where}: label {value:g} outside {lo}..{hi}")
    if task.is_score:
        return value
    if value != int(value):
        raise DataError(f"{where}: label {value:g} is not a whole class")
    return int(value)


def task_of_file(name: str) -> Task:
    """The built-in task a CS224N file name belongs to ("ids-sst-dev.csv" -> SST-5)."""
    for t in TASKS.values():
        if name in t.files.values():
            return t
    names = [n for t in TASKS.values() for n in t.files.values()]
    raise DataError(f"{name}: unknown task file (expected one of {', '.join(names)}, or pass its task)")


def read_task_file(path: str | Path, task: Task | None = None, labelled: bool | None = None) -> TaskFile:
    """Read one task file (minbert.data.files: any format it reads, columns found by name), validating header and
    labels; drop and count rows with a missing field. task=None: the built-in task the file name belongs to.
    labelled=None: labels are read where the file has a label column."""
    from minbert.data import files
    path = Path(path)
    task = task or task_of_file(path.name)
    table = files.open_table(path)
    roles = files.roles(task, labelled is not False)
    cols = {r: files.find_column(table.header, task, r) for r in ["id", *roles]}
    if labelled is None and cols["label"] is None:
        del cols["label"]
    missing = [files.own_column(task, r) for r, c in cols.items() if c is None]
    if missing:
        raise DataError(f"{path}:1: header {table.header} lacks column(s) {missing}")
    out = TaskFile(path, [])
    for rec in table.records():
        if rec.error or (rec.fields or 0) > len(table.header):
            raise DataError(f"{table.where(rec.line)}: " + (rec.error or f"{rec.fields} fields, header has "
                                                                          f"{len(table.header)}"))
        values = {r: files.cell(rec, c) for r, c in cols.items()}
        if not all(values.values()):
            out.dropped += 1
            out.dropped_lines.append(rec.line)
            continue
        label = files.label_of(table, rec, cols["label"], task) if "label" in cols else None
        texts = [values[r] for r in roles if r != "label"]
        out.examples.append(Example(values["id"], texts[0], texts[1] if len(texts) > 1 else None, label))
    if not out.examples:
        raise DataError(f"{path}: no complete rows")
    return out


@dataclass
class TaskData:
    """Train and evaluation examples of each task (keyed by task key), and how each was split."""
    tasks: tuple[Task, ...]
    train: dict[str, list[Example]]
    dev: dict[str, list[Example]]
    protocols: dict[str, str]  # task key -> how train and dev were drawn (a note for the sidecar and reports)
    dropped: dict[str, int]  # file name -> rows dropped for a missing field


def is_held_out(example_id: str, tenths: int) -> bool:
    return int(example_id, 16) % 10 < tenths


def split_dev(examples: list[Example], tenths: int) -> tuple[list[Example], list[Example]]:
    """The fixed split used when a dev_holdout task's train file is absent: (training part, held-out part)."""
    held = [e for e in examples if is_held_out(e.id, tenths)]
    return [e for e in examples if not is_held_out(e.id, tenths)], held


def protocol(task: Task, train_name: str | None, dev: TaskFile, held: int = 0) -> str:
    """How a task's train and dev examples were drawn, as the sidecar and the reports say it."""
    if train_name is not None:
        return f"standard: train on {train_name}, evaluate on all of {dev.path.name}"
    n, t = len(dev.examples), task.dev_holdout
    return (f"{dev.path.stem} split: train on rows with int(id,16)%10>={t} ({n - held:,} pairs), "
            f"evaluate on held-out rows with int(id,16)%10<{t} ({held:,} pairs)")


def load_task(root: Path | None, task: Task, need_train: bool = True) -> tuple[list, list, str, dict]:
    """(train, dev, protocol, dropped) of one task; without its train file a dev_holdout task splits its dev file."""
    dev_path = task_file(root, task, "dev")
    if dev_path is None:
        raise DataError(f"task {task.key}: dev file {task.files.get('dev')!r} not found in {root}"
                        + (f" or beside {task.spec}" if task.spec else ""))
    dev = read_task_file(dev_path, task, labelled=True)
    train_path, dropped = task_file(root, task, "train"), {dev_path.name: dev.dropped}
    if train_path is not None:
        train = read_task_file(train_path, task, labelled=True) if need_train else None
        if train is not None:
            dropped[train_path.name] = train.dropped
        return (train.examples if train else []), dev.examples, protocol(task, train_path.name, dev), dropped
    if not task.dev_holdout:
        raise DataError(f"task {task.key}: train file {task.files.get('train')!r} not found in {root}")
    train_part, held = split_dev(dev.examples, task.dev_holdout)
    return train_part, held, protocol(task, None, dev, len(held)), dropped


def load_tasks(data_dir: str | Path | None = None, tasks=None, need_train: bool = True) -> TaskData:
    """Every task's examples: the three built-ins and any added ones (minbert.tasks.model_tasks)."""
    root = find_data_dir(data_dir)
    ts = model_tasks(tasks or ())
    train, dev, notes, dropped = {}, {}, {}, {}
    for t in ts:
        train[t.key], dev[t.key], notes[t.key], d = load_task(root, t, need_train)
        dropped.update(d)
    return TaskData(ts, train, dev, notes, dropped)


def main(argv: list[str] | None = None) -> int:
    from minbert.data.fetch import main as fetch_main
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "fetch":
        print("usage: python -m minbert.data fetch [--source URL-or-folder] [--dest data/]", file=sys.stderr)
        return 2
    return fetch_main(argv[1:])

