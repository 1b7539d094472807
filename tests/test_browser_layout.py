"""The studio's layout in a real browser (issues 30 and 35): tables fit a 1440 px window, and on a 390 px phone every
tab loads with its rows stacked, no title over another, no table cell narrower than its longest word and every
multi-panel plot stacked inside its box; plots never go blank, however often they are replaced (WebGL contexts).
Each tab is measured after its default action (tests.screenshots.default_action), as a user would see it."""
import re

import pytest

from analysis.studio.errors_view import MISCLASSIFIED_COLUMNS
from analysis.studio.page_style import STACK_MAX
from tests.app_server import AppServer
from tests.screenshots import NARROW, TABS, WIDE, default_action, open_page, open_tab

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

# table cells of the open tab (Dataframes, Markdown, example and file tables) whose longest word (whole text where the
# cell does not wrap; a line may end after a hyphen between letters, as in "A-right") is wider than the room the cell
# gives its text: a word or a number broken across lines
WORD_CUTS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const scope = [...document.querySelectorAll('[role=tabpanel]:not([hidden])')].filter(p => p.offsetParent);
  const cells = new Set(scope.flatMap(p => [...p.querySelectorAll('th.header-cell, .body-cell, td, th')]));
  const out = [];
  for (const c of cells) {
    if (!c.offsetParent || c.closest('.sizing-body') || !c.textContent.trim()) continue;
    const text = c.querySelector('span') || c, box = c.querySelector('.cell-wrap') || c;
    const style = getComputedStyle(text), pad = getComputedStyle(box);
    ctx.font = style.font;
    const words = /nowrap|pre/.test(style.whiteSpace) ? [text.textContent.trim()]
      : text.textContent.trim().split(/\\s+|(?<=[^\\s\\d(]-)(?=[^\\d])/);  // a hyphen between letters may end a line
    const longest = Math.max(...words.map(w => ctx.measureText(w).width));
    const room = box.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight);
    if (longest > room + 1) out.push({text: text.textContent.trim().slice(0, 40), longest: Math.round(longest),
                                      room: Math.round(room)});
  }
  return out;
}"""

# every visible plot of the open tab: wider than its box? how many of its panels sit side by side?
PLOT_FIT = """() => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) .js-plotly-plot')]
  .filter(gd => gd.offsetParent !== null && gd.querySelector('.main-svg'))
  .map(gd => {
    const box = (gd.closest('.block') || gd.parentElement).getBoundingClientRect();
    const svg = gd.querySelector('.main-svg').getBoundingClientRect();
    const panels = [...gd.querySelectorAll('.draglayer .nsewdrag')].map(r => r.getBoundingClientRect());
    let beside = 0;
    panels.forEach((a, i) => panels.slice(i + 1).forEach(b => {
      const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (dy > 0.5 * Math.min(a.height, b.height) && (a.right <= b.left + 1 || b.right <= a.left + 1)) beside++;
    }));
    const t = gd.layout && gd.layout.title;
    return {title: String((t && t.text) || t || '').slice(0, 50), wider: svg.width > box.width + 1, panels: panels.length,
            beside};
  })"""


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
    cut = wide.evaluate(WORD_CUTS)  # e.g. "seeds" broken as "se/ed/s" in a narrow column
    assert not cut, f"{tab}: table cells narrower than their longest word at {WIDE[0]} px: {cut[:5]}"


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_on_a_phone_stacks_and_no_title_overlaps(narrow, tab):
    panel = default_action(narrow, tab)
    assert panel.is_visible()
    assert narrow.evaluate("document.documentElement.scrollWidth") <= NARROW[0] + 1, f"{tab}: the page scrolls sideways"
    assert not narrow.evaluate(UNSTACKED_ROWS), f"{tab}: a row keeps its children side by side at {NARROW[0]} px"
    boxes = narrow.evaluate(TITLE_BOXES)
    assert len(boxes) >= 2, f"{tab}: found no titles to check"
    assert not overlaps(boxes), f"{tab}: overlapping titles at {NARROW[0]} px: {overlaps(boxes)}"
    # (f) tables keep every word and number whole (they scroll sideways instead), plots fit with panels stacked
    narrow.wait_for_timeout(1500)  # the page sizes its tables' columns every 0.7 s
    if tab in TABLE_TABS:
        assert narrow.evaluate("() => document.querySelectorAll('[role=tabpanel]:not([hidden]) td, "
                               "[role=tabpanel]:not([hidden]) .body-cell').length"), f"{tab}: expected a table"
    cut = narrow.evaluate(WORD_CUTS)
    assert not cut, f"{tab}: table cells narrower than their longest word at {NARROW[0]} px: {cut[:5]}"
    plots = narrow.evaluate(PLOT_FIT)
    wider = [p["title"] for p in plots if p["wider"]]
    assert not wider, f"{tab}: plots wider than their box at {NARROW[0]} px: {wider}"
    beside = [p["title"] for p in plots if p["beside"] and p["panels"] <= STACK_MAX]
    assert not beside, f"{tab}: multi-panel plots with panels side by side at {NARROW[0]} px: {beside}"


def test_a_table_wider_than_a_phone_says_it_scrolls(narrow):
    """The Training tables are wider than a phone: they scroll sideways, with a "scroll →" hint at the right edge."""
    panel = default_action(narrow, "Training")
    narrow.wait_for_timeout(1500)
    frames = panel.locator(".table-wrap")
    assert frames.count() >= 3
    frame = frames.first
    frame.scroll_into_view_if_needed()
    scroller = frame.locator(".upload-container").first
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth + 10")
    hint = frame.evaluate("e => getComputedStyle(e, '::after').content")
    assert "scroll" in hint and "scroll" in frame.get_attribute("class")
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; e.dispatchEvent(new Event('scroll')); }")
    narrow.wait_for_timeout(300)
    assert "scrolls" not in frame.get_attribute("class").split()  # at the right end the hint goes


CELL_CENTRE = """([id, row, col]) => {  // screen centre of one cell of a confusion heatmap (rows: gold, top down)
  const gd = document.querySelector(`#${id} .js-plotly-plot`);
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect(), n = gd.data[0].y.length;  // y: the class names
  return {x: r.left + (col + 0.5) * r.width / n, y: r.top + (row + 0.5) * r.height / n};
}"""


def click_confusion_cell(page, plot_id: str, row: int, col: int) -> None:
    """Click cell (gold row, predicted col) of the confusion heatmap in #plot_id once the page has linked it."""
    plot = page.locator(f"#{plot_id} .js-plotly-plot")
    plot.wait_for(timeout=60_000)
    plot.scroll_into_view_if_needed()
    page.wait_for_function(f"() => {{ const g = document.querySelector('#{plot_id} .js-plotly-plot');"
                           " return g && g.dataset.linked === '1'; }", timeout=30_000)
    at = page.evaluate(CELL_CENTRE, [plot_id, row, col])
    page.mouse.click(at["x"], at["y"])


def test_a_confusion_cell_click_filters_the_misclassified_table(wide):
    """Linked views: clicking (gold negative, predicted neutral) leaves only those rows in the table below."""
    from playwright.sync_api import expect
    panel = default_action(wide, "Errors & imbalance")
    click_confusion_cell(wide, "confusion-plot", 0, 2)
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


# Counts the page's WebGL contexts as they are created (weakly held: the count never keeps one alive).
WEBGL_WATCH = """(() => {
  const made = [];
  const get = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = get.call(this, type, ...rest);
    if (ctx && /webgl/.test(type) && !made.some(r => r.deref() === ctx)) made.push(new WeakRef(ctx));
    return ctx;
  };
  window.liveWebGL = () => made.map(r => r.deref()).filter(c => c && !c.isContextLost()).length;
})();"""

# every visible plot with data in the open tab, and what it has drawn: SVG marks, and lit pixels on a WebGL canvas
DRAWN = """() => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) .js-plotly-plot')]
  .filter(gd => gd.offsetParent !== null && (gd.data || []).some(t => (t.x || t.y || t.z || []).length))
  .map(gd => {
    const marks = gd.querySelectorAll('.scatterlayer .point, .scatterlayer .js-line, .barlayer .point, '
                                      + '.heatmaplayer image, .hm image').length;
    let lit = 0;
    for (const c of gd.querySelectorAll('canvas.gl-canvas-context')) {
      const copy = document.createElement('canvas');
      copy.width = c.width; copy.height = c.height;
      if (!c.width || !c.height) continue;
      const g = copy.getContext('2d');
      g.drawImage(c, 0, 0);
      const px = g.getImageData(0, 0, copy.width, copy.height).data;
      for (let i = 3; i < px.length; i += 4 * 13) if (px[i] > 0) lit++;
    }
    const t = gd.layout && gd.layout.title;
    return {title: String((t && t.text) || t || '').slice(0, 60), marks, lit,
            webgl: !!gd.querySelector('canvas.gl-canvas-context')};
  })"""

LOST = re.compile(r"too many active webgl contexts|context lost|context_lost", re.I)
COLOURINGS = ["prediction", "correct / incorrect", "task", "gold label"]


def blank_plots(page, where: str) -> list[str]:
    page.wait_for_timeout(1000)  # a replaced figure draws in the next frames
    plots = page.evaluate(DRAWN)
    return [f"{where}: {p['title']!r}" for p in plots if not p["marks"] and not p["lit"]]


def test_plots_never_go_blank_after_many_recolourings(browser, server):
    """(e) The map recoloured 20 times, every tab visited: every plot still has its points, no WebGL context was
    lost, and the page keeps few contexts alive (each figure Gradio replaces is purged)."""
    page = browser.new_page(viewport={"width": WIDE[0], "height": WIDE[1]})
    page.add_init_script(WEBGL_WATCH)
    lost = []
    page.on("console", lambda m: lost.append(m.text) if LOST.search(m.text) else None)
    page.set_default_timeout(120_000)
    page.goto(server.url, wait_until="load", timeout=300_000)
    page.get_by_role("tab", name="Sentiment", exact=True).wait_for(timeout=90_000)
    default_action(page, "Errors & imbalance")
    panel = default_action(page, "Embeddings")
    for name in ("STS-B", "Quora"):  # all three tasks: enough points for WebGL maps
        panel.get_by_role("checkbox", name=re.compile(name)).check()
        page.wait_for_timeout(1500)
    # the "Colour by" group: the innermost block holding its "correct / incorrect" option, which no other tab has
    colour_by = page.locator(".block", has=page.get_by_role("radio", name="correct / incorrect", exact=True)).last
    for i in range(20):
        page.evaluate("() => document.querySelectorAll('.js-plotly-plot').forEach(p => p.dataset.seen = '1')")
        colour_by.get_by_role("radio", name=COLOURINGS[i % len(COLOURINGS)], exact=True).check()
        page.wait_for_function("() => [...document.querySelectorAll('[role=tabpanel]:not([hidden]) .js-plotly-plot')]"
                               ".filter(p => !p.dataset.seen).length >= 2", timeout=120_000)  # both maps redrawn
    assert any(p["webgl"] for p in page.evaluate(DRAWN)), "the maps of all three tasks should draw with WebGL"
    blank = blank_plots(page, "Embeddings")
    for tab in TABS:
        default_action(page, tab)
        blank += blank_plots(page, tab)
    for tab in ("Embeddings", "Errors & imbalance"):  # the first plots drawn, seen again at the end
        open_tab(page, tab)
        blank += blank_plots(page, tab)
    live = page.evaluate("window.liveWebGL()")
    page.close()
    assert not lost, f"lost WebGL contexts: {lost[:3]} ({len(lost)} messages)"
    assert not blank, f"plots with nothing drawn: {blank}"
    assert live <= 4, f"{live} live WebGL contexts; the two WebGL maps need 4 (Plotly's drawing and selection layers)"
