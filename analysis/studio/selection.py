"""The one selected example every view shares (like LIT's selected datapoint), and the history Back and Forward walk.

A click on a dev-map point or on a row of a table of examples (the map's neighbours, the misclassified dev examples,
the Compare tab's flips, the Behaviour tab's cases, the misclassified rows of the user's own file) becomes a Selected:
plain data, its task by key. app.py opens it in that task's tab; nothing here imports gradio.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, replace

import numpy as np

from analysis import embedding_map
from analysis.results import DevResults
from analysis.studio import behaviour_view, file_eval
from minbert.tasks import TaskSpecError, by_name

MAX_HISTORY = 50  # selections Back can return to
SHORT = 140  # characters of a sentence the chip shows
SOURCES = {"map": "the dev map", "neighbours": "the map's nearest neighbours", "slice": "a slice of the dev map",
           "misclassified": "misclassified dev examples", "flips": "the Compare tab's flips",
           "behaviour": "a Behaviour case", "file": "your file"}
NOTHING = ("<span class='v'>Selected:</span> nothing yet. Click a point on the Embeddings tab's dev map, or a row of "
           "a table of examples (Embeddings, Errors & imbalance, Behaviour, Compare), to open it in its task's tab.")
NOT_FOUND = "That click selects nothing: it names no example of this checkpoint's results."
NO_TEXT = "Its text is not on this machine (the task data is missing), so it cannot be run"
CHIP_CSS = (".chip { border: 1px solid #2e86c1; border-radius: 8px; background: #eef5fb; padding: 6px 10px; "
            "overflow-wrap: anywhere; line-height: 1.45; } .chip, .chip * { font-size: 14px; } "
            ".chip code { font-size: 13px; } .chip .v { font-weight: 600; }")  # gr.HTML's css_template
MAPS = ("finetuned", "base")  # the dev maps a click comes from (analysis.embedding_map's `which`)


@dataclass(frozen=True)
class Selected:
    """One example as every view reads it."""
    task: str  # task key
    id: str  # the dev example's id, the line of the user's file, or the Behaviour test's name
    text: str | None  # None: the text is not on this machine
    text2: str | None = None  # a pair task's second sentence
    gold: str | None = None  # as people read it: a class name or a score; None for a Behaviour case
    pred: str | None = None  # the stored prediction where the source has one
    source: str = "map"  # a key of SOURCES
    task_name: str = ""  # the task as people read it ("SST-5")

    @property
    def runnable(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class History:
    """The selections in order and the one shown; `opened` counts openings, so each one (also Back to the same
    example) reaches the task tab as a new value and runs it again."""
    items: tuple[Selected, ...] = ()
    at: int = -1
    opened: int = 0
    limit: int = MAX_HISTORY

    @property
    def current(self) -> Selected | None:
        return self.items[self.at] if self.items else None

    @property
    def can_back(self) -> bool:
        return self.at > 0

    @property
    def can_forward(self) -> bool:
        return self.at < len(self.items) - 1

    def push(self, sel: Selected | None) -> "History":
        """Select `sel`: what was ahead of the current one (after Back) is dropped, the oldest beyond `limit` too;
        the same example again is opened again but not listed twice."""
        if sel is None:
            return self
        if sel == self.current:
            return replace(self, opened=self.opened + 1)
        items = (self.items[:self.at + 1] + (sel,))[-self.limit:]
        return replace(self, items=items, at=len(items) - 1, opened=self.opened + 1)

    def back(self) -> "History":
        return replace(self, at=self.at - 1, opened=self.opened + 1) if self.can_back else self

    def forward(self) -> "History":
        return replace(self, at=self.at + 1, opened=self.opened + 1) if self.can_forward else self


def chip(history: History | None, note: str = "") -> str:
    """The line above the tabs (HTML): the selected example's task, id, gold label, stored prediction and short text;
    `note`: why the last click selected nothing."""
    sel = history.current if history else None
    extra = f"<br>⚠️ {html.escape(note)}" if note else ""
    if sel is None:
        return f"<div class='chip'>{NOTHING}{extra}</div>"
    what = "test" if sel.source == "behaviour" else "id"
    parts = [f"<span class='v'>Selected:</span> {html.escape(sel.task_name or sel.task)}",
             f"{what} <code>{html.escape(sel.id)}</code>"]
    parts += [f"{k} <span class='v'>{html.escape(v)}</span>"
              for k, v in (("gold", sel.gold), ("stored prediction", sel.pred)) if v]
    parts.append(f"from {SOURCES.get(sel.source, sel.source)} ({history.at + 1} of {len(history.items)})")
    if sel.runnable:
        text = " ⟷ ".join(f"“{html.escape(_short(t))}”" for t in (sel.text, sel.text2) if t is not None)
    else:
        text = f"⚠️ {NO_TEXT}."
    return f"<div class='chip'>{' · '.join(parts)}<br>{text}{extra}</div>"


def _short(text: str) -> str:
    return text if len(text) <= SHORT else text[:SHORT - 1].rstrip() + "…"


class Selector:
    """Turns what the page reports (a map click, a table row) into a Selected, from the studio's dev results and
    tasks; None when it names nothing this checkpoint has."""

    def __init__(self, studio):
        self.studio = studio  # read at each pick: the task data may arrive after start-up

    @property
    def results(self) -> DevResults | None:
        return self.studio.results

    def task(self, name: str):
        """A task of the model by key, skill or name (tables show names), or None."""
        try:
            return by_name(self.studio.tasks.values(), str(name or ""))
        except TaskSpecError:
            return None

    def example(self, results: DevResults | None, key: str, ex_id, source: str) -> Selected | None:
        """A stored example of task `key`: its text(s), gold label and prediction as the dev results hold them."""
        task = self.task(key)
        p = (results.data.get("predictions", {}) if results else {}).get(getattr(task, "key", None))
        if p is None or str(ex_id) not in p["ids"]:
            return None
        n = p["ids"].index(str(ex_id))
        gold, pred, _ = embedding_map._label(task, p, n)  # the map's own reading of a stored label
        return Selected(task.key, str(ex_id), results.text(task.key, str(ex_id), 0),
                        results.text(task.key, str(ex_id), 1) if task.pair else None, gold, pred, source, task.name)

    def dev_row(self, key: str, ex_id, source: str) -> Selected | None:
        return self.example(self.results, key, ex_id, source)

    def map_click(self, payload: str | None) -> Selected | None:
        """A click on a dev map: selection.js reports {"map", "x", "y", "task"} (the point's coordinates and its
        task's name); the point is the nearest of that task's points on that map."""
        try:
            click = json.loads(payload or "")
            which, x, y, task = click["map"], float(click["x"]), float(click["y"]), self.task(click["task"])
        except (ValueError, TypeError, KeyError):
            return None
        if self.results is None or which not in MAPS or task is None:
            return None
        points = self.results.data["map"]["points"]  # [task key, id, k] per point
        idx = [i for i, (k, _, _) in enumerate(points) if k == task.key]
        if not idx:
            return None
        xy = np.asarray(self.results.data["map"][which], float)[idx]  # (n, 2)
        best = idx[int(np.argmin(((xy - (x, y)) ** 2).sum(1)))]
        return self.dev_row(task.key, points[best][1], "map")

    def neighbour(self, row) -> Selected | None:
        """A row of the map's neighbour table (embedding_map.NEIGHBOUR_COLUMNS: task name second, id last)."""
        return self.dev_row(row[1], row[-1], "neighbours") if row and len(row) >= 2 else None

    def slice_row(self, row) -> Selected | None:
        """A row of a dev-map slice's examples (slices.ROW_COLUMNS: task name first, id last)."""
        return self.dev_row(row[0], row[-1], "slice") if row and len(row) >= 2 else None

    def misclassified(self, key: str, row) -> Selected | None:
        """A row of the misclassified dev table (errors_view.MISCLASSIFIED_COLUMNS: id last) of task `key`."""
        return self.dev_row(key, row[-1], "misclassified") if row else None

    def flip(self, key: str, row) -> Selected | None:
        """A row of the Compare tab's flips (compare_view.FLIP_COLUMNS: id, gold, A, B, sentence 1, sentence 2);
        the dev results' reading where they hold the example, else the row's."""
        if not row:
            return None
        found = self.dev_row(key, row[0], "flips")
        task = self.task(key)
        if found is not None or task is None:
            return found
        text = None if row[4] == "(text not loaded)" else str(row[4])
        return Selected(task.key, str(row[0]), text, str(row[5]) if task.pair and text else None, str(row[1]),
                        None, "flips", task.name)

    def behaviour_case(self, test: str, row, column) -> Selected | None:
        """A row of the Behaviour tab's worst cases (behaviour_view.CASE_COLUMNS: a, b, ...) of `test`: for a pair
        task the pair (a, b); for a sentence task the sentence of the column clicked (b unless a was)."""
        beh = self.studio.behaviour or {}
        r = next((x for x in beh.get("finetuned", []) if behaviour_view.label(x) == test), None)
        task = self.task(r["task"]) if r else None
        if task is None or not row or len(row) < 2:
            return None
        a, b = str(row[0]), str(row[1])
        if task.pair:
            return Selected(task.key, test, a, b, source="behaviour", task_name=task.name)
        return Selected(task.key, test, a if column == 0 else b, source="behaviour", task_name=task.name)

    def file_row(self, state: dict | None, row) -> Selected | None:
        """A misclassified row of the user's evaluated file (file_eval.misclassified: id last)."""
        if not state or not row:
            return None
        return self.example(file_eval.as_results(state), state["task"].key, row[-1], "file")

