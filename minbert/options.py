"""Declarative options: a dataclass field carries its default, a one-line doc and its choices. The CLI's flags and
--help are built from them, and values from any source (flags, a --config file, a saved config) are checked
against them, so each fact about an option is written once, beside the field."""
from __future__ import annotations

import dataclasses
from dataclasses import field


SET_BY = ("flag", "config", "program")  # a flag and a --config key; a --config key only; neither (set by the code)


def option(default, doc: str, *, choices: tuple | None = None, set_by: str = "flag", per_run: bool = False):
    """A field with its doc. choices: the allowed values; set_by: see SET_BY ("config" keeps --help to the recipe's
    levers); per_run: says how a run is launched, not what it trains (runs differing only there train alike)."""
    if set_by not in SET_BY:
        raise ValueError(f"set_by must be one of {SET_BY}, got {set_by!r}")
    return field(default=default, metadata={"doc": doc, "choices": choices, "set_by": set_by, "per_run": per_run})


def same_option(cls, name: str):
    """Another dataclass's option, with its default, doc and choices (one place for them)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field(default=f.default, metadata=f.metadata)


def check_choices(obj) -> None:
    """ValueError naming the option and its choices where a value is not one of them."""
    for f in dataclasses.fields(obj):
        allowed, value = f.metadata.get("choices"), getattr(obj, f.name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"{f.name} must be one of {', '.join(map(str, allowed))}, got {value!r}")
