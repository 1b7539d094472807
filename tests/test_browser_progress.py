"""Feedback where the user looks: a long job's progress bar, and a waiting job's queue position, show at the button
that started it (inside the window, with a height), at 1440 px and at 390 px. Before, a 3,000-row file evaluation
held its progress text in an empty Markdown 0 px high, and the Attention tab's queue position sat on hidden plots."""
import re

import pandas as pd
import pytest

from tests.screenshots import NARROW, WIDE, open_page, open_tab
from tests.test_browser import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = 3_000  # about a minute of work on 2 shared cores: long enough to look at its progress twice
WAIT_MS = 600_000  # a loaded machine (shared CPUs) can take minutes to start a job

# The visible tab's status trackers showing text that matches `pattern`, each with the box of the deepest element
# holding that text, of its progress bar and of the block it sits on, and whether that text is what the page really
# shows at its centre (document.elementFromPoint): text in a 0 px block is clipped away, though it has a box.
TRACKERS = """(pattern) => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) [data-testid=status-tracker]')]
  .filter(t => !t.classList.contains('hide') && t.offsetParent !== null && new RegExp(pattern).test(t.innerText))
  .map(t => {
    const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; };
    const text = [t, ...t.querySelectorAll('*')].filter(e => new RegExp(pattern).test(e.innerText || '')).pop();
    const r = text.getBoundingClientRect();
    const seen = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {text: t.innerText.replace(/\\s+/g, ' ').trim(), box: box(text), block: box(t.closest('.block')),
            bar: box(t.querySelector('.progress-level, .progress-bar-wrap')), shown: !!seen && t.contains(seen),
            window: {width: innerWidth, height: innerHeight}};
  })"""


def in_view(box: dict | None, window: dict) -> bool:
    return bool(box) and box["height"] > 4 and box["top"] >= 0 and box["bottom"] <= window["height"] \
        and box["left"] >= 0 and box["right"] <= window["width"] + 1


def seen(page, pattern: str, bar: bool) -> dict:
    """Wait until a status tracker in the open tab shows `pattern` (a regex) and return it: that text must be inside
    the window, on a block with a height, and what the page shows there; so must its progress bar where `bar`."""
    page.wait_for_function(f"p => ({TRACKERS})(p).length > 0", arg=pattern, timeout=WAIT_MS, polling=250)
    tracker = page.evaluate(TRACKERS, pattern)[0]
    assert tracker["shown"] and in_view(tracker["box"], tracker["window"]), tracker
    assert in_view(tracker["block"], tracker["window"]), tracker
    if bar:
        assert in_view(tracker["bar"], tracker["window"]), tracker
    return tracker


@pytest.fixture(scope="module")
def labelled_file(data_dir, tmp_path_factory):
    """ROWS SST training sentences with their gold labels, as a user's CSV."""
    sst = pd.read_csv(data_dir / "ids-sst-train.csv", sep="\t").head(ROWS)
    assert len(sst) == ROWS
    path = tmp_path_factory.mktemp("own") / "reviews.csv"
    pd.DataFrame({"sentence": sst["sentence"].str.strip(), "label": sst["sentiment"]}).to_csv(path, index=False)
    return path


def file_ready(page, path):
    panel = open_tab(page, "Errors & imbalance")
    panel.get_by_text("Evaluate your own labelled file").first.click()
    panel.locator(".block", has_text="Labelled file").last.locator("input[type=file]").set_input_files(str(path))
    panel.get_by_text(path.name).first.wait_for(timeout=60_000)
    return panel


def test_progress_and_queue_position_in_view(browser, live_app, labelled_file):
    wide, narrow = open_page(browser, live_app.url, WIDE), open_page(browser, live_app.url, NARROW)
    try:
        wide_panel, narrow_panel = file_ready(wide, labelled_file), file_ready(narrow, labelled_file)
        wide_panel.get_by_role("button", name="Evaluate file").click()
        seen(wide, rf"[\d,]+ / {ROWS:,} rows", bar=True)  # the bar and its "256 / 3,000 rows" under the button
        wide.screenshot(path=str(SHOTS / "progress-file-1440.png"))

        narrow_panel.get_by_role("button", name="Evaluate file").click()  # behind the first: its place in the queue
        seen(narrow, r"queue: \d+/\d+", bar=False)
        narrow.screenshot(path=str(SHOTS / "progress-queue-390.png"))

        # a heavy job whose outputs (plots) are hidden before its first run waits in view too
        attention = open_tab(wide, "Attention")
        attention.locator(".gallery-item, tr.tr-body").first.click()
        wide.wait_for_timeout(500)
        attention.get_by_role("button", name="Show attention").click()
        seen(wide, r"queue: \d+/\d+", bar=False)
        wide.screenshot(path=str(SHOTS / "progress-queue-1440.png"))

        seen(narrow, rf"[\d,]+ / {ROWS:,} rows", bar=True)  # the second file's turn: its bar at 390 px
        narrow.screenshot(path=str(SHOTS / "progress-file-390.png"))
        narrow_panel.get_by_text(f"{ROWS:,} rows evaluated").first.wait_for(timeout=WAIT_MS)
        attention.get_by_text("tokens").first.wait_for(timeout=WAIT_MS)  # the queue drained: nothing left behind
    finally:
        wide.close()
        narrow.close()
