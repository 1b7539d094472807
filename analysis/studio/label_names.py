"""Labels written as words in the user's files: "somewhat negative", "Neg", "duplicate", "yes" -> the class
number the task's files use. Class names come from minbert.tasks; the aliases are the common short and long
forms people write. Matching ignores case and treats `_`, `-` and repeated spaces as one space."""
from __future__ import annotations

import re

from minbert.tasks import PARA, SST

_SST_ALIASES = (  # class number -> other names for it (the names in SST.classes are added below)
    ("very negative", "neg", "strongly negative", "most negative", "--"),
    ("slightly negative", "weakly negative", "mostly negative", "somewhat neg", "-"),
    ("neu", "neither", "neither positive nor negative"),
    ("slightly positive", "weakly positive", "mostly positive", "somewhat pos", "+"),
    ("very positive", "pos", "strongly positive", "most positive", "++"),
)
_PARA_ALIASES = (
    ("not a duplicate", "non duplicate", "no", "false", "not paraphrase", "not a paraphrase", "different", "n", "f"),
    ("is duplicate", "dup", "yes", "true", "paraphrase", "same", "y", "t"),
)


def _norm(word: str) -> str:
    return re.sub(r"[\s_\-]+", " ", word.strip().lower()) if word.strip() not in ("-", "--", "+", "++") else word.strip()


def _table(classes: tuple[str, ...], aliases: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    out = {}
    for number, (name, more) in enumerate(zip(classes, aliases)):
        for word in (name, *more):
            out[_norm(word)] = number
    return out


WORDS = {"sst": _table(SST.classes, _SST_ALIASES), "quora": _table(PARA.classes, _PARA_ALIASES)}  # kind -> word -> class


def as_number(raw: str, kind: str) -> str:
    """The raw label as minbert.data.parse_label reads it: a class word becomes its number, anything else
    is returned unchanged (numbers, and words no table knows, which parse_label then reports)."""
    table = WORDS.get(kind)
    if not table:
        return raw
    number = table.get(_norm(raw))
    return raw if number is None else str(number)


def known(kind: str) -> str:
    """The class names a message can suggest, in class order."""
    return {"sst": ", ".join(SST.classes), "quora": ", ".join(PARA.classes) + ", yes/no, true/false"}.get(kind, "")
