"""Labels written as words in the user's files: "somewhat negative", "Neg", "duplicate", "yes" -> the class
number the task's files use. Class names come from the task (minbert.tasks); the aliases are the common short and
long forms people write for a class name, so any task whose classes have these names gets them. Matching ignores
case and treats `_`, `-` and repeated spaces as one space."""
from __future__ import annotations

import re

ALIASES = {  # class name -> other names people write for it
    "negative": ("very negative", "neg", "strongly negative", "most negative", "--"),
    "somewhat negative": ("slightly negative", "weakly negative", "mostly negative", "somewhat neg", "-"),
    "neutral": ("neu", "neither", "neither positive nor negative"),
    "somewhat positive": ("slightly positive", "weakly positive", "mostly positive", "somewhat pos", "+"),
    "positive": ("very positive", "pos", "strongly positive", "most positive", "++"),
    "not duplicate": ("not a duplicate", "non duplicate", "no", "false", "not paraphrase", "not a paraphrase",
                      "different", "n", "f"),
    "duplicate": ("is duplicate", "dup", "yes", "true", "paraphrase", "same", "y", "t"),
}
SIGNS = ("-", "--", "+", "++")  # aliases kept as written (normalising would empty them)


def _norm(word: str) -> str:
    return word.strip() if word.strip() in SIGNS else re.sub(r"[\s_\-]+", " ", word.strip().lower())


def words(task) -> dict[str, int]:
    """Every name of every class of a classes task (its own and the aliases of those names) -> class number."""
    out = {}
    for number, name in enumerate(task.classes or ()):
        for word in (name, *ALIASES.get(_norm(name), ())):
            out.setdefault(_norm(word), number)
    return out


def as_number(raw: str, task) -> str:
    """The raw label as minbert.data.parse_label reads it: a class word becomes its number, anything else
    is returned unchanged (numbers, and words no table knows, which parse_label then reports)."""
    number = words(task).get(_norm(raw)) if task.classes else None
    return raw if number is None else str(number)


def known(task) -> str:
    """The class names a message can suggest, in class order (and yes/no where the classes take them)."""
    if not task.classes:
        return ""
    table = words(task)
    return ", ".join(task.classes) + (", yes/no, true/false" if {"yes", "no", "true", "false"} <= set(table) else "")
