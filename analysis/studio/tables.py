"""Column widths that keep a table inside the window: each column gets a share of the width in proportion to its
longest cell (capped, so one long sentence cannot push the others off screen), and never less than its header's
longest word with room for the cell's padding, so a header does not break inside a word; long text wraps."""
from __future__ import annotations

MIN_CHARS, MAX_CHARS = 6, 48  # a column is sized as if its longest cell were within these many characters
HEADER_ROOM = 6  # characters beside a header's longest word: the cell's padding, and bold type is wider


def widths(headers: list[str], rows: list[list] | None = None) -> list[str]:
    """Percentages for gr.Dataframe(column_widths=...), summing to 100%."""
    rows = rows or []
    sizes = []
    for j, h in enumerate(headers):
        header = max((len(w) for w in str(h).split()), default=0) + HEADER_ROOM
        longest = max([0] + [len(str(r[j])) for r in rows if j < len(r)])
        sizes.append(max(header, min(max(longest, MIN_CHARS), MAX_CHARS)))
    total = sum(sizes) or 1
    return [f"{100 * s / total:.1f}%" for s in sizes]
