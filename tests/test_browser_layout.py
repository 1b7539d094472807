"""The studio's layout in a real browser (issue 30): tables fit a 1440 px window, and on a 390 px phone every tab
loads with its rows stacked and no title over another. Each tab is measured after its default action
(tests.screenshots.default_action), as a user would see it."""
import pytest

from analysis.studio.errors_view import MISCLASSIFIED_COLUMNS
from tests.app_server import AppServer
from tests.screenshots import NARROW, TABS, WIDE, default_action, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABLE_TABS = {"Embeddings", "Errors & imbalance", "Behaviour", "Compare", "Training"}  # a table after the action

HEADER_RIGHTS = """() => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) th[role=columnheader]')]
    .filter(th => th.offsetParent !== null)
    .map(th => ({text: th.innerText.trim(), right: th.getBoundingClientRect().right, window: window.innerWidth}))"""

# every visible heading, block label, Plotly title and subplot title of the page header and the open tab
TITLE_BOXES = """() => {
  const scope = [...document.querySelectorAll('[role=tabpanel]:not([hidden])')].filter(p => p.offsetParent);
  const sel = 'h1, h2, h3, h4, [data-testid=block-info], .gtitle, .annotation-text';
  const els = [...document.querySelectorAll('h1'), ...scope.flatMap(p => [...p.querySelectorAll(sel)])];
  return els.map(e => ({text: (e.textContent || '').trim().slice(0, 60), r: e.getBoundingClientRect(),
                        visible: e.checkVisibility ? e.checkVisibility() : e.offsetParent !== null}))
    .filter(b => b.visible && b.text && b.r.width > 1 && b.r.height > 1)
    .map(b => ({text: b.text, x0: b.r.left, x1: b.r.right, y0: b.r.top + window.scrollY, y1: b.r.bottom + window.scrollY}));
}"""

# rows of the open tab whose visible children do not all start at the same x: side by side, not stacked
UNSTACKED_ROWS = """() => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) .row')]
  .filter(r => r.offsetParent !== null)
  .map(r => [...r.children].filter(c => c.offsetParent !== null && c.getBoundingClientRect().width > 0)
                           .map(c => Math.round(c.getBoundingClientRect().left)))
  .filter(lefts => new Set(lefts).size > 1)"""

SLACK = 2  # px: boxes may touch (line heights round), not overlap


@pytest.fixture(scope="module")
def server():
    with AppServer(timeout=600) as s:
        yield s


@pytest.fixture(scope="module")
def wide(browser, server):
    pg = open_page(browser, server.url, WIDE)
    yield pg
    pg.close()


@pytest.fixture(scope="module")
def narrow(browser, server):
    pg = open_page(browser, server.url, NARROW)
    yield pg
    pg.close()


def overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap by more than SLACK px in both directions."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            dy = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
            if dx > SLACK and dy > SLACK:
                out.append((a["text"], b["text"]))
    return out


def test_overlap_finder_finds_an_overlap():
    box = dict(text="a", x0=0, x1=100, y0=0, y1=20)
    assert overlaps([box, dict(box, text="b", x0=50, x1=150)]) == [("a", "b")]
    assert overlaps([box, dict(box, text="c", y0=20, y1=40)]) == []  # touching is not overlapping


@pytest.mark.parametrize("tab", TABS)
def test_every_table_header_fits_at_1440(wide, tab):
    default_action(wide, tab)
    cells = wide.evaluate(HEADER_RIGHTS)
    if tab in TABLE_TABS:
        assert cells, f"{tab}: expected a table after the default action"
    beyond = [c["text"] for c in cells if c["right"] > c["window"] + 0.5]
    assert not beyond, f"{tab}: header cells beyond the window's right edge ({cells[0]['window']} px): {beyond}"


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_on_a_phone_stacks_and_no_title_overlaps(narrow, tab):
    panel = default_action(narrow, tab)
    assert panel.is_visible()
    assert narrow.evaluate("document.documentElement.scrollWidth") <= NARROW[0] + 1, f"{tab}: the page scrolls sideways"
    assert not narrow.evaluate(UNSTACKED_ROWS), f"{tab}: a row keeps its children side by side at {NARROW[0]} px"
    boxes = narrow.evaluate(TITLE_BOXES)
    assert len(boxes) >= 2, f"{tab}: found no titles to check"
    assert not overlaps(boxes), f"{tab}: overlapping titles at {NARROW[0]} px: {overlaps(boxes)}"


CELL_CENTRE = """([row, col]) => {  // screen centre of one cell of the SST-5 confusion heatmap (rows: gold, top down)
  const gd = document.querySelector('#confusion-plot .js-plotly-plot');
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect(), n = gd.data[0].y.length;  // y: the class names
  return {x: r.left + (col + 0.5) * r.width / n, y: r.top + (row + 0.5) * r.height / n};
}"""


def test_a_confusion_cell_click_filters_the_misclassified_table(wide):
    """Linked views: clicking (gold negative, predicted neutral) leaves only those rows in the table below."""
    from playwright.sync_api import expect
    panel = default_action(wide, "Errors & imbalance")
    plot = panel.locator("#confusion-plot .js-plotly-plot")
    plot.scroll_into_view_if_needed()
    wide.wait_for_function("() => { const g = document.querySelector('#confusion-plot .js-plotly-plot');"
                           " return g && g.dataset.linked === '1'; }", timeout=30_000)
    at = wide.evaluate(CELL_CENTRE, [0, 2])
    wide.mouse.click(at["x"], at["y"])
    expect(panel.get_by_label("Gold class").last).to_have_value("negative", timeout=30_000)
    expect(panel.get_by_label("Predicted class").last).to_have_value("neutral", timeout=30_000)
    wide.wait_for_timeout(2000)  # the table follows its filters
    block = panel.locator(".block").filter(has=wide.locator("th", has_text="confidence")).last
    block.scroll_into_view_if_needed()  # the table draws its rows (virtualised) once it is in view
    wide.wait_for_timeout(1000)
    rows = [[c.strip() for c in r.locator(".body-cell").all_inner_texts()]  # Gradio's virtual rows, not <tr>
            for r in block.locator(".virtual-row").all()]
    rows = [r for r in rows if len(r) == len(MISCLASSIFIED_COLUMNS)]
    golds, preds = [r[0] for r in rows], [r[1] for r in rows]
    assert golds and set(golds) == {"negative"}, golds[:5]
    assert set(preds) == {"neutral"}, preds[:5]
