"""The three tasks, defined once: key, names, classes and metric. Every module and view reads them from here."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    key: str  # "sst", "para", "sts": data files, metrics, checkpoints and heads are keyed by it
    name: str  # the data set, as tables and figures title it
    skill: str  # what the head predicts, as users ask for it (`python -m minbert.predict --task`)
    classes: tuple[str, ...] | None  # label names in label order; None for a regression
    metric: str  # the dev metric the task is scored by, a key of evaluate_model's results
    metric_name: str

    @property
    def title(self) -> str:
        """"SST-5 accuracy": the name and metric, as axes and summaries label a score."""
        return f"{self.name} {self.metric_name}"


SST = Task("sst", "SST-5", "sentiment", ("negative", "somewhat negative", "neutral", "somewhat positive", "positive"),
           "sst_acc", "accuracy")
PARA = Task("para", "Quora", "paraphrase", ("not duplicate", "duplicate"), "para_acc", "accuracy")
STS = Task("sts", "STS-B", "similarity", None, "sts_pearson", "Pearson r")

TASKS: dict[str, Task] = {t.key: t for t in (SST, PARA, STS)}
TASK_KEYS = tuple(TASKS)  # ("sst", "para", "sts"): the order of every table
BY_SKILL = {t.skill: t for t in TASKS.values()}
SST_CLASSES = SST.classes  # negative -> positive: the order of the sentiment scale
PARA_CLASSES = PARA.classes
