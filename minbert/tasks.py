"""Tasks as data: a task is a small spec (files, columns, labels, names) plus one of three kinds.

The three built-in tasks are specs in minbert/task_specs/*.yaml; a user's task is a YAML file of the same shape
(`python -m minbert.train --tasks sst,para,sts,tasks/cfimdb.yaml`). Every module asks the task, never its name:
the kind says which head, loss, outputs and metrics a task has; the spec says where its rows are.

Kinds:
    sentence_classes  one sentence -> one of N classes (SST-5, CFIMDB)     accuracy
    pair_classes      two sentences -> yes/no (Quora)                       accuracy
    pair_score        two sentences -> a score in a range (STS-B, 0..5)     Pearson r
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SPEC_DIR = Path(__file__).parent / "task_specs"
KINDS = ("sentence_classes", "pair_classes", "pair_score")
SPLITS = ("train", "dev", "test")


class TaskSpecError(ValueError):
    """A task spec that is missing, malformed or names an unknown kind; the message names the file and field."""


@dataclass(frozen=True)
class Task:
    """One task, as read from its spec file. `key` is the one internal name: data, heads, metrics and checkpoints
    are keyed by it; people see `name`, `skill` and `classes`."""
    key: str  # "sst": lower-case identifier, the prefix of the task's metrics ("sst_acc")
    name: str  # the data set, as tables and figures title it ("SST-5")
    kind: str  # one of KINDS
    skill: str = ""  # what the head predicts, as users ask for it (`minbert.predict --task sentiment`); default key
    classes: tuple[str, ...] | None = None  # label names in label order (classes kinds)
    score_range: tuple[float, float] | None = None  # (low, high) of the gold scores (pair_score)
    files: dict = field(default_factory=dict)  # split -> file name, in the data folder or beside the spec
    columns: tuple[str, ...] = ("sentence",)  # text column(s): one for a sentence task, two for a pair
    label: str | None = "label"  # the gold column of the train and dev files
    phrases: str | None = None  # a treebank file whose labelled phrases --sst-phrases adds to training
    dev_holdout: int = 0  # tenths of the dev file held out for evaluation when the train file is absent
    own_layers: bool = False  # the task runs through its own copy of the top --sst-layers encoder layers
    prediction_column: str = ""  # the CS224N output files' column ("Predicted_Sentiment")
    colors: tuple[str, ...] | None = None  # one colour per class, low -> high; None: the studio's scale
    label_words: dict = field(default_factory=dict)  # class name -> other words a file may write for it ("neg")
    caveat: str | None = None  # what a reader of this task's figures must know (shown wherever they appear)
    spec: str | None = None  # the spec file it was read from

    def __post_init__(self):
        if self.kind not in KINDS:
            raise TaskSpecError(f"task {self.key!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not self.key.isidentifier() or self.key != self.key.lower():
            raise TaskSpecError(f"task key {self.key!r} must be a lower-case identifier (letters, digits, _)")
        if len(self.columns) != (2 if self.pair else 1):
            raise TaskSpecError(f"task {self.key!r}: a {self.kind} task names {2 if self.pair else 1} text column(s), "
                                f"got {list(self.columns)}")
        if self.is_score and (not self.score_range or self.score_range[0] >= self.score_range[1]):
            raise TaskSpecError(f"task {self.key!r}: a pair_score task needs score_range: [low, high]")
        if not self.is_score and (not self.classes or len(self.classes) < 2):
            raise TaskSpecError(f"task {self.key!r}: a {self.kind} task needs classes: [at least two names]")
        if self.kind == "pair_classes" and len(self.classes) != 2:
            raise TaskSpecError(f"task {self.key!r}: pair_classes tasks are yes/no (two classes), "
                                f"got {len(self.classes)}")
        unknown = set(self.label_words) - set(self.classes or ())
        if unknown:
            raise TaskSpecError(f"task {self.key!r}: label_words names {sorted(unknown)}, which are not its classes")
        if set(self.files) - set(SPLITS):
            raise TaskSpecError(f"task {self.key!r}: files has unknown split(s) {sorted(set(self.files) - set(SPLITS))}")

    @property
    def pair(self) -> bool:
        return self.kind != "sentence_classes"

    @property
    def is_score(self) -> bool:
        return self.kind == "pair_score"

    @property
    def num_classes(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def metric(self) -> str:
        """The dev metric the task is scored by, a key of evaluate_model's summary ("sst_acc", "sts_pearson")."""
        return f"{self.key}_pearson" if self.is_score else f"{self.key}_acc"

    @property
    def second_metric(self) -> str:
        """The summary's second figure: Spearman, positive-class F1 (yes/no) or macro-F1."""
        return f"{self.key}_spearman" if self.is_score else f"{self.key}_f1" if self.num_classes == 2 \
            else f"{self.key}_macro_f1"

    @property
    def metric_name(self) -> str:
        return "Pearson r" if self.is_score else "accuracy"

    @property
    def title(self) -> str:
        """"SST-5 accuracy": the name and metric, as axes and summaries label a score."""
        return f"{self.name} {self.metric_name}"

    def unit_score(self, summary: dict) -> float:
        """The task's metric on a 0..1 scale, as the overall score averages it: accuracy, or (r + 1) / 2."""
        value = summary[self.metric]
        return (value + 1) / 2 if self.is_score else value

    def class_of(self, word: str) -> int | None:
        """The class a text label names (a class name or one of its label_words, ignoring case, `_`, `-` and
        repeated spaces), or None."""
        return self._class_words.get(label_word(word))

    @functools.cached_property
    def _class_words(self) -> dict[str, int]:
        out = {}
        for number, name in enumerate(self.classes or ()):
            for word in (name, *self.label_words.get(name, ())):
                out[label_word(word)] = number
        return out

    def to_dict(self) -> dict:
        """The spec as a checkpoint's sidecar stores it (and as from_dict reads it back)."""
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "task spec") -> "Task":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TaskSpecError(f"{where}: unknown field(s) {unknown} (known: {', '.join(sorted(names))})")
        missing = [k for k in ("key", "name", "kind") if not d.get(k)]
        if missing:
            raise TaskSpecError(f"{where}: missing field(s) {missing}")
        d = dict(d)
        for k in ("classes", "score_range", "columns", "colors"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        d["label_words"] = {str(k): tuple(map(str, v)) for k, v in (d.get("label_words") or {}).items()}
        d.setdefault("skill", d["key"])
        d["skill"] = d["skill"] or d["key"]
        try:
            return cls(**d)
        except TypeError as e:
            raise TaskSpecError(f"{where}: {e}") from None


def label_word(text: str) -> str:
    """A label as class_of compares it: lower case, `_`, `-` and runs of spaces as one space ("--" and "+" kept)."""
    w = str(text).strip().lower()
    return w if set(w) <= set("+-") else re.sub(r"[\s_-]+", " ", w).strip()


def read_spec(path: str | Path) -> Task:
    """A task from its YAML (or JSON) spec file."""
    p = Path(path)
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskSpecError(f"{p}: task spec not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise TaskSpecError(f"{p}: cannot read task spec: {e}") from None
    if not isinstance(d, dict):
        raise TaskSpecError(f"{p}: a task spec is a mapping of field: value")
    return Task.from_dict({**d, "spec": str(p)}, where=str(p))


BUILT_IN: dict[str, Task] = {t.key: t for t in (read_spec(SPEC_DIR / f"{k}.yaml") for k in ("sst", "para", "sts"))}
BUILT_IN = {k: dataclasses.replace(t, spec=None) for k, t in BUILT_IN.items()}  # built in: no file to point at
TASKS = BUILT_IN  # the three CS224N tasks, in the order of every table
TASK_KEYS = tuple(TASKS)  # ("sst", "para", "sts")
SST, PARA, STS = TASKS["sst"], TASKS["para"], TASKS["sts"]


def resolve(names) -> tuple[Task, ...]:
    """Tasks from built-in keys and spec files: "sst,para,sts,tasks/cfimdb.yaml" or a list of the same."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out = []
    for n in names:
        if isinstance(n, Task):
            out.append(n)
        elif isinstance(n, dict):
            out.append(Task.from_dict(n))
        elif n in BUILT_IN:
            out.append(BUILT_IN[n])
        elif str(n).endswith((".yaml", ".yml", ".json")):
            out.append(read_spec(n))
        else:
            raise TaskSpecError(f"unknown task {n!r}: a built-in key ({', '.join(BUILT_IN)}) or a task spec file "
                                "(.yaml)")
    keys = [t.key for t in out]
    if len(set(keys)) != len(keys):
        raise TaskSpecError(f"task keys repeat: {keys}")
    return tuple(out)


def model_tasks(tasks) -> tuple[Task, ...]:
    """The tasks a model has heads for: the three built-ins (always, so every checkpoint keeps their tensors), then
    any added task, in the order given."""
    added = [t for t in resolve(tasks) if t.key not in BUILT_IN]
    return tuple(BUILT_IN.values()) + tuple(added)


def by_name(tasks, name: str) -> Task:
    """The task a user names by key, skill or data-set name (case-insensitive), as `--task` takes it."""
    wanted = name.strip().lower()
    for t in tasks:
        if wanted in (t.key, t.skill.lower(), t.name.lower()):
            return t
    raise TaskSpecError(f"unknown task {name!r}; this model has: "
                        + ", ".join(f"{t.skill} ({t.name})" for t in tasks))


def get(task: "str | Task") -> Task:
    """A Task as given, or the built-in task of a key ("sst"); an added task is passed as its Task."""
    if isinstance(task, Task):
        return task
    if task in BUILT_IN:
        return BUILT_IN[task]
    raise TaskSpecError(f"unknown task {task!r}: pass the Task of an added task, or a built-in key "
                        f"({', '.join(BUILT_IN)})")
