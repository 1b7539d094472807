"""One selected example, followed by every view (analysis/studio/selection.py), in a real browser: a click on a dev-map
point and one on a misclassified row each open their example in its task's tab, filled in and run (prediction, and
for a sentence the token attributions), with the chip above the tabs naming it; Back returns to the first. Without
task data a click selects the id and says the text is missing. Screenshots at 1440 and 390 px go to screenshots/."""
import html
import re

import pytest

from tests.app_server import ROOT, AppServer
from tests.screenshots import NARROW, WIDE, open_page, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "screenshots"

# the screen position of one point of the fine-tuned dev map (from the axes' ranges and the plot area), and what
# Plotly reports when it is clicked (its hover data: the wrapped sentence, the task name)
POINT_AT = """(i) => {
  const gd = document.querySelector('#dev-map-finetuned .js-plotly-plot');
  const t = gd._fullData.find(d => d.customdata && d.customdata.length > i);  // x, y decoded (the figure sends base64)
  const xa = gd._fullLayout.xaxis.range, ya = gd._fullLayout.yaxis.range;
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
  window.clickedPoint = null;
  if (!gd.dataset.watched) {
    gd.dataset.watched = '1';
    gd.on('plotly_click', (ev) => { window.clickedPoint = ev.points[0].customdata; });
  }
  return {x: r.left + (t.x[i] - xa[0]) / (xa[1] - xa[0]) * r.width,
          y: r.bottom - (t.y[i] - ya[0]) / (ya[1] - ya[0]) * r.height};
}"""
MAP_READY = """() => { const g = document.querySelector('#dev-map-finetuned .js-plotly-plot');
  return g && g.dataset.selects === '1' && (g.data || []).some(t => (t.customdata || []).length); }"""


def plain(text: str) -> str:
    """A sentence as compared here: the map's hover text is wrapped (<br>) and HTML-escaped; spaces are collapsed."""
    return re.sub(r"\s+", " ", html.unescape(text.replace("<br>", " "))).strip()


def table_of(panel, header: str):
    """The Dataframes (their innermost blocks) with a column header containing `header`."""
    return panel.locator("th", has_text=header).locator("xpath=ancestor::div[contains(@class, 'block')][1]")


def chip(page) -> str:
    return page.locator("#selection-chip").inner_text()


def click_map_point(page, i: int = 0) -> list:
    """Click point i of the fine-tuned map's first trace; returns the hover data Plotly reported for the click."""
    panel = open_tab(page, "Embeddings")
    page.wait_for_function(MAP_READY, timeout=120_000)
    page.wait_for_timeout(1500)  # the page's second draw of the maps (on load) has landed
    panel.locator("#dev-map-finetuned").scroll_into_view_if_needed()
    at = page.evaluate(POINT_AT, i)
    page.mouse.move(at["x"], at["y"])
    page.wait_for_timeout(300)
    page.mouse.click(at["x"], at["y"])
    page.wait_for_function("() => window.clickedPoint", timeout=30_000)
    return page.evaluate("() => window.clickedPoint")


def click_misclassified_row(page, task_name: str) -> list[str]:
    """Show the misclassified dev examples of `task_name` and click the first row's sentence; returns its cells."""
    panel = open_tab(page, "Errors & imbalance")
    panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    panel.get_by_label(task_name, exact=True).first.check()
    page.wait_for_timeout(3000)  # the table follows the task
    block = table_of(panel, "confidence").last
    block.scroll_into_view_if_needed()  # the table draws its rows (virtualised) once it is in view
    page.wait_for_timeout(1000)
    row = block.locator(".virtual-row").filter(has=page.locator(".body-cell")).first
    cells = [c.strip() for c in row.locator(".body-cell").all_inner_texts()]
    row.locator(".body-cell").nth(3).click()  # the text column
    return cells


def expect_tab(page, name: str):
    from playwright.sync_api import expect
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true", timeout=60_000)
    return page.locator("[role=tabpanel]:visible").first


def test_map_point_then_misclassified_row_open_in_their_tabs_and_back_returns(browser, live_app, data_dir):
    from playwright.sync_api import expect
    page = open_page(browser, live_app.url, WIDE)
    assert "nothing yet" in chip(page)
    point = click_map_point(page)
    text, task = plain(point[0]), point[1]
    assert task == "SST-5"  # the map opens on its first task
    panel = expect_tab(page, "Sentiment")
    box = panel.locator("textarea").first
    expect(box).to_have_value(re.compile(r"\S"), timeout=60_000)
    assert plain(box.input_value()).startswith(text.rstrip(".…"))  # the hover shows at most six lines
    panel.get_by_text("Predicted:").first.wait_for(timeout=120_000)
    panel.get_by_text("integrated gradients").first.wait_for(timeout=180_000)  # the attributions ran too
    first_chip, first_text = chip(page), box.input_value()
    assert "SST-5" in first_chip and "from the dev map" in first_chip and first_text[:40] in first_chip
    page.screenshot(path=str(SHOTS / "selection-map-1440.png"), full_page=True)

    cells = click_misclassified_row(page, "Quora")
    panel = expect_tab(page, "Paraphrase")
    expect(page.locator("#selection-chip")).to_contain_text(cells[-1], timeout=60_000)  # the row's id
    s1, s2 = panel.locator("textarea").nth(0), panel.locator("textarea").nth(1)
    expect(s1).not_to_have_value("", timeout=60_000)
    left, right = cells[3].split("⟷")
    assert plain(s1.input_value()) == plain(left) and plain(s2.input_value()) == plain(right)
    panel.get_by_text("P(paraphrase)").first.wait_for(timeout=120_000)
    assert f"gold {cells[0]}" in chip(page) and "Quora" in chip(page)
    attention = open_tab(page, "Attention")
    assert attention.locator("textarea").nth(0).input_value() == s1.input_value()  # one click from its attention
    page.screenshot(path=str(SHOTS / "selection-row-1440.png"), full_page=True)

    page.locator("#selection-back").click()
    panel = expect_tab(page, "Sentiment")
    expect(page.locator("#selection-chip")).to_contain_text("from the dev map", timeout=60_000)
    assert chip(page) == first_chip.replace("(1 of 1)", "(1 of 2)")
    expect(panel.locator("textarea").first).to_have_value(first_text, timeout=60_000)
    expect(page.locator("#selection-forward")).to_be_enabled()
    page.close()


def test_on_a_phone_the_chip_fits_and_a_row_opens(browser, live_app, data_dir):
    from playwright.sync_api import expect
    page = open_page(browser, live_app.url, NARROW)
    cells = click_misclassified_row(page, "SST-5")
    panel = expect_tab(page, "Sentiment")
    expect(page.locator("#selection-chip")).to_contain_text(cells[-1], timeout=60_000)
    panel.get_by_text("Predicted:").first.wait_for(timeout=120_000)
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#selection-chip").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= NARROW[0] + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW[0] + 1  # no sideways page
    page.screenshot(path=str(SHOTS / "selection-row-390.png"), full_page=True)
    page.close()


def test_without_task_data_a_click_selects_the_id_and_says_the_text_is_missing(browser, tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    with AppServer(cwd=clone, drop_env=("MINBERT_DATA",), args=("--precision", "fp32"),
                   extra_env={"MINBERT_OFFLINE": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}) as server:
        page = open_page(browser, server.url, WIDE)
        point = click_map_point(page)
        assert "text needs the task data" in point[0]
        from playwright.sync_api import expect
        expect(page.locator("#selection-chip")).to_contain_text("not on this machine", timeout=60_000)
        ex_id = re.search(r"id (\w+)", point[0]).group(1)
        assert ex_id in chip(page)
        expect_tab(page, "Embeddings")  # nothing to run: the page stays where it was
        page.screenshot(path=str(SHOTS / "selection-no-data-1440.png"), full_page=True)
        page.close()
        assert "Traceback" not in server.log()


def click_first_row(page, panel, header: str, column: int):
    """Click one cell of the first row of the table whose header has `header`; returns the row's cells."""
    block = table_of(panel, header).last
    block.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    row = block.locator(".virtual-row").filter(has=page.locator(".body-cell")).first
    cells = [c.strip() for c in row.locator(".body-cell").all_inner_texts()]
    row.locator(".body-cell").nth(column).click()
    return cells


def test_a_behaviour_case_and_a_compare_flip_open_in_their_tabs(browser, live_app, data_dir):
    from playwright.sync_api import expect
    page = open_page(browser, live_app.url, WIDE)
    panel = open_tab(page, "Behaviour")
    panel.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    test = panel.get_by_label("Test", exact=True).first.input_value()  # the first failing test: a sentiment one
    cells = click_first_row(page, panel, "how badly", 0)  # column a: its first sentence
    panel = expect_tab(page, "Sentiment")
    expect(panel.locator("textarea").first).to_have_value(cells[0], timeout=60_000)
    expect(page.locator("#selection-chip")).to_contain_text(test, timeout=60_000)
    panel.get_by_text("Predicted:").first.wait_for(timeout=120_000)

    panel = open_tab(page, "Compare")
    panel.get_by_role("button", name="Compare", exact=True).click()
    panel.get_by_text("examples: A right and B wrong").first.wait_for(timeout=120_000)
    panel.get_by_label("Quora", exact=True).first.check()
    panel.get_by_text("Quora examples: A right and B wrong").first.wait_for(timeout=60_000)
    cells = click_first_row(page, panel, "sentence 2", 4)
    panel = expect_tab(page, "Paraphrase")
    expect(page.locator("#selection-chip")).to_contain_text(cells[0], timeout=60_000)  # the flip's id
    assert "the Compare tab's flips" in chip(page) and f"gold {cells[1]}" in chip(page)
    expect(panel.locator("textarea").nth(0)).to_have_value(cells[4], timeout=60_000)
    expect(panel.locator("textarea").nth(1)).to_have_value(cells[5], timeout=60_000)
    panel.get_by_text("P(paraphrase)").first.wait_for(timeout=120_000)
    expect(page.locator("#selection-back")).to_be_enabled()
    page.close()


def test_a_misclassified_row_of_ones_own_file_opens_with_its_gold(browser, live_app, tmp_path):
    from playwright.sync_api import expect
    f = tmp_path / "my-reviews.csv"  # labelled against the obvious reading: both rows are misclassified
    f.write_text('sentence,label\n"A gorgeous, witty and deeply moving film.",0\n'
                 '"An utterly dreadful, boring mess.",4\n')
    page = open_page(browser, live_app.url, WIDE)
    panel = open_tab(page, "Errors & imbalance")
    panel.get_by_text("Evaluate your own labelled file").first.click()
    panel.locator(".block", has_text="Labelled file").last.locator("input[type=file]").set_input_files(str(f))
    page.wait_for_timeout(1000)
    panel.get_by_role("button", name="Evaluate file").click()
    panel.get_by_text("2 rows evaluated").first.wait_for(timeout=120_000)
    # the file's misclassified rows: found by the file's own sentence, since the dev set's table (later on the page)
    # has the same columns and, under load, is drawn before the file's views appear
    row = panel.locator(".virtual-row").filter(has_text="deeply moving film").first
    row.scroll_into_view_if_needed(timeout=120_000)
    row.wait_for(timeout=60_000)
    cells = [c.strip() for c in row.locator(".body-cell").all_inner_texts()]
    assert cells[0] in ("negative", "positive"), cells  # the file's gold labels, not a dev row
    row.locator(".body-cell").nth(3).click()
    panel = expect_tab(page, "Sentiment")
    expect(panel.locator("textarea").first).to_have_value(cells[3], timeout=60_000)
    expect(page.locator("#selection-chip")).to_contain_text("from your file", timeout=60_000)
    assert f"gold {cells[0]}" in chip(page) and cells[0] in ("negative", "positive")
    panel.get_by_text("Predicted:").first.wait_for(timeout=120_000)
    page.close()
