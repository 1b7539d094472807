"""A real browser (Debian's Chromium driven by Playwright) opens every tab, runs an example, sees output."""
import re

import pytest

from tests.app_server import ROOT, AppServer
from tests.test_browser_layout import click_confusion_cell

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "screenshots"
SHOTS.mkdir(exist_ok=True)


def open_page(browser, server):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(server.url, wait_until="load")
    pg.get_by_role("tab", name="Sentiment", exact=True).wait_for(timeout=60_000)
    return pg


@pytest.fixture(scope="module")
def page(browser, live_app):
    pg = open_page(browser, live_app)
    yield pg
    pg.close()


def open_tab(page, name):
    tab = page.get_by_role("tab", name=name, exact=True)
    tab.click()
    from playwright.sync_api import expect
    expect(tab).to_have_attribute("aria-selected", "true")
    page.wait_for_timeout(300)


def run_example(page, button, expect_plots=1):
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".gallery-item, tr.tr-body").first.click()  # one-input examples are buttons, pairs table rows
    from playwright.sync_api import expect
    expect(panel.locator("textarea").first).not_to_have_value("", timeout=10_000)  # the example has landed
    page.wait_for_timeout(300)
    panel.get_by_role("button", name=button).click()
    panel.locator(".js-plotly-plot").nth(expect_plots - 1).wait_for(timeout=60_000)
    return panel


@pytest.mark.parametrize("tab,button,text", [
    ("Sentiment", "Predict sentiment", "Predicted:"),
    ("Paraphrase", "Run paraphrase", "P(paraphrase)"),
    ("Similarity", "Run similarity", "Similarity"),
    ("Cross-task", "Run every task", "STS"),
    ("Attention", "Show attention", "tokens"),
])
def test_live_tabs_render(page, tab, button, text):
    open_tab(page, tab)
    panel = run_example(page, button)
    panel.get_by_text(text).first.wait_for(timeout=30_000)
    if tab == "Sentiment":  # the attributions arrive after the probabilities
        panel.get_by_text("integrated gradients").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / f"{tab.lower().replace(' ', '-')}.png"), full_page=True)


@pytest.mark.parametrize("tab", ["Embeddings", "Errors & imbalance", "Training"])
def test_report_tabs_render(page, tab):
    open_tab(page, tab)
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert panel.locator(".js-plotly-plot").count() >= 1
    name = tab.lower().replace(" & ", "-").replace(" ", "-")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_head_importance_and_the_live_mask(page):
    open_tab(page, "Attention")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_text("Pruning curves").first.wait_for(timeout=30_000)  # the precomputed maps and curves
    panel.get_by_label("Text (or sentence 1)").fill("A wonderful, moving film.")
    panel.get_by_label("Heads to remove", exact=False).fill("L5 0.3")
    panel.get_by_role("button", name="Run with these heads removed").click()
    panel.get_by_text("13 heads removed").first.wait_for(timeout=30_000)
    assert panel.locator(".js-plotly-plot").count() >= 3
    page.screenshot(path=str(SHOTS / "attention-heads.png"), full_page=True)


def test_behaviour_tab_and_a_template_of_ones_own(page):
    open_tab(page, "Behaviour")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # failure rates, fine-tuned beside base
    panel.get_by_text("Worst failing cases").first.wait_for(timeout=10_000)
    panel.get_by_label("Template").fill("The {noun} was not {neg_adj}.")
    panel.get_by_role("button", name="Run my test").click()
    panel.get_by_text(re.compile(r"of 120 cases fail \(")).first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "behaviour.png"), full_page=True)


def test_compare_tab_shows_tests_and_flips(page):
    open_tab(page, "Compare")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_role("button", name="Compare", exact=True).click()
    panel.get_by_text("McNemar exact").first.wait_for(timeout=30_000)
    panel.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    panel.get_by_text("examples: A right and B wrong").first.wait_for(timeout=30_000)
    panel.get_by_label("A wrong, B right").check()
    panel.get_by_text("examples: A wrong and B right").first.wait_for(timeout=30_000)
    panel.get_by_text("somewhat positive").nth(5).wait_for(timeout=10_000)  # the flips themselves, with their classes
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def test_empty_input_shows_a_message(page):
    open_tab(page, "Sentiment")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_label("Sentence").fill("   ")
    panel.get_by_role("button", name="Predict sentiment").click()
    panel.get_by_text("it is empty").wait_for(timeout=30_000)


def evaluate_own_file(page, path):
    """Open the Errors tab's own-file accordion, upload `path` and start its evaluation; the tab's panel."""
    open_tab(page, "Errors & imbalance")
    panel = page.locator("[role=tabpanel]:visible").first
    panel.get_by_text("Evaluate your own labelled file").first.click()
    panel.locator(".block", has_text="Labelled file").last.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_timeout(1000)
    panel.get_by_role("button", name="Evaluate file").click()
    return panel


def test_upload_a_labelled_file_in_the_browser(page, tmp_path):
    f = tmp_path / "my-reviews.csv"
    f.write_text('sentence,label\n"A gorgeous, witty film.",4\nA dull and tedious mess.,0\nIt was fine.,2\n,3\n')
    panel = evaluate_own_file(page, f)
    panel.get_by_text("3 rows evaluated").first.wait_for(timeout=60_000)
    panel.get_by_text("line 5").first.wait_for(timeout=10_000)  # the empty sentence, named by its line
    panel.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "own-file.png"), full_page=True)


def download(page, panel, label: str):
    """The path of the file the first gr.File block labelled `label` offers (the own file's come before the dev
    sets' in the Errors tab), once downloaded."""
    name = panel.locator("[data-testid=block-label]", has_text=label).first
    block = name.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' block ')][1]")
    block.scroll_into_view_if_needed()
    with page.expect_download(timeout=60_000) as info:
        block.locator("a").first.click()
    return info.value.path()


def test_an_own_file_confusion_cell_click_filters_its_misclassified_rows(browser, live_app, data_dir, tmp_path):
    """Like the dev matrix: clicking (gold negative, predicted somewhat negative) of the user's file's matrix leaves
    only those rows in the file's misclassified table."""
    import pandas as pd
    from playwright.sync_api import expect
    sst = pd.read_csv(data_dir / "ids-sst-dev.csv", sep="\t").head(300)
    f = tmp_path / "dev-sample.csv"
    pd.DataFrame({"sentence": sst["sentence"].str.strip(), "label": sst["sentiment"]}).to_csv(f, index=False)
    pg = open_page(browser, live_app)
    try:
        panel = evaluate_own_file(pg, f)
        panel.get_by_text("300 rows evaluated").first.wait_for(timeout=120_000)
        click_confusion_cell(pg, "own-confusion-plot", 0, 1)
        expect(panel.get_by_label("Gold class").first).to_have_value("negative", timeout=30_000)
        expect(panel.get_by_label("Predicted class").first).to_have_value("somewhat negative", timeout=30_000)
        pg.wait_for_timeout(2000)  # the table and its CSV follow the filters
        predictions = pd.read_csv(download(pg, panel, "Your file with its predictions"))
        want = predictions[(predictions["label"] == 0) & (predictions["predicted"] == 1)]
        rows = pd.read_csv(download(pg, panel, "These rows as CSV"))
        assert len(want) > 0 and len(rows) == len(want), (len(rows), len(want))
        assert set(rows["gold"]) == {"negative"} and set(rows["predicted"]) == {"somewhat negative"}
    finally:
        pg.close()


MAP_HAS_TEXT = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => (p.data || []).some(
    t => (t.customdata || []).some(c => c && c[0] && !String(c[0]).includes('needs the task data'))))"""
MAP_WITHOUT_TEXT = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => (p.data || []).some(
    t => (t.customdata || []).some(c => c && String(c[0]).includes('needs the task data'))))"""


def fresh_machine_app(tmp_path, source):
    """The app as on a fresh clone: no data folder anywhere it looks, an empty user cache, `source` to fetch from."""
    clone = tmp_path / "clone"
    clone.mkdir()
    return AppServer(cwd=clone, drop_env=("MINBERT_DATA", "MINBERT_OFFLINE"),
                     extra_env={"MINBERT_DATA_SOURCE": str(source), "XDG_CACHE_HOME": str(tmp_path / "cache")})


def test_fresh_machine_fetches_the_data_and_the_map_fills_in(browser, data_dir, tmp_path):
    from tests.data_server import serve_folder
    with serve_folder(data_dir) as url, fresh_machine_app(tmp_path, url) as server:
        pg = open_page(browser, server)
        open_tab(pg, "Embeddings")
        pg.wait_for_function(MAP_HAS_TEXT, timeout=90_000)
        assert (tmp_path / "cache" / "minbert" / "data" / "sts-dev.csv").is_file()
        pg.screenshot(path=str(SHOTS / "embeddings-fetched.png"), full_page=True)
        pg.close()


def test_failed_fetch_still_draws_every_map_with_a_notice(browser, tmp_path):
    empty = tmp_path / "empty-source"
    empty.mkdir()
    with fresh_machine_app(tmp_path, empty) as server:
        pg = open_page(browser, server)
        open_tab(pg, "Embeddings")
        pg.wait_for_function(MAP_WITHOUT_TEXT, timeout=60_000)
        pg.get_by_text("fetching it failed").first.wait_for(timeout=30_000)
        panel = pg.locator("[role=tabpanel]:visible").first
        assert panel.locator(".js-plotly-plot").count() == 2
        panel.get_by_label("correct / incorrect").check()
        pg.wait_for_timeout(1500)
        assert panel.locator(".js-plotly-plot").count() == 2
        pg.screenshot(path=str(SHOTS / "embeddings-no-data.png"), full_page=True)
        pg.close()
